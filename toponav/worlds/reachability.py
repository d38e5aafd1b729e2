"""Start-goal connectivity for a disc robot: grid flood fill over the occupancy inflated by the radius.

Procedural generators call :func:`ensure_reachable`; tests and benchmarks call :func:`is_reachable`
to check any world (including BARN, whose data is never altered).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import ndimage

from toponav.worlds.model import World

#: Grid resolution (m) of the connectivity check.
DEFAULT_RESOLUTION = 0.1


def _cell(world: World, xy: tuple[float, float], resolution: float, shape: tuple[int, int]) -> tuple[int, int]:
    xmin, ymin = world.bounds[0], world.bounds[1]
    col = min(max(math.floor((xy[0] - xmin) / resolution), 0), shape[1] - 1)
    row = min(max(math.floor((xy[1] - ymin) / resolution), 0), shape[0] - 1)
    return row, col


def free_component(world: World, radius: float, resolution: float = DEFAULT_RESOLUTION) -> tuple[np.ndarray, int]:
    """Label grid (rows = y) of free cells for a disc of ``radius`` and the label of the start's component.

    Returns label 0 when the start itself is blocked.
    """
    occ, _ = world.occupancy(resolution, inflate=radius)
    labels, _ = ndimage.label(~occ)  # 4-connected: a robot cannot squeeze diagonally between two cells
    return labels, int(labels[_cell(world, world.start[:2], resolution, occ.shape)])


def is_reachable(world: World, radius: float, resolution: float = DEFAULT_RESOLUTION) -> bool:
    """True when a disc of ``radius`` can travel from ``world.start`` to ``world.goal`` (grid-exact)."""
    labels, start_label = free_component(world, radius, resolution)
    if start_label == 0:
        return False
    return int(labels[_cell(world, world.goal, resolution, labels.shape)]) == start_label


def carve_corridor(world: World, radius: float, margin: float = DEFAULT_RESOLUTION * 2) -> World:
    """Remove every obstacle that comes within ``radius + margin`` of the straight start-goal segment.

    The bounds are convex, so the segment then lies in free space for the disc: connected by construction.
    """
    a = np.asarray(world.start[:2], dtype=np.float64)
    b = np.asarray(world.goal, dtype=np.float64)
    samples = a + np.linspace(0.0, 1.0, max(2, int(np.hypot(*(b - a)) / 0.05) + 1))[:, None] * (b - a)
    keep_c = tuple(c for c in world.circles
                   if _min_dist(replace(world, circles=(c,), boxes=()), samples) > radius + margin)
    keep_b = tuple(bx for bx in world.boxes
                   if _min_dist(replace(world, circles=(), boxes=(bx,)), samples) > radius + margin)
    meta = dict(world.meta, carved=len(world.circles) - len(keep_c) + len(world.boxes) - len(keep_b))
    return replace(world, circles=keep_c, boxes=keep_b, meta=meta)


def _min_dist(single: World, samples: np.ndarray) -> float:
    """Distance from the samples to the only obstacle of ``single`` (bounds ignored)."""
    big = replace(single, bounds=(-1e6, -1e6, 1e6, 1e6))
    return float(big.clearance(samples).min())

"""The exploration boundary: a box or polygon outside which frontiers are no sub-goals (and, for the
optimistic goal distance, no way to the goal), as frontier_exploration's polygon."""

from __future__ import annotations

import math

import numpy as np


def boundary_polygon(values: list[float] | tuple[float, ...]) -> np.ndarray | None:
    """(K, 2) polygon from ``PlannerConfig.boundary`` (box or flat polygon); None when empty."""
    v = [float(x) for x in values]
    if not v:
        return None
    if not all(math.isfinite(x) for x in v):
        raise ValueError(f"boundary has non-finite values: {v}")
    if len(v) == 4:
        x0, y0, x1, y1 = v
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"boundary box needs xmin < xmax and ymin < ymax, got {v}")
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if len(v) < 6 or len(v) % 2:
        raise ValueError(f"boundary needs 4 values (box) or >= 3 x/y pairs (polygon), got {len(v)} values")
    return np.asarray(v, dtype=np.float64).reshape(-1, 2)


def inside_polygon(xy: np.ndarray, poly: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Which points lie inside ``poly`` (even-odd rule) and at least ``margin`` from its edges; vectorised."""
    p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    a, b = poly, np.roll(poly, -1, axis=0)
    px, py = p[:, None, 0], p[:, None, 1]
    crosses = ((a[None, :, 1] > py) != (b[None, :, 1] > py)) & (
        px < a[None, :, 0] + (py - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0])
        / np.where(b[None, :, 1] == a[None, :, 1], 1e-12, b[None, :, 1] - a[None, :, 1]))
    inside = np.count_nonzero(crosses, axis=1) % 2 == 1
    if margin > 0:
        ab = b - a
        t = np.clip(((p[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0, 1)
        d = np.hypot(*(p[:, None, :] - (a[None] + t[..., None] * ab[None])).transpose(2, 0, 1)).min(axis=1)
        inside &= d >= margin
    return inside

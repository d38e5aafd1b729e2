"""Where in a saved map is the robot? A correlative search over (x, y, yaw) windows, for relocalisation.

ICP converges only from about 10 degrees and half a metre off; a restarted mapper knows neither its heading nor
its position in the saved map, only which saved places look like the live view (the descriptors). So each such
place opens a search window: every heading (``angle_step``) and every offset (``step``) within ``window`` is
scored at once against a likelihood field of the saved obstacles (a Gaussian of the distance to the nearest
occupied cell, as Cartographer's and Olson's correlative matchers score), all poses vectorised in numpy. The
best pose then goes to the registration for the centimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class LikelihoodField:
    """exp(-d^2 / 2 sigma^2) of the distance d to the nearest obstacle cell, on the saved grid's cells."""

    field: np.ndarray  # (rows, cols) in [0, 1]
    origin: tuple[float, float]
    resolution: float

    @classmethod
    def from_occupied(cls, occupied: np.ndarray, origin: tuple[float, float], resolution: float,
                      sigma: float = 0.1) -> LikelihoodField:
        dist = ndimage.distance_transform_edt(~occupied) * resolution
        return cls(np.exp(-0.5 * (dist / sigma) ** 2).astype(np.float32), origin, float(resolution))

    def score(self, points: np.ndarray) -> np.ndarray:
        """Mean field value of (..., N, 2) map points over the last-but-one axis; outside the grid scores 0."""
        col = np.floor((points[..., 0] - self.origin[0]) / self.resolution).astype(np.int64)
        row = np.floor((points[..., 1] - self.origin[1]) / self.resolution).astype(np.int64)
        h, w = self.field.shape
        inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
        val = np.where(inside, self.field[np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)], 0.0)
        return val.mean(axis=-1)


def correlative_search(scan: np.ndarray, field: LikelihoodField, centres: list[tuple[float, float]], *,
                       window: float = 1.5, step: float = 0.1, angle_step: float = np.radians(5.0),
                       max_points: int = 120) -> tuple[np.ndarray, float]:
    """Best (x, y, yaw) and its score (0..1) for robot-frame ``scan`` points around each of ``centres``."""
    pts = scan[np.linspace(0, len(scan) - 1, min(max_points, len(scan))).round().astype(np.int64)]
    yaws = np.arange(-np.pi, np.pi, angle_step)
    c, s = np.cos(yaws), np.sin(yaws)
    rotated = np.stack([c[:, None] * pts[None, :, 0] - s[:, None] * pts[None, :, 1],
                        s[:, None] * pts[None, :, 0] + c[:, None] * pts[None, :, 1]], axis=-1)  # (A, N, 2)
    offsets = np.arange(-window, window + 1e-9, step)
    best, best_score = np.zeros(3), -1.0
    for cx, cy in centres:
        gx, gy = np.meshgrid(cx + offsets, cy + offsets, indexing="ij")
        xy = np.stack([gx.ravel(), gy.ravel()], axis=-1)  # (P, 2)
        for a in range(len(yaws)):  # per heading, all positions at once: (P, N, 2) stays a few MB
            sc = field.score(rotated[a][None, :, :] + xy[:, None, :])
            k = int(np.argmax(sc))
            if sc[k] > best_score:
                best_score, best = float(sc[k]), np.array([xy[k, 0], xy[k, 1], yaws[a]])
    return best, best_score

"""Velocity and acceleration limits from :class:`toponav.robot.AgvParams` (vectorised over a batch)."""

from __future__ import annotations

import numpy as np

from toponav.robot import AgvParams


def clamp_velocity(cmd: np.ndarray, robot: AgvParams) -> np.ndarray:
    """Clip (…, 2) commands into [min_v, max_v] x [-max_w, max_w]; NaN/inf become 0."""
    c = np.asarray(cmd, dtype=np.float64)
    c = np.where(np.isfinite(c), c, 0.0)
    v = np.clip(c[..., 0], robot.min_v, robot.max_v)
    w = np.clip(c[..., 1], -robot.max_w, robot.max_w)
    return np.stack([v, w], axis=-1)


def limit_acceleration(cmd: np.ndarray, prev: np.ndarray, dt: float, robot: AgvParams) -> np.ndarray:
    """Move from ``prev`` toward ``cmd`` by at most max_acc × dt per axis (after clamping both)."""
    c = clamp_velocity(cmd, robot)
    p = clamp_velocity(prev, robot)
    dv = robot.max_acc_v * dt
    dw = robot.max_acc_w * dt
    v = np.clip(c[..., 0], p[..., 0] - dv, p[..., 0] + dv)
    w = np.clip(c[..., 1], p[..., 1] - dw, p[..., 1] + dw)
    return np.stack([v, w], axis=-1)

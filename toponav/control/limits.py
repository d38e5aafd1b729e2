"""Velocity and acceleration limits from :class:`toponav.robot.AgvParams` (vectorised over a batch).

One implementation for the controller and the simulated drives (PyBullet, the vectorised twin), so a policy
trained in the twin meets the limits it is deployed with.
"""

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
    """Step from ``prev`` toward ``cmd`` by at most max_acc × dt per axis (after clamping both).

    Written as ``prev + clip(cmd - prev, ±step)``, the simulators' form. The controller used to clip ``cmd``
    into ``[prev - step, prev + step]``, which can differ in the last bit of a float; with this form its runs
    stayed the same (stack_sim warehouse/maze/forest 1000000-1000003 at 10 Hz, bench barn every:6, learned
    and DWA).
    """
    c = clamp_velocity(cmd, robot)
    p = clamp_velocity(prev, robot)
    step = np.array([robot.max_acc_v, robot.max_acc_w]) * dt
    return p + np.clip(c - p, -step, step)

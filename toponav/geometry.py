"""Small 2-D geometry helpers shared by the core and the nodes (REP 103: x forward, yaw CCW, radians)."""

from __future__ import annotations

import math

import numpy as np


def wrap_angle(a: float | np.ndarray) -> float | np.ndarray:
    """Wrap to [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi if isinstance(a, np.ndarray) else (
        (a + math.pi) % (2.0 * math.pi) - math.pi
    )


def yaw_to_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """Planar yaw -> (x, y, z, w) quaternion."""
    return (0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0))


def quaternion_to_yaw(x: float, y: float, z: float, w: float) -> float:
    """(x, y, z, w) quaternion -> yaw about +z."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def to_robot_polar(pose: tuple[float, float, float], target: tuple[float, float]) -> tuple[float, float]:
    """Target point in the robot frame as (distance, bearing)."""
    dx, dy = target[0] - pose[0], target[1] - pose[1]
    return math.hypot(dx, dy), float(wrap_angle(math.atan2(dy, dx) - pose[2]))

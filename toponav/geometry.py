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


# -- SE(2) poses (x, y, yaw): one home for composing frames (map <- odom <- base_link, keyframes, loop closures) --
def se2_compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a ∘ b``: pose ``b`` given in frame ``a``, expressed in ``a``'s parent frame. Broadcasts over (..., 3)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    c, s = np.cos(a[..., 2]), np.sin(a[..., 2])
    return np.stack([a[..., 0] + c * b[..., 0] - s * b[..., 1], a[..., 1] + s * b[..., 0] + c * b[..., 1],
                     wrap_angle(a[..., 2] + b[..., 2])], axis=-1)


def se2_inverse(a: np.ndarray) -> np.ndarray:
    """The inverse transform of ``a`` (so ``se2_compose(a, se2_inverse(a))`` is the identity)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a[..., 2]), np.sin(a[..., 2])
    return np.stack([-c * a[..., 0] - s * a[..., 1], s * a[..., 0] - c * a[..., 1], wrap_angle(-a[..., 2])], axis=-1)


def se2_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pose of ``b`` in frame ``a`` (``a⁻¹ ∘ b``): the relative motion a -> b, as odometry and loop edges hold it."""
    return se2_compose(se2_inverse(a), b)


def se2_apply(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points given in frame ``pose`` -> the parent frame."""
    x, y, yaw = (float(v) for v in np.asarray(pose, dtype=np.float64).ravel()[:3])
    c, s = math.cos(yaw), math.sin(yaw)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return np.column_stack([x + c * pts[:, 0] - s * pts[:, 1], y + s * pts[:, 0] + c * pts[:, 1]])


def se2_to_matrix(pose: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """(x, y, yaw) -> the 4x4 homogeneous transform (z = 0, no roll or pitch), for 3-D libraries (small_gicp,
    open3d, kiss-icp) that take and return poses as matrices."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:2, 3] = pose[0], pose[1]
    return m


def matrix_to_se2(m: np.ndarray) -> np.ndarray:
    """A 4x4 homogeneous transform -> (x, y, yaw): its planar part (z, roll and pitch are dropped)."""
    return np.array([m[0, 3], m[1, 3], math.atan2(m[1, 0], m[0, 0])])

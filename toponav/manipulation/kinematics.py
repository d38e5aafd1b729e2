"""Franka Panda kinematics in numpy: forward kinematics, Jacobian and damped-least-squares IK.

The chain is read off pybullet_data's ``franka_panda/panda.urdf`` (joint origins as xyz + rpy), so
the end effector computed here is the URDF's ``panda_grasptarget`` frame, the point between the
fingertips. The simulator (``toponav.sim.arm``) and the ROS controller both use these functions, so
that the controller, which sees only /joint_states, derives the same end-effector position the
training environment observed. No pybullet, no torch.
"""

from __future__ import annotations

import numpy as np

#: Arm joint names in chain order, as the URDF and /joint_states name them.
ARM_JOINTS: tuple[str, ...] = tuple(f"panda_joint{i}" for i in range(1, 8))
#: Finger joint names (prismatic, each 0..0.04 m).
FINGER_JOINTS: tuple[str, ...] = ("panda_finger_joint1", "panda_finger_joint2")

#: URDF joint origins (xyz, rpy) of joints 1..7, then the fixed flange+hand+grasp-target transform.
_JOINT_ORIGINS: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((0.0, 0.0, 0.333), (0.0, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (-np.pi / 2, 0.0, 0.0)),
    ((0.0, -0.316, 0.0), (np.pi / 2, 0.0, 0.0)),
    ((0.0825, 0.0, 0.0), (np.pi / 2, 0.0, 0.0)),
    ((-0.0825, 0.384, 0.0), (-np.pi / 2, 0.0, 0.0)),
    ((0.0, 0.0, 0.0), (np.pi / 2, 0.0, 0.0)),
    ((0.088, 0.0, 0.0), (np.pi / 2, 0.0, 0.0)),
)
#: link7 -> link8 (z 0.107) -> hand (yaw -pi/4) -> grasp target (z 0.105).
_TOOL = ((0.0, 0.0, 0.107 + 0.105), (0.0, 0.0, -np.pi / 4))

LOWER = np.array([-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671])
UPPER = np.array([2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671])
#: A comfortable start posture: gripper above the table pointing down (panda-gym's neutral pose).
HOME = np.array([0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79])
#: End effector pointing straight down (x-axis of the tool along world x, z-axis along world -z).
DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def _rpy(r: float, p: float, y: float) -> np.ndarray:
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def _tf(xyz, rpy) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = _rpy(*rpy)
    T[:3, 3] = xyz
    return T


_ORIGIN_TF = [_tf(x, r) for x, r in _JOINT_ORIGINS]
_TOOL_TF = _tf(*_TOOL)


def _rz(q: float) -> np.ndarray:
    c, s = np.cos(q), np.sin(q)
    T = np.eye(4)
    T[0, 0], T[0, 1], T[1, 0], T[1, 1] = c, -s, s, c
    return T


def forward(q: np.ndarray, base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Tool pose for arm joint angles ``q`` (7,): position (3,), rotation (3,3) and each joint frame.

    ``base`` is the robot base position in the world (default origin). Joint frames are returned
    for the Jacobian (their z-axes are the joint axes).
    """
    T = np.eye(4)
    if base is not None:
        T[:3, 3] = base
    frames = []
    for origin, qi in zip(_ORIGIN_TF, np.asarray(q, dtype=float)):
        T = T @ origin
        frames.append(T.copy())
        T = T @ _rz(qi)
    T = T @ _TOOL_TF
    return T[:3, 3].copy(), T[:3, :3].copy(), frames


def ee_position(q: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    """Tool (grasp target) position in the world for arm joint angles ``q``."""
    return forward(q, base)[0]


def jacobian(q: np.ndarray, base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geometric Jacobian (6,7) [linear; angular] of the tool, plus its position and rotation."""
    pos, rot, frames = forward(q, base)
    J = np.zeros((6, 7))
    for i, F in enumerate(frames):
        z, o = F[:3, 2], F[:3, 3]
        J[:3, i] = np.cross(z, pos - o)
        J[3:, i] = z
    return J, pos, rot


def _rot_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Small-angle rotation vector taking ``current`` to ``target`` (world frame)."""
    R = target @ current.T
    return 0.5 * np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])


def ik_step(q: np.ndarray, target_pos: np.ndarray, target_rot: np.ndarray = DOWN, *,
            base: np.ndarray | None = None, damping: float = 0.05, rot_weight: float = 0.5,
            max_dq: float = 0.3) -> np.ndarray:
    """One damped-least-squares step toward a tool pose; returns new joint angles within limits.

    Cheap (one forward pass, one 6x6 solve): the training env calls it once per action, and the
    position-controlled joints follow during the physics substeps.
    """
    J, pos, rot = jacobian(q, base)
    err = np.concatenate([np.asarray(target_pos, dtype=float) - pos, rot_weight * _rot_error(target_rot, rot)])
    Jw = J.copy()
    Jw[3:] *= rot_weight
    dq = Jw.T @ np.linalg.solve(Jw @ Jw.T + damping**2 * np.eye(6), err)
    # Pull gently toward the home posture in the null space so the elbow does not drift.
    null = np.eye(7) - np.linalg.pinv(Jw) @ Jw
    dq += null @ (0.1 * (HOME - q))
    norm = np.max(np.abs(dq))
    if norm > max_dq:
        dq *= max_dq / norm
    return np.clip(q + dq, LOWER, UPPER)


def solve_ik(target_pos: np.ndarray, q0: np.ndarray | None = None, target_rot: np.ndarray = DOWN, *,
             base: np.ndarray | None = None, iters: int = 50, tol: float = 1e-4) -> np.ndarray:
    """Iterate :func:`ik_step` to convergence (used at reset and by the ROS controller)."""
    q = np.array(HOME if q0 is None else q0, dtype=float)
    for _ in range(iters):
        q = ik_step(q, target_pos, target_rot, base=base)
        if np.linalg.norm(ee_position(q, base) - target_pos) < tol:
            break
    return q

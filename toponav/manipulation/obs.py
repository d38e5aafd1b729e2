"""The one observation layout shared by the gymnasium envs, the training code and the ROS controller.

A flat float32 vector of 10 numbers::

    [ee_x, ee_y, ee_z, finger_width, obj_x, obj_y, obj_z, goal_x, goal_y, goal_z]

all in the table frame (metres; the table top is z = 0, the robot base sits at BASE_POSITION).
The ROS controller rebuilds it from /joint_states (forward kinematics), /object_pose and
/target_pose, so everything that sees the world sees it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBS_DIM = 10
EE = slice(0, 3)
WIDTH = 3
OBJ = slice(4, 7)
GOAL = slice(7, 10)

#: Robot base position in the table frame (panda-gym's layout: base at the table's near edge).
BASE_POSITION = np.array([-0.6, 0.0, 0.0])
#: Half size of the cube object (m).
OBJECT_HALF = 0.02
#: Reachable box for the end effector (table frame): x, y, z lower and upper bounds.
WORKSPACE_LOW = np.array([-0.35, -0.35, 0.0])
WORKSPACE_HIGH = np.array([0.35, 0.35, 0.35])
#: Object/goal distance (m) under which a task counts as solved (panda-gym uses 0.05).
SUCCESS_DISTANCE = 0.05
#: Metres of end-effector motion per unit action per control step (panda-gym's scale).
ACTION_SCALE = 0.05
#: Finger-width change (m) per unit gripper action per control step.
GRIPPER_SCALE = 0.02
#: Lowest end-effector target height (fingertips just above the table top).
EE_MIN_Z = 0.015
#: Widest finger opening (m).
MAX_WIDTH = 0.08


@dataclass(frozen=True)
class TaskSpec:
    """What differs between the two arm tasks, as data."""

    name: str
    action_dim: int  # 3 = EE delta (fingers held closed), 4 = EE delta + gripper
    max_steps: int


TASKS: dict[str, TaskSpec] = {
    "push": TaskSpec("push", 3, 50),
    "pickplace": TaskSpec("pickplace", 4, 50),
}


def make_obs(ee: np.ndarray, width: float, obj: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Assemble the flat observation from its parts."""
    out = np.empty(OBS_DIM, dtype=np.float32)
    out[EE] = ee
    out[WIDTH] = width
    out[OBJ] = obj
    out[GOAL] = goal
    return out


def action_to_targets(ee: np.ndarray, width: float, action: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised action -> (EE target position, finger-width target), as the env and the ROS node apply it.

    A 3-vector action keeps the fingers closed (push); a 4th entry opens/closes them.
    """
    a = np.clip(np.asarray(action, dtype=float).reshape(-1), -1.0, 1.0)
    target = np.clip(np.asarray(ee, dtype=float) + ACTION_SCALE * a[:3], WORKSPACE_LOW, WORKSPACE_HIGH)
    target[2] = max(target[2], EE_MIN_Z)
    new_width = float(np.clip(width + GRIPPER_SCALE * a[3], 0.0, MAX_WIDTH)) if a.shape[0] > 3 else 0.0
    return target, new_width


def is_success(obj: np.ndarray, goal: np.ndarray, threshold: float = SUCCESS_DISTANCE) -> np.ndarray:
    """Object within ``threshold`` of the goal (works on single vectors and batches)."""
    return np.linalg.norm(np.asarray(obj) - np.asarray(goal), axis=-1) < threshold


def in_workspace(point: np.ndarray, margin: float = 0.0) -> bool:
    """Whether a table-frame point lies inside the arm's workspace box (plus ``margin``)."""
    p = np.asarray(point, dtype=float)
    return bool(np.all(np.isfinite(p)) and np.all(p >= WORKSPACE_LOW - margin) and np.all(p <= WORKSPACE_HIGH + margin))

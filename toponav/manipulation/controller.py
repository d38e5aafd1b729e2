"""The world-model controller without ROS: joint states + object pose + target -> joint position targets.

The ROS node (:mod:`toponav.ros_nodes.world_model_controller`) only converts messages and calls
:meth:`WorldModelController.step`. Every input is checked here; a bad one raises
:class:`InputError` with a message that says what was wrong, and the node holds the arm still.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from toponav.config import param
from toponav.manipulation import kinematics as kin
from toponav.manipulation.mppi import MPPI, MPPIConfig
from toponav.manipulation.obs import BASE_POSITION, SUCCESS_DISTANCE, action_to_targets, in_workspace, make_obs
from toponav.models.checkpoint import default_checkpoint


class InputError(ValueError):
    """An input (joint state, object pose, target) cannot be used; the message says why."""


@dataclass
class ControllerConfig:
    """World-model controller settings (ROS parameter names mirror these)."""

    checkpoint: str = param("", "world-model checkpoint (.pt); empty = the shipped push checkpoint")
    mode: str = param("mpc", "who acts: MPPI planning ('mpc') or the policy prior alone ('policy')",
                      choices=("mpc", "policy"))
    rate_hz: float = param(24.0, "control rate on the node clock (one sim control step = 0.0417 s)",
                           min=0.5, max=200.0)
    stale_timeout: float = param(0.5, "inputs older than this (s, node clock) hold the arm", min=0.01, max=60.0)
    workspace_margin: float = param(0.0, "extra margin (m) around the workspace box for targets", min=0.0, max=0.5)
    threads: int = param(1, "torch CPU threads", min=1, max=64)
    seed: int = param(0, "planner sampling seed")
    mppi: MPPIConfig = field(default_factory=MPPIConfig)


@dataclass(frozen=True)
class Command:
    """One control step's output."""

    joint_names: tuple[str, ...]
    positions: np.ndarray
    ee_target: np.ndarray
    plan_ms: float
    distance: float
    success: bool


def parse_joint_state(names: list[str], positions: list[float], n_fingers_needed: int = 0) -> tuple[np.ndarray, float]:
    """Arm joint angles (7,) and finger width from a JointState's names/positions; InputError if unusable."""
    if len(names) != len(positions):
        raise InputError(f"joint state has {len(names)} names but {len(positions)} positions")
    if len(set(names)) != len(names):
        raise InputError("joint state repeats a joint name")
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in kin.ARM_JOINTS if n not in index]
    if missing:
        raise InputError(f"joint state lacks {missing} (got {list(names)}); expected {list(kin.ARM_JOINTS)}")
    pos = np.asarray(positions, dtype=float)
    if not np.all(np.isfinite(pos)):
        raise InputError("joint state holds NaN/inf positions")
    q = pos[[index[n] for n in kin.ARM_JOINTS]]
    if np.any(q < kin.LOWER - 0.05) or np.any(q > kin.UPPER + 0.05):
        raise InputError(f"arm joint angles {np.round(q, 3).tolist()} lie outside the Panda's limits")
    fingers = [n for n in kin.FINGER_JOINTS if n in index]
    if len(fingers) < n_fingers_needed:
        raise InputError(f"joint state lacks finger joints {list(kin.FINGER_JOINTS)} needed by this task")
    width = float(sum(pos[index[n]] for n in fingers))
    return q, width


def check_point(name: str, p: np.ndarray, margin: float) -> np.ndarray:
    p = np.asarray(p, dtype=float).reshape(-1)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise InputError(f"{name} must be 3 finite numbers, got {p.tolist()}")
    if not in_workspace(p, margin):
        raise InputError(f"{name} {np.round(p, 3).tolist()} is outside the arm workspace")
    return p


def check_layout(model_config, path: Path) -> None:
    """Refuse a checkpoint trained on another observation layout (e.g. a panda-gym env): the node builds
    our scenes' 10-vector, and a model reading other numbers at those places would act blindly."""
    from toponav.manipulation.goal_env import OWN_LAYOUT
    from toponav.models.checkpoint import CheckpointError

    got = {k: getattr(model_config, k) for k in OWN_LAYOUT.model_indices()}
    if got != OWN_LAYOUT.model_indices():
        raise CheckpointError(path, f"observation layout {got} is not this node's {OWN_LAYOUT.model_indices()} "
                              "([EE, finger width, cube, target]): it was trained on another env "
                              "(use a checkpoint from `toponav train world-model --task push|pickplace`)")


class WorldModelController:
    """Loads a world model and turns observations into joint targets, one control step at a time."""

    def __init__(self, config: ControllerConfig) -> None:
        from toponav.models.world_model import load_world_model  # CheckpointError propagates to the caller

        self.config = config
        torch.set_num_threads(config.threads)
        path = Path(config.checkpoint) if config.checkpoint else default_checkpoint("world_model_push")
        self.model, self.meta = load_world_model(path)
        self.path = path
        check_layout(self.model.config, path)
        self.action_dim = self.model.config.action_dim
        self.planner = MPPI(config.mppi, self.action_dim)
        self.generator = torch.Generator().manual_seed(config.seed)
        self._target_key: tuple | None = None

    def step(self, joint_names: list[str], joint_positions: list[float], obj: np.ndarray,
             target: np.ndarray) -> Command:
        """One control step; InputError when any input is unusable (the caller then holds the arm)."""
        q, width = parse_joint_state(joint_names, joint_positions, 2 if self.action_dim > 3 else 0)
        obj = check_point("object position", obj, 0.25)
        goal = check_point("target", target, self.config.workspace_margin)
        key = tuple(np.round(goal, 4))
        if key != self._target_key:  # new target: forget the warm start
            self.planner.reset()
            self._target_key = key
        ee = kin.ee_position(q, BASE_POSITION)
        obs = make_obs(ee, width, obj, goal)
        t0 = time.perf_counter()
        with torch.no_grad():
            z = self.model.encode(torch.as_tensor(obs).unsqueeze(0))
            if self.config.mode == "mpc":
                action = self.planner.plan(self.model, z, generator=self.generator)
            else:
                action = self.model.pi(z, deterministic=True)[1][0]
        plan_ms = (time.perf_counter() - t0) * 1e3
        ee_target, new_width = action_to_targets(ee, width, action.numpy())
        q_cmd = kin.ik_step(q, ee_target - BASE_POSITION)
        names = kin.ARM_JOINTS + kin.FINGER_JOINTS
        positions = np.concatenate([q_cmd, [new_width / 2.0, new_width / 2.0]])
        distance = float(np.linalg.norm(obj - goal))
        return Command(names, positions, ee_target, plan_ms, distance, distance < SUCCESS_DISTANCE)

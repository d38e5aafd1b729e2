"""Goal-conditioned gymnasium environments for the Panda arm: ``toponav/PandaPush``, ``toponav/PandaPickPlace``.

Observation (gymnasium GoalEnv layout, as panda-gym): a dict with ``observation`` (EE position,
finger width, cube position: 7 numbers), ``achieved_goal`` (cube position) and ``desired_goal``
(goal position). :func:`flatten` joins them into :mod:`toponav.manipulation.obs`'s 10-vector.

Action: EE displacement in [-1, 1]^3 (scaled by ACTION_SCALE metres per step) and, for
pick-and-place, a finger-width change. One cheap damped-least-squares IK step turns the EE target
into joint position targets; the joints track them during the physics substeps.

Reward: sparse, 1.0 while the cube is within SUCCESS_DISTANCE of the goal, else 0.0.
Episodes do not terminate on success (the agent must keep the cube there); they are truncated
after ``max_steps``, and ``info["is_success"]`` at the last step is the success measure.

These two envs trained the shipped world-model checkpoints (``models/checkpoints/world_model_push.pt``,
``world_model_pickplace.pt``; learner :class:`toponav.learning.world_model_agent.Agent`, command in each
model card), and ``toponav bench manip`` compares the learners on them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from toponav.manipulation import kinematics as kin
from toponav.manipulation.obs import BASE_POSITION, OBS_DIM, action_to_targets, make_obs
from toponav.sim.arm.scene import ArmScene, SceneConfig
from toponav.sim.arm.tasks import make_sampler

#: Where the end effector starts each episode (table frame).
EE_START = np.array([0.0, 0.0, 0.12])


def flatten(obs: dict[str, np.ndarray]) -> np.ndarray:
    """GoalEnv dict -> the flat 10-vector of :mod:`toponav.manipulation.obs`."""
    o = obs["observation"]
    return make_obs(o[:3], float(o[3]), obs["achieved_goal"], obs["desired_goal"])


class PandaTaskEnv(gym.Env):
    """One arm task in its own PyBullet client."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, task: str = "push", *, scene_config: SceneConfig | None = None,
                 max_steps: int | None = None, render_mode: str | None = None) -> None:
        self.sampler = make_sampler(task)
        self.task = task
        self.spec_task = self.sampler.spec
        self.max_steps = int(max_steps or self.spec_task.max_steps)
        self.render_mode = render_mode
        self.scene = ArmScene(scene_config)
        self._home_q = kin.solve_ik(EE_START - BASE_POSITION)
        act = self.spec_task.action_dim
        self.action_space = spaces.Box(-1.0, 1.0, shape=(act,), dtype=np.float32)
        big = np.full(3, 10.0, dtype=np.float32)
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-10.0, 10.0, shape=(7,), dtype=np.float32),
            "achieved_goal": spaces.Box(-big, big, dtype=np.float32),
            "desired_goal": spaces.Box(-big, big, dtype=np.float32),
        })
        self.goal = np.zeros(3)
        self._steps = 0

    # ----- gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obj, yaw, goal = self.sampler.sample(self.np_random)
        width = 0.0 if self.spec_task.action_dim == 3 else 0.08
        self.goal = goal
        self.scene.reset(self._home_q, width, obj, yaw, goal)
        self._steps = 0
        obs = self._obs()
        return obs, {"is_success": bool(self._success(obs))}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=float).reshape(-1), -1.0, 1.0)
        if a.shape != self.action_space.shape or not np.all(np.isfinite(a)):
            raise ValueError(f"action must be {self.action_space.shape} finite values, got {action!r}")
        q, _, fingers = self.scene.joint_state()
        ee = kin.ee_position(q, BASE_POSITION)
        target, width = action_to_targets(ee, float(fingers.sum()), a)
        q_cmd = kin.ik_step(q, target - BASE_POSITION)
        self.scene.command(q_cmd, width)
        self.scene.step()
        self._steps += 1
        obs = self._obs()
        success = bool(self._success(obs))
        reward = float(success)
        truncated = self._steps >= self.max_steps
        return obs, reward, False, truncated, {"is_success": success}

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None) -> np.ndarray:
        """Sparse reward for (batches of) achieved/desired goals, for hindsight relabelling."""
        d = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return (d < self.sampler.success_distance).astype(np.float32)

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        c = self.scene.client
        view = c.computeViewMatrixFromYawPitchRoll([0.0, 0.0, 0.0], 1.0, 45.0, -30.0, 0.0, 2)
        proj = c.computeProjectionMatrixFOV(60.0, 4 / 3, 0.1, 5.0)
        _, _, rgba, _, _ = c.getCameraImage(320, 240, view, proj)
        return np.asarray(rgba, dtype=np.uint8).reshape(240, 320, 4)[..., :3]

    def close(self) -> None:
        self.scene.close()

    # ----- helpers -------------------------------------------------------------------------
    def _obs(self) -> dict[str, np.ndarray]:
        q, _, fingers = self.scene.joint_state()
        ee = kin.ee_position(q, BASE_POSITION)
        obj, _ = self.scene.object_pose()
        return {
            "observation": np.concatenate([ee, [fingers.sum()], obj]).astype(np.float32),
            "achieved_goal": obj.astype(np.float32),
            "desired_goal": self.goal.astype(np.float32),
        }

    def _success(self, obs: dict[str, np.ndarray]) -> bool:
        return bool(self.compute_reward(obs["achieved_goal"], obs["desired_goal"]) > 0.5)

    def flat_obs(self) -> np.ndarray:
        """The current observation as the flat 10-vector."""
        return flatten(self._obs())


class FlatObs(gym.ObservationWrapper):
    """Present a task env's dict observation as the flat 10-vector (for the world model and SAC)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(OBS_DIM,), dtype=np.float32)

    def observation(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return flatten(observation)

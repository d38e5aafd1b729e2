"""One adapter from any gymnasium goal-env (dict observations) to what the learners use.

A goal-env observes ``{"observation", "achieved_goal", "desired_goal"}`` and defines its sparse reward
through ``compute_reward(achieved, desired, info)`` (panda-gym: 0 at the goal, -1 elsewhere; our own
scenes: 1 / 0). The learners want one flat float vector and must know where in it the end effector,
the achieved goal and the desired goal lie (features, hindsight relabelling, scripted demos). That
is :class:`ObsLayout`. :func:`toponav.sim.arm.goal_envs.make_goal_env` builds either of our own scenes
(``push``, ``pickplace``; their 10-vector layout, which the shipped checkpoints and the ROS node use) or
any registered goal-env named ``module:EnvId`` (``panda-gym:PandaPush-v3`` imports ``panda_gym`` and
makes ``PandaPush-v3``), flattened as ``[observation, achieved_goal, desired_goal]``. This module holds
only the layout and the wrappers (core code takes observations as data and builds no simulator).

Episodes have a fixed length (the env's own time limit, 50 for panda-gym) and ignore the env's
``terminated``: panda-gym ends an episode the moment the object first touches the goal, our scenes
never do. Running every episode to the end makes both the same task, *bring the object to the goal
and keep it there*, and success is ``info["is_success"]`` at the last step (stricter than panda-gym's
own success-at-termination). The reward stays the env's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class ObsLayout:
    """Where things lie in the flat observation vector (all start indices; positions are 3 numbers)."""

    dim: int
    ee: int
    achieved: int
    desired: int
    #: index of the finger width, -1 when the flat vector has none
    width: int = -1
    #: the flat indices that make up the dict's ``observation`` (to rebuild the dict for SB3)
    observation: tuple[int, ...] = ()
    goal_dim: int = 3

    @property
    def achieved_slice(self) -> slice:
        return slice(self.achieved, self.achieved + self.goal_dim)

    @property
    def desired_slice(self) -> slice:
        return slice(self.desired, self.desired + self.goal_dim)

    def to_dict(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Flat vector(s) -> the goal-env dict (inverse of the flattening)."""
        flat = np.asarray(flat, dtype=np.float32)
        return {"observation": flat[..., list(self.observation)], "achieved_goal": flat[..., self.achieved_slice],
                "desired_goal": flat[..., self.desired_slice]}

    def model_indices(self) -> dict[str, int]:
        """The indices the world model's feature map needs (stored in its config)."""
        return {"obs_dim": self.dim, "ee_index": self.ee, "achieved_index": self.achieved,
                "desired_index": self.desired}


#: Our own scenes: [ee(3), finger width, cube(3), goal(3)] (``toponav.manipulation.obs``).
OWN_LAYOUT = ObsLayout(dim=10, ee=0, achieved=4, desired=7, width=3, observation=tuple(range(7)))
OWN_TASKS = ("push", "pickplace")


def concat_layout(space: spaces.Dict, *, ee: int = 0, width: int = -1) -> ObsLayout:
    """Layout of ``[observation, achieved_goal, desired_goal]`` for a goal-env's observation space."""
    for key in ("observation", "achieved_goal", "desired_goal"):
        if not isinstance(space, spaces.Dict) or key not in space.spaces:
            raise ValueError(f"not a goal-env: observation space needs a Dict with {key!r}, got {space}")
    n = int(np.prod(space["observation"].shape))
    g = int(np.prod(space["achieved_goal"].shape))
    if g != int(np.prod(space["desired_goal"].shape)):
        raise ValueError("achieved_goal and desired_goal differ in size")
    return ObsLayout(dim=n + 2 * g, ee=ee, achieved=n, desired=n + g, width=width,
                     observation=tuple(range(n)), goal_dim=g)


class FixedLengthGoalEnv(gym.Wrapper):
    """Dict goal-env whose episodes last exactly ``max_steps`` (env termination ignored, see module doc)."""

    def __init__(self, env: gym.Env, max_steps: int) -> None:
        super().__init__(env)
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.max_steps = int(max_steps)
        self._t = 0

    def reset(self, **kwargs):
        self._t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, _terminated, _truncated, info = self.env.step(action)
        self._t += 1
        return obs, reward, False, self._t >= self.max_steps, info

    def compute_reward(self, achieved: np.ndarray, desired: np.ndarray, info: Any = None) -> np.ndarray:
        """The env's own sparse reward for (batches of) goals."""
        return np.asarray(self.env.unwrapped.compute_reward(achieved, desired, info), dtype=np.float32)


class FlatGoalEnv(gym.ObservationWrapper):
    """A :class:`FixedLengthGoalEnv` seen as flat vectors in ``layout`` (what the world model and SAC use)."""

    def __init__(self, env: FixedLengthGoalEnv, layout: ObsLayout, flatten: Callable[[dict], np.ndarray],
                 name: str, task: str) -> None:
        super().__init__(env)
        self.layout, self._flatten, self.name, self.task = layout, flatten, name, task
        self.max_steps = env.max_steps
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(layout.dim,), dtype=np.float32)

    def observation(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self._flatten(observation), dtype=np.float32)

    def compute_reward(self, achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        return self.env.compute_reward(achieved, desired, {})

    @property
    def dict_env(self) -> FixedLengthGoalEnv:
        """The same env with dict observations (for SB3's HER), sharing its state."""
        return self.env

"""One adapter from any gymnasium goal-env (dict observations) to what the learners use.

A goal-env defines its sparse reward through ``compute_reward(achieved, desired, info)`` (panda-gym: 0 at
the goal, -1 elsewhere; our own scenes: 1 / 0). :class:`FlatGoalEnv` shows it as one flat float vector
laid out by a :class:`toponav.manipulation.goal_env.ObsLayout`. :func:`toponav.learning.goal_envs.make_goal_env`
builds either of our own scenes (``push``, ``pickplace``; their 10-vector layout, which the shipped
checkpoints and the ROS node use) or any registered goal-env named ``module:EnvId``
(``panda-gym:PandaPush-v3`` imports ``panda_gym`` and makes ``PandaPush-v3``), flattened as
``[observation, achieved_goal, desired_goal]`` (:func:`concat_layout`). This module holds only the layout
arithmetic and the wrappers (it builds no simulator).

Episodes have a fixed length (the env's own time limit, 50 for panda-gym) and ignore the env's
``terminated``: panda-gym ends an episode the moment the object first touches the goal, our scenes
never do. Running every episode to the end makes both the same task, *bring the object to the goal
and keep it there*. Success is scored both ways (:mod:`toponav.learning.goal_episodes`): ``info["is_success"]``
at the last step (held), and at any step (reached: panda-gym's own success-at-termination). The reward stays
the env's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from toponav.manipulation.goal_env import ObsLayout


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

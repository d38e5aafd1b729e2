"""Goal-envs for the learners: our own Panda scenes or any registered gymnasium goal-env, flattened.

``make_goal_env("push")`` / ``("pickplace")`` builds our scenes with their 10-vector layout;
``make_goal_env("panda-gym:PandaPush-v3")`` imports ``panda_gym`` and makes ``PandaPush-v3``, flattened as
``[observation, achieved_goal, desired_goal]``. Both come back as
:class:`toponav.learning.flat_goal_env.FlatGoalEnv` (fixed-length episodes, the env's own reward).
"""

from __future__ import annotations

import importlib

import gymnasium as gym
import numpy as np

from toponav.learning.flat_goal_env import FixedLengthGoalEnv, FlatGoalEnv, concat_layout
from toponav.manipulation.goal_env import OWN_LAYOUT, OWN_TASKS


def _concat(observation: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(observation[k]) for k in ("observation", "achieved_goal", "desired_goal")])


#: Known panda-gym tasks -> (our task family for scripted demos, index of the finger width or -1).
PANDA_GYM_TASKS = {"PandaReach": ("reach", -1), "PandaPush": ("push", -1), "PandaSlide": ("slide", -1),
                   "PandaPickAndPlace": ("pickplace", 6)}


def task_family(env_id: str) -> str:
    """Our name of the task an env id poses (selects the scripted demo policy); '' when unknown."""
    base = env_id.split("-")[0]
    return PANDA_GYM_TASKS.get(base, ("", -1))[0]


def make_goal_env(name: str, *, max_steps: int | None = None) -> FlatGoalEnv:
    """``push`` / ``pickplace`` (our scenes) or ``module:EnvId`` (any registered goal-env), flattened."""
    if name in OWN_TASKS:
        from toponav.sim.arm import make_env
        from toponav.sim.arm.env import flatten

        inner = make_env(name, flat=False, max_steps=max_steps)
        return FlatGoalEnv(FixedLengthGoalEnv(inner, inner.max_steps), OWN_LAYOUT, flatten, name, name)
    module, sep, env_id = name.partition(":")
    if not sep or not module or not env_id:
        raise ValueError(f"env {name!r}: use one of {OWN_TASKS} or 'module:EnvId' (e.g. panda-gym:PandaPush-v3)")
    try:
        importlib.import_module(module.replace("-", "_"))
    except ImportError as exc:
        raise ValueError(f"env {name!r}: cannot import {module!r} ({exc})") from None
    try:
        inner = gym.make(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"env {name!r}: {exc}") from None
    width = PANDA_GYM_TASKS.get(env_id.split("-")[0], ("", -1))[1]
    try:
        layout = concat_layout(inner.observation_space, width=width)
    except ValueError as exc:
        inner.close()
        raise ValueError(f"env {name!r}: {exc}") from None
    T = max_steps or (inner.spec.max_episode_steps if inner.spec else None)
    if not T:
        raise ValueError(f"env {name!r} has no time limit: give max_steps")
    return FlatGoalEnv(FixedLengthGoalEnv(inner, T), layout, _concat, name, task_family(env_id))

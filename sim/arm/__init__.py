"""PyBullet Franka Panda tasks: the scene, task samplers and goal-conditioned gymnasium envs.

Importing this package registers ``toponav/PandaPush`` and ``toponav/PandaPickPlace``.
"""

from __future__ import annotations

import gymnasium as gym

from toponav.sim.arm.env import FlatObs, PandaTaskEnv, flatten
from toponav.sim.arm.envs import IDS, register

__all__ = ["IDS", "FlatObs", "PandaTaskEnv", "flatten", "make_env", "register"]


def make_env(task: str, *, flat: bool = True, **kwargs) -> gym.Env:
    """A task env without gymnasium's wrappers, flattened to the 10-vector unless ``flat`` is False."""
    env: gym.Env = PandaTaskEnv(task, **kwargs)
    return FlatObs(env) if flat else env


register()

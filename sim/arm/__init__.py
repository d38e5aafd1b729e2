"""PyBullet Franka Panda tasks: the scene, task samplers and goal-conditioned gymnasium envs.

Importing this package registers ``toponav/PandaPush-v0`` and ``toponav/PandaPickPlace-v0``
(``gym.make("toponav/PandaPush")`` picks the latest version).
"""

from __future__ import annotations

import gymnasium as gym

from toponav.sim.arm.env import FlatObs, PandaTaskEnv, flatten

__all__ = ["FlatObs", "PandaTaskEnv", "flatten", "make_env"]

_IDS = {"push": "toponav/PandaPush-v0", "pickplace": "toponav/PandaPickPlace-v0"}


def _register() -> None:
    for task, env_id in _IDS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="toponav.sim.arm.env:PandaTaskEnv", kwargs={"task": task})


def make_env(task: str, *, flat: bool = True, **kwargs) -> gym.Env:
    """A task env (unwrapped by gymnasium's checkers), flattened unless ``flat`` is False."""
    env: gym.Env = PandaTaskEnv(task, **kwargs)
    return FlatObs(env) if flat else env


_register()

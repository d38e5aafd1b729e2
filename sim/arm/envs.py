"""Gymnasium registration of the arm tasks (on import of
``toponav.sim.arm``): ``gymnasium.make("toponav/PandaPush")`` / ``("toponav/PandaPickPlace")``."""

from __future__ import annotations

import gymnasium as gym

IDS = {"push": "toponav/PandaPush", "pickplace": "toponav/PandaPickPlace"}


def register() -> list[str]:
    """Register both arm tasks (idempotent); returns their ids."""
    for task, env_id in IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="toponav.sim.arm.env:PandaTaskEnv", kwargs={"task": task})
    return list(IDS.values())

"""Gymnasium registration: ``toponav.sim.envs.register()`` then ``gymnasium.make("toponav/AgvNav")``.

The arm tasks (``toponav/PandaPush``, ``toponav/PandaPickPlace``) live in ``toponav.sim.arm``; when that
package provides ``register()`` it is called from here too, so one call registers every toponav env.
"""

from __future__ import annotations

import importlib

import gymnasium as gym

AGV_NAV = "toponav/AgvNav"


def register() -> list[str]:
    """Register toponav's environments (idempotent); returns the registered ids."""
    ids = []
    if AGV_NAV not in gym.registry:
        gym.register(id=AGV_NAV, entry_point="toponav.sim.agv_env:AgvNavEnv")
    ids.append(AGV_NAV)
    try:
        arm = importlib.import_module("toponav.sim.arm.envs")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("toponav.sim.arm"):
            raise
        arm = None
    if arm is not None and hasattr(arm, "register"):
        ids += list(arm.register() or [])
    return ids

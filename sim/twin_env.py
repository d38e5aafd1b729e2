"""Vectorised AgvNav on the numpy twin: N robots, same observation/action/reward as ``toponav/AgvNav``.

Auto-resets finished robots (the returned observation is already the new episode's first one; the
final observation is in ``info["final_obs"]``), like gymnasium's vector envs in next-step mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from toponav.robot import AgvParams, LidarParams
from toponav.sim.agv_env import action_space, observation, observation_space
from toponav.sim.twin import VecAgvTwin
from toponav.worlds import World


class VecAgvNav:
    """``num_envs`` twin robots spread over ``worlds``; a finished robot restarts in a random world."""

    def __init__(self, worlds: Sequence[World], num_envs: int, robot: AgvParams | None = None,
                 lidar: LidarParams | None = None, dt: float = 0.1, max_steps: int = 600,
                 goal_tolerance: float = 0.5, seed: int = 0) -> None:
        self.worlds = list(worlds)
        self.num_envs = num_envs
        self.twin = VecAgvTwin(self.worlds, num_envs, robot, lidar, dt=dt, seed=seed)
        self.robot, self.lidar = self.twin.robot, self.twin.lidar
        self.max_steps = max_steps
        self.goal_tolerance = goal_tolerance
        self.rng = np.random.default_rng(seed)
        self.observation_space = observation_space(self.robot, self.lidar)
        self.action_space = action_space(self.robot)
        self._goals_by_world = np.array([w.goal for w in self.worlds], dtype=np.float64)
        self.steps = np.zeros(num_envs, dtype=np.int64)

    @property
    def goals(self) -> np.ndarray:
        return self._goals_by_world[self.twin.world_index]

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.twin.rng = np.random.default_rng(seed + 1)
        self.twin.set_world_index(self.rng.integers(0, len(self.worlds), self.num_envs))
        ranges = self.twin.reset()
        self.steps[:] = 0
        return observation(ranges, self.twin.pose, self.twin.vel, self.goals, self.lidar), {}

    def step(self, actions: np.ndarray):
        st = self.twin.step(actions)
        self.steps += 1
        obs = observation(st.ranges, st.pose, st.vel, self.goals, self.lidar)
        reached = (obs[:, -4] <= self.goal_tolerance) & ~st.collided
        terminated = reached | st.collided
        truncated = ~terminated & (self.steps >= self.max_steps)
        reward = reached.astype(np.float32)
        info: dict[str, Any] = {"success": reached.copy(), "collided": st.collided.copy()}
        done = terminated | truncated
        if done.any():
            ids = np.flatnonzero(done)
            info["final_obs"] = obs[ids].copy()
            info["done_ids"] = ids
            wi = self.twin.world_index.copy()
            wi[ids] = self.rng.integers(0, len(self.worlds), len(ids))
            self.twin.set_world_index(wi)
            ranges = self.twin.reset(ids)
            self.steps[ids] = 0
            obs[ids] = observation(ranges[ids], self.twin.pose[ids], self.twin.vel[ids], self.goals[ids], self.lidar)
        return obs, reward, terminated, truncated, info

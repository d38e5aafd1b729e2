"""Gymnasium ``toponav/AgvNav``: drive a PyBullet AGV to a goal with a sparse reward.

Observation (float32, ``lidar.beams + 4``): lidar ranges in metres clipped to [range_min, range_max],
then goal distance (m), goal bearing (rad, robot frame, CCW positive), current v (m/s) and w (rad/s).
Action: (v, w) in [min_v, max_v] x [-max_w, max_w]; the robot applies acceleration limits itself.
Reward: +1 on reaching the goal (within ``goal_tolerance``), else 0. The episode terminates on goal or
collision and is truncated after ``max_steps``. :func:`observation` builds the same vector for the
numpy twin (:class:`toponav.sim.twin_env.VecAgvNav`), so policies move between the backends.

Worlds: ``world`` is any :func:`toponav.worlds.make_world` spec. With ``world_seed < 0`` each reset
draws a fresh seed from the ``seed_split`` range (training by default);
``reset(options={"world_seed": n})`` or ``{"world": spec}`` overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from toponav.robot import AgvParams, LidarParams
from toponav.sim.pybullet_agv import AgvSim
from toponav.worlds import HELDOUT_OFFSET, make_world
from toponav.worlds.families import GENERATORS


@dataclass
class AgvNavConfig:
    world: str = "forest"
    world_seed: int = -1  # < 0: a new seed every episode, drawn from ``seed_split``
    seed_split: str = "train"  # "train" or "heldout" (see toponav.worlds.train_seeds / heldout_seeds)
    max_steps: int = 600
    goal_tolerance: float = 0.5
    control_dt: float = 0.1
    physics_rate: float = 100.0
    robot: AgvParams = field(default_factory=AgvParams)
    lidar: LidarParams = field(default_factory=LidarParams)


def observation(ranges: np.ndarray, pose: np.ndarray, vel: np.ndarray, goal: np.ndarray,
                lidar: LidarParams) -> np.ndarray:
    """(..., B + 4) observation from ranges (..., B), pose (..., 3), vel (..., 2), goal (..., 2)."""
    ranges = np.clip(np.nan_to_num(ranges, nan=lidar.range_max, posinf=lidar.range_max), lidar.range_min,
                     lidar.range_max)
    dx = goal[..., 0] - pose[..., 0]
    dy = goal[..., 1] - pose[..., 1]
    bearing = (np.arctan2(dy, dx) - pose[..., 2] + np.pi) % (2 * np.pi) - np.pi
    extra = np.stack([np.hypot(dx, dy), bearing, vel[..., 0], vel[..., 1]], axis=-1)
    return np.concatenate([ranges, extra], axis=-1).astype(np.float32)


def observation_space(robot: AgvParams, lidar: LidarParams) -> gym.spaces.Box:
    low = np.concatenate([np.full(lidar.beams, lidar.range_min), [0.0, -np.pi, robot.min_v, -robot.max_w]])
    high = np.concatenate([np.full(lidar.beams, lidar.range_max), [np.inf, np.pi, robot.max_v, robot.max_w]])
    return gym.spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


def action_space(robot: AgvParams) -> gym.spaces.Box:
    return gym.spaces.Box(np.array([robot.min_v, -robot.max_w], dtype=np.float32),
                          np.array([robot.max_v, robot.max_w], dtype=np.float32), dtype=np.float32)


class AgvNavEnv(gym.Env):
    """One PyBullet AGV, sparse goal reward. See the module docstring for spaces and termination."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, config: AgvNavConfig | None = None, **overrides: Any) -> None:
        cfg = config or AgvNavConfig()
        for key, value in overrides.items():
            if not hasattr(cfg, key):
                raise TypeError(f"unknown AgvNav option {key!r}")
            setattr(cfg, key, value)
        self.cfg = cfg
        self.observation_space = observation_space(cfg.robot, cfg.lidar)
        self.action_space = action_space(cfg.robot)
        self.sim: AgvSim | None = None
        self._world_key: tuple[str, int] | None = None
        self.steps = 0

    def _world_seed(self, options: dict[str, Any]) -> int:
        if "world_seed" in options:
            return int(options["world_seed"])
        if self.cfg.world_seed >= 0:
            return self.cfg.world_seed
        if self.cfg.seed_split not in ("train", "heldout"):
            raise ValueError(f"seed_split must be 'train' or 'heldout', got {self.cfg.seed_split!r}")
        offset = HELDOUT_OFFSET if self.cfg.seed_split == "heldout" else 0
        return offset + int(self.np_random.integers(0, HELDOUT_OFFSET))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        spec = str(options.get("world", self.cfg.world))
        wseed = self._world_seed(options)
        sim_seed = int(self.np_random.integers(0, 2**31 - 1))
        seeded = spec.split(":")[0].lower() in GENERATORS and ":" not in spec and spec.lower() != "empty"
        key = (spec, wseed if seeded else 0)  # BARN index / JSON path / empty: the seed does not change the world
        if self.sim is None:
            self.world = make_world(spec, wseed, self.cfg.robot.radius)
            self.sim = AgvSim(self.world, self.cfg.robot, self.cfg.lidar, physics_rate=self.cfg.physics_rate,
                              control_dt=self.cfg.control_dt, seed=sim_seed)
        elif key != self._world_key:
            self.world = make_world(spec, wseed, self.cfg.robot.radius)
            self.sim.load_world(self.world, seed=sim_seed)
        else:
            self.sim.reset(seed=sim_seed)
        self._world_key = key
        self.goal = np.asarray(self.world.goal, dtype=np.float64)
        self.steps = 0
        return self._obs(), self._info(False)

    def step(self, action):
        assert self.sim is not None, "call reset() first"
        self.sim.step(np.asarray(action, dtype=np.float64))
        self.steps += 1
        obs = self._obs()
        reached = bool(obs[-4] <= self.cfg.goal_tolerance)
        collided = bool(self.sim.collided)
        reward = 1.0 if reached and not collided else 0.0
        terminated = reached or collided
        truncated = (not terminated) and self.steps >= self.cfg.max_steps
        return obs, reward, terminated, truncated, self._info(reached and not collided)

    def _obs(self) -> np.ndarray:
        sim = self.sim
        return observation(sim.scan(), sim.pose, sim.cmd_vel, self.goal, self.cfg.lidar)

    def _info(self, success: bool) -> dict[str, Any]:
        sim = self.sim
        return {"pose": sim.pose, "collided": sim.collided, "success": success, "world": self.world.name,
                "sim_time": sim.sim_time, "collisions": list(sim.collisions)}

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
            self.sim = None

"""Observation and action spaces of the learned avoidance policy (shared by training, benchmarks and the node).

Observation (float32, ``obs_dim = sectors + 5``):
    [0:sectors]  lidar: min range per 360° sector, clipped to lidar_clip and divided by it (1 = free)
    [s+0]        sub-goal distance / subgoal_clip, clipped to 1
    [s+1, s+2]   cos, sin of the sub-goal bearing in the robot frame
    [s+3, s+4]   current v / max_v, ω / max_w

Action: normalised a in [-1, 1]^2; v = min_v + (a0 + 1) / 2 * (max_v - min_v), ω = a1 * max_w.
"""

from __future__ import annotations

import numpy as np

from toponav.control.config import ObservationConfig
from toponav.control.scan import sector_min
from toponav.robot import AgvParams


def obs_dim(cfg: ObservationConfig) -> int:
    return cfg.sectors + 5


def build_observation(cfg: ObservationConfig, robot: AgvParams, ranges: np.ndarray, angles: np.ndarray,
                      subgoal_polar: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """Batch (N, …) or single inputs -> (N, obs_dim) or (obs_dim,). ``ranges`` must be cleaned (finite)."""
    single = np.ndim(ranges) == 1
    r = np.atleast_2d(ranges)
    sg = np.atleast_2d(np.asarray(subgoal_polar, dtype=np.float64))
    vel = np.atleast_2d(np.asarray(vel, dtype=np.float64))
    lidar = np.clip(sector_min(r, angles, cfg.sectors, cfg.lidar_clip), 0.0, cfg.lidar_clip) / cfg.lidar_clip
    dist = np.clip(sg[:, 0] / cfg.subgoal_clip, 0.0, 1.0)
    obs = np.concatenate([
        lidar,
        dist[:, None],
        np.cos(sg[:, 1:2]), np.sin(sg[:, 1:2]),
        vel[:, :1] / max(robot.max_v, 1e-6), vel[:, 1:2] / max(robot.max_w, 1e-6),
    ], axis=1).astype(np.float32)
    obs = np.nan_to_num(obs, nan=0.0, posinf=1.0, neginf=-1.0)
    return obs[0] if single else obs


def action_to_cmd(action: np.ndarray, robot: AgvParams) -> np.ndarray:
    """Normalised action(s) (…, 2) in [-1, 1] -> (v, ω) commands in the robot's limits."""
    a = np.clip(np.nan_to_num(np.asarray(action, dtype=np.float64)), -1.0, 1.0)
    v = robot.min_v + (a[..., 0] + 1.0) * 0.5 * (robot.max_v - robot.min_v)
    w = a[..., 1] * robot.max_w
    return np.stack([v, w], axis=-1)

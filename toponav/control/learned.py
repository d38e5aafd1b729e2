"""Runs the learned avoidance policy: scan + sub-goal + velocity -> observation -> torch policy -> (v, ω).

torch is imported here only, so the DWA and safety-only paths never pay for it. The observation and
action scaling come from the checkpoint itself (what the policy was trained with), not from the caller.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from toponav.control.config import ObservationConfig
from toponav.control.observation import action_to_cmd, build_observation, obs_dim
from toponav.robot import AgvParams


class LearnedPolicy:
    """A loaded policy plus the observation/action spaces it was trained with."""

    def __init__(self, model, obs_cfg: ObservationConfig, action_robot: AgvParams, meta: dict | None = None) -> None:
        self.model = model
        self.obs_cfg = obs_cfg
        self.action_robot = action_robot
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path | None = None, num_threads: int | None = 1) -> LearnedPolicy:
        """Load a checkpoint; raises :class:`toponav.models.checkpoint.CheckpointError` on any problem."""
        import torch

        from toponav.models.checkpoint import CheckpointError, default_checkpoint, load_checkpoint
        from toponav.models.policy import KIND, AvoidancePolicy

        if num_threads:
            torch.set_num_threads(num_threads)
        path = Path(path) if path else default_checkpoint(KIND)
        ckpt = load_checkpoint(path, kind=KIND)
        try:
            obs_cfg = ObservationConfig(**ckpt.config.get("obs", {}))
            robot_fields = {f.name for f in dataclasses.fields(AgvParams)}
            action_robot = AgvParams(**{k: v for k, v in ckpt.config.get("action", {}).items() if k in robot_fields})
        except TypeError as exc:
            raise CheckpointError(path, f"bad observation/action config: {exc}") from None
        model = AvoidancePolicy.from_checkpoint(ckpt)
        if model.cfg.obs_dim != obs_dim(obs_cfg):
            raise CheckpointError(path, f"policy expects {model.cfg.obs_dim} inputs, observation config gives "
                                        f"{obs_dim(obs_cfg)}")
        return cls(model, obs_cfg, action_robot, ckpt.meta)

    def observation(self, ranges: np.ndarray, angles: np.ndarray, subgoal_polar: np.ndarray,
                    vel: np.ndarray) -> np.ndarray:
        return build_observation(self.obs_cfg, self.action_robot, ranges, angles, subgoal_polar, vel)

    def command(self, ranges: np.ndarray, angles: np.ndarray, subgoal_polar: np.ndarray, vel: np.ndarray,
                deterministic: bool = True) -> np.ndarray:
        """(v, ω) for one robot or a batch; ``ranges`` cleaned, ``subgoal_polar`` = (distance, bearing)."""
        obs = self.observation(ranges, angles, subgoal_polar, vel)
        return action_to_cmd(self.model.act(obs, deterministic=deterministic), self.action_robot)

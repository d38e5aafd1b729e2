"""Continuous (v, ω) Gaussian actor-critic for the low-level obstacle-avoidance policy (HODAT).

CleanRL's continuous PPO agent, kept small for CPU training: a tanh MLP for the action mean, a
state-independent log-std, and a separate tanh MLP critic. Actions live in the normalised box
[-1, 1]^2; :func:`toponav.control.observation.action_to_cmd` maps them to (v, ω) with the robot's
limits, so the network never sees units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.distributions.normal import Normal

from toponav.models.checkpoint import Checkpoint, load_state

KIND = "avoidance_policy"


@dataclass
class PolicyConfig:
    """Network shape; stored in the checkpoint so the module can be rebuilt exactly."""

    obs_dim: int = 37
    act_dim: int = 2
    hidden: int = 64
    layers: int = 2
    init_log_std: float = -0.5


def _layer(n_in: int, n_out: int, std: float = float(np.sqrt(2))) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, 0.0)
    return layer


def _mlp(n_in: int, hidden: int, layers: int, n_out: int, out_std: float) -> nn.Sequential:
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers):
        mods += [_layer(width, hidden), nn.Tanh()]
        width = hidden
    mods.append(_layer(width, n_out, out_std))
    return nn.Sequential(*mods)


class AvoidancePolicy(nn.Module):
    """Gaussian policy + value function over a flat observation vector."""

    def __init__(self, cfg: PolicyConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or PolicyConfig()
        c = self.cfg
        self.critic = _mlp(c.obs_dim, c.hidden, c.layers, 1, 1.0)
        self.actor_mean = _mlp(c.obs_dim, c.hidden, c.layers, c.act_dim, 0.01)
        self.actor_logstd = nn.Parameter(torch.full((1, c.act_dim), float(c.init_log_std)))

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs)

    def distribution(self, obs: torch.Tensor) -> Normal:
        mean = self.actor_mean(obs)
        return Normal(mean, self.actor_logstd.expand_as(mean).exp())

    def get_action_and_value(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        """Sample (or score) an action: returns action, log-prob, entropy, value (CleanRL's signature)."""
        dist = self.distribution(obs)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(1), dist.entropy().sum(1), self.critic(obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """numpy (N, obs_dim) or (obs_dim,) -> normalised actions clipped to [-1, 1]."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        single = x.ndim == 1
        if single:
            x = x[None]
        dist = self.distribution(x)
        a = dist.mean if deterministic else dist.sample()
        out = a.clamp(-1.0, 1.0).numpy()
        return out[0] if single else out

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    @classmethod
    def from_checkpoint(cls, ckpt: Checkpoint) -> AvoidancePolicy:
        """Rebuild from a loaded checkpoint (config["policy"]) and load its weights strictly."""
        from toponav.models.checkpoint import CheckpointError

        raw = ckpt.config.get("policy")
        if not isinstance(raw, dict):
            raise CheckpointError(ckpt.path, "config has no 'policy' section")
        try:
            cfg = PolicyConfig(**raw)
        except TypeError as exc:
            raise CheckpointError(ckpt.path, f"bad policy config: {exc}") from None
        model = cls(cfg)
        load_state(model, ckpt)
        model.eval()
        return model

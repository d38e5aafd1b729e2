"""A small TD-MPC2-style world model for the arm tasks: one short, documented method per component.

Components (TD-MPC2, Hansen et al. 2023; sizes here are small for a CPU):
    encode(obs)        observation -> latent z (MLP, group-normalised z)
    next(z, a)         latent dynamics z' = d(z, a)
    reward(z, a)       predicted reward of taking a in z
    Q(z, a)            ensemble of Q-functions, shape (num_q, ...)
    pi(z)              policy prior: tanh-squashed Gaussian over actions
    value(z, k)        conservative value of z: mean - k * std of the ensemble at a = pi(z)
                       (MoDem-V2's uncertainty-aware choice)

Inputs are the flat 10-vector of :mod:`toponav.manipulation.obs`. The encoder first adds the
relative vectors (cube - EE, goal - cube) and scales metres to order-one numbers: a fixed feature
map, no learned normalisation statistics, so a checkpoint needs no extra state.

Who made the shipped checkpoints (``models/checkpoints/world_model_{push,pickplace}.pt``): the learner
:class:`toponav.learning.world_model_agent.Agent`, driven by ``toponav train world-model`` /
``toponav bench manip`` (:mod:`toponav.experiments.train_world_model`), on our PyBullet scenes
``toponav/PandaPush`` and ``toponav/PandaPickPlace`` (:mod:`toponav.sim.arm`). The exact command is in each
checkpoint's model card (``.md`` beside it) and in its ``meta["command"]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

LOG_STD_MIN, LOG_STD_MAX = -5.0, 1.0


@dataclass
class WorldModelConfig:
    """Sizes of the world model (all plain values, stored in the checkpoint)."""

    obs_dim: int = 10
    action_dim: int = 3
    latent_dim: int = 32
    hidden_dim: int = 128  # 64 learned push far slower (docs/manipulation.md)
    num_q: int = 5
    norm_group: int = 8  # latent is normalised in groups of this size (see LatentNorm)
    feature_scale: float = 10.0  # metres -> encoder input units
    # Where the EE position, achieved goal and desired goal (3 numbers each) start in the flat observation
    # (toponav.manipulation.goal_env.ObsLayout); the defaults are our scenes' 10-vector.
    ee_index: int = 0
    achieved_index: int = 4
    desired_index: int = 7

    def to_dict(self) -> dict:
        return asdict(self)


def mlp(inp: int, hidden: int, out: int, *, layers: int = 2, final_act: nn.Module | None = None) -> nn.Sequential:
    """Linear-LayerNorm-ReLU blocks, then a linear output.

    TD-MPC2 uses Mish; on this CPU build transcendental ops (exp, tanh, Mish) run ~100x slower than
    ReLU (measured), so ReLU it is.
    """
    mods: list[nn.Module] = []
    d = inp
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.LayerNorm(hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, out))
    if final_act is not None:
        mods.append(final_act)
    return nn.Sequential(*mods)


def obs_features(obs: torch.Tensor, scale: float = 10.0, ee: int = 0, achieved: int = 4,
                 desired: int = 7) -> torch.Tensor:
    """The flat observation plus (object - EE) and (goal - object), times ``scale`` (metres -> order one).

    ``ee``, ``achieved``, ``desired``: start indices of those 3-vectors (defaults: our scenes' layout)."""
    p, obj, goal = obs[..., ee:ee + 3], obs[..., achieved:achieved + 3], obs[..., desired:desired + 3]
    return scale * torch.cat([obs, obj - p, goal - obj], dim=-1)


class EnsembleLinear(nn.Module):
    """``num`` independent linear layers applied in one batched matmul: (num, N, in) -> (num, N, out)."""

    def __init__(self, num: int, inp: int, out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(inp)
        self.weight = nn.Parameter(torch.empty(num, inp, out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(num, 1, out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """``members``: indices of the members to run (x then has len(members) rows in front); None = all."""
        if members is None:
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.baddbmm(self.bias[members], x, self.weight[members])


def ensemble_mlp(num: int, inp: int, hidden: int, out: int) -> nn.Sequential:
    """The ensemble version of :func:`mlp` (2 hidden layers); members share only LayerNorm gains."""
    return nn.Sequential(EnsembleLinear(num, inp, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                         EnsembleLinear(num, hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                         EnsembleLinear(num, hidden, out))


class LatentNorm(nn.Module):
    """Bounds the latent: parameter-free LayerNorm over groups of ``group`` numbers.

    TD-MPC2's SimNorm does this with a softmax per group; softmax's exp is the slowest op on
    this CPU (see :func:`mlp`), and a per-group LayerNorm keeps latents equally bounded.
    """

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return F.layer_norm(x.view(*shape[:-1], -1, self.group), (self.group,)).view(shape)


class WorldModel(nn.Module):
    """Encoder, latent dynamics, reward head, Q ensemble and policy prior."""

    def __init__(self, config: WorldModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or WorldModelConfig()
        if cfg.latent_dim % cfg.norm_group:
            raise ValueError("latent_dim must be a multiple of norm_group")
        feat = cfg.obs_dim + 6
        z, h, a = cfg.latent_dim, cfg.hidden_dim, cfg.action_dim
        self._encoder = mlp(feat, h, z, final_act=LatentNorm(cfg.norm_group))
        self._dynamics = mlp(z + a, h, z, final_act=LatentNorm(cfg.norm_group))
        self._reward = mlp(z + a, h, 1)
        self._qs = ensemble_mlp(cfg.num_q, z + a, h, 1)
        self._pi = mlp(z, h, 2 * a)
        # zero-init the last layers so early values do not explode (TD-MPC2 does this too)
        nn.init.zeros_(self._qs[-1].weight)
        nn.init.zeros_(self._qs[-1].bias)
        nn.init.zeros_(self._reward[-1].weight)
        nn.init.zeros_(self._reward[-1].bias)

    # ----- components ---------------------------------------------------------------------
    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """Fixed feature map: obs plus (cube - EE) and (goal - cube), scaled to order one."""
        c = self.config
        return obs_features(obs, c.feature_scale, c.ee_index, c.achieved_index, c.desired_index)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Observation (..., obs_dim) -> latent (..., latent_dim)."""
        return self._encoder(self.features(obs))

    def next(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Latent dynamics: the latent after taking action ``a`` in ``z``."""
        return self._dynamics(torch.cat([z, a], dim=-1))

    def reward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Predicted reward (..., 1) of taking ``a`` in ``z``."""
        return self._reward(torch.cat([z, a], dim=-1))

    def Q(self, z: torch.Tensor, a: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N802
        """The ensemble members' Q-values (TD-MPC2's name), shape (num_q, ..., 1).

        ``members`` (indices): run only those, shape (len(members), ..., 1): the TD target needs two
        random members, and computing all five to keep two cost 3/5 of its Q time for nothing."""
        za = torch.cat([z, a], dim=-1)
        lead = za.shape[:-1]
        n = self.config.num_q if members is None else len(members)
        x = za.reshape(1, -1, za.shape[-1]).expand(n, -1, -1)
        for layer in self._qs:
            x = layer(x, members) if isinstance(layer, EnsembleLinear) else layer(x)
        return x.reshape(n, *lead, 1)

    def pi(self, z: torch.Tensor, *, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Policy prior: (action in [-1, 1], mean action, log-probability of the action)."""
        mu, log_std = self._pi(z).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1.0)
        mean = torch.tanh(mu)
        if deterministic:
            return mean, mean, torch.zeros_like(mu[..., :1])
        eps = torch.randn_like(mu)
        pre = mu + eps * log_std.exp()
        action = torch.tanh(pre)
        log_prob = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1, keepdim=True)
        log_prob = log_prob - torch.log(1.0 - action.pow(2) + 1e-6).sum(-1, keepdim=True)
        return action, mean, log_prob

    def value(self, z: torch.Tensor, k: float = 1.0) -> torch.Tensor:
        """Conservative state value: mean - k * std over the Q ensemble at the prior's mean action."""
        _, mean, _ = self.pi(z, deterministic=True)
        qs = self.Q(z, mean)
        return qs.mean(0) - k * qs.std(0)


#: Checkpoint kind string for :mod:`toponav.models.checkpoint`.
KIND = "world_model"


def save_world_model(path, model: WorldModel, meta: dict | None = None):
    """Write the model's weights and config (checkpoint kind ``world_model``)."""
    from toponav.models.checkpoint import save_checkpoint

    return save_checkpoint(path, KIND, model.state_dict(), model.config.to_dict(), meta)


def load_world_model(path) -> tuple[WorldModel, dict]:
    """Rebuild a WorldModel from a checkpoint; raises CheckpointError on any problem with the file."""
    from toponav.models.checkpoint import CheckpointError, load_checkpoint, load_state

    ckpt = load_checkpoint(path, KIND)
    try:
        config = WorldModelConfig(**ckpt.config)
        model = WorldModel(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"config does not build a world model ({exc})") from None
    load_state(model, ckpt)
    model.eval()
    return model, ckpt.meta

"""Model-free baseline: SAC (Haarnoja et al. 2018) given exactly what the world-model agent gets.

Same demos (in the replay, a fixed share of every batch), same behaviour-cloning pre-training of the
actor, same decaying BC term on demo samples, same hindsight relabelling, same observation
features, same number of updates per environment step. Only the learner differs: twin Q-functions
with target networks and an automatically tuned entropy temperature, no model, no planning.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from toponav.config import param
from toponav.models.world_model import mlp, obs_features


@dataclass
class SACConfig:
    """SAC settings (BC/HER/demo settings mirror :class:`toponav.learning.world_model_agent.AgentConfig`)."""

    lr: float = param(1e-3, "Adam learning rate", min=1e-6, max=1.0)
    batch_size: int = param(128, "samples per update", min=1)
    hidden_dim: int = param(64, "hidden units", min=8)
    discount: float = param(0.95, "TD discount", min=0.0, max=1.0)
    tau: float = param(0.01, "target tracking rate", min=0.0, max=1.0)
    bc_coef: float = param(5.0, "BC weight on demo samples (decays like the world model's)", min=0.0)
    bc_decay_steps: int = param(50000, "env steps over which the BC term decays to a tenth", min=1)
    her_prob: float = param(0.5, "hindsight relabelling probability", min=0.0, max=1.0)
    demo_ratio: float = param(0.25, "share of each batch from demos", min=0.0, max=1.0)


class Actor(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, hidden: int, index: tuple[int, int, int] = (0, 4, 7)) -> None:
        super().__init__()
        self.net = mlp(obs_dim + 6, hidden, 2 * action_dim)
        self.index = index  # start of EE, achieved goal, desired goal (the world model's feature map)

    def forward(self, obs: torch.Tensor, deterministic: bool = False):
        mu, log_std = self.net(obs_features(obs, 10.0, *self.index)).chunk(2, dim=-1)
        log_std = -5.0 + 3.0 * (torch.tanh(log_std) + 1.0)
        mean = torch.tanh(mu)
        if deterministic:
            return mean, mean, torch.zeros_like(mu[..., :1])
        eps = torch.randn_like(mu)
        action = torch.tanh(mu + eps * log_std.exp())
        logp = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1, keepdim=True)
        logp = logp - torch.log(1.0 - action.pow(2) + 1e-6).sum(-1, keepdim=True)
        return action, mean, logp


class Critic(nn.Module):
    def __init__(self, obs_dim: int, action_dim: int, hidden: int, index: tuple[int, int, int] = (0, 4, 7)) -> None:
        super().__init__()
        self.q1 = mlp(obs_dim + 6 + action_dim, hidden, 1)
        self.q2 = mlp(obs_dim + 6 + action_dim, hidden, 1)
        self.index = index

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs_features(obs, 10.0, *self.index), action], dim=-1)
        return self.q1(x), self.q2(x)


class SACAgent:
    """Actor, twin critic, targets, temperature; ``act``/``update``/``bc_update`` like the world-model agent."""

    def __init__(self, obs_dim: int, action_dim: int, config: SACConfig | None = None, seed: int = 0,
                 index: tuple[int, int, int] = (0, 4, 7)) -> None:
        """``index``: start of the EE position, achieved goal and desired goal in the flat observation."""
        self.config = c = config or SACConfig()
        self.actor = Actor(obs_dim, action_dim, c.hidden_dim, index)
        self.critic = Critic(obs_dim, action_dim, c.hidden_dim, index)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.tensor(math.log(0.1), requires_grad=True)
        self.target_entropy = -float(action_dim)
        self.actor_optim = torch.optim.Adam(self.actor.parameters(), lr=c.lr)
        self.critic_optim = torch.optim.Adam(self.critic.parameters(), lr=c.lr)
        self.alpha_optim = torch.optim.Adam([self.log_alpha], lr=c.lr)
        self.generator = torch.Generator().manual_seed(seed)

    def begin_episode(self, step: int, *, eval_mode: bool = False, mode: str = "policy") -> None:
        """Nothing to reset (kept so the trainer drives both agents the same way)."""

    @torch.no_grad()
    def act(self, obs: np.ndarray, *, explore: bool = True) -> np.ndarray:
        a, mean, _ = self.actor(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0), deterministic=not explore)
        return (a if explore else mean)[0].numpy().astype(np.float32)

    def bc_update(self, obs: torch.Tensor, actions: torch.Tensor) -> float:
        _, mean, _ = self.actor(obs, deterministic=True)
        loss = F.mse_loss(mean, actions)
        self.actor_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optim.step()
        return float(loss.detach())

    def update(self, batch, demo=None, step: int = 0) -> dict:
        """One SAC step on 1-step transitions: obs (2,B,D), actions (1,B,A), rewards (1,B)."""
        c = self.config
        obs, actions, rewards = batch[:3]
        n_demo = 0
        if demo is not None:
            n_demo = demo[0].shape[1]
            obs, actions, rewards = (torch.cat([x, d], dim=1) for x, d in zip(batch[:3], demo[:3]))
            bc_target = demo[3][0] if len(demo) > 3 else actions[0, -n_demo:]  # labels where the demos have them
        o, o2, a, r = obs[0], obs[1], actions[0], rewards[0].unsqueeze(-1)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            a2, _, logp2 = self.actor(o2)
            q1t, q2t = self.critic_target(o2, a2)
            target = r + c.discount * (torch.min(q1t, q2t) - alpha * logp2)
        q1, q2 = self.critic(o, a)
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_optim.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optim.step()

        pa, _, logp = self.actor(o)
        q1p, q2p = self.critic(o, pa)
        actor_loss = (alpha * logp - torch.min(q1p, q2p)).mean()
        if n_demo and c.bc_coef > 0:
            _, mean, _ = self.actor(o[-n_demo:], deterministic=True)
            actor_loss = actor_loss + c.bc_coef * 0.1 ** (step / c.bc_decay_steps) * F.mse_loss(mean, bc_target)
        self.actor_optim.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optim.step()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_optim.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optim.step()
        with torch.no_grad():
            for p, tp in zip(self.critic.parameters(), self.critic_target.parameters()):
                tp.lerp_(p, c.tau)
        return {"total": float(critic_loss.detach()), "actor": float(actor_loss.detach()), "alpha": float(alpha)}

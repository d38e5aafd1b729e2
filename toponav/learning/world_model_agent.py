"""The demo-bootstrapped world-model agent (TD-MPC2 learning, MoDem-V2 bootstrapping).

What it holds: the world model, a slowly tracking target copy, two optimisers and the MPPI planner.
What it does:
    bc_update(batch)      behaviour cloning of the policy prior (and encoder) on demo transitions
    update(batch, demo)   one TD-MPC2 step: latent consistency + reward + TD value losses over an
                          H-step latent rollout, then a policy-prior step (max Q + entropy, plus a
                          decaying BC term on demo samples)
    act(obs, ...)         an action from the BC policy (exploration centred on it) or from MPPI,
                          chosen per episode by the agency schedule
The trainer (:mod:`toponav.experiments.train_world_model`) owns env, buffers and logging.

This is the learner that made both shipped world-model checkpoints (``models/checkpoints/world_model_push.pt``
and ``world_model_pickplace.pt``), on our PyBullet scenes ``toponav/PandaPush`` / ``toponav/PandaPickPlace``
(:class:`toponav.sim.arm.env.PandaTaskEnv`, seen through :func:`toponav.learning.goal_envs.make_goal_env`);
each checkpoint's model card and its ``meta["command"]`` give the exact command. Training only: the deployed
controller (:mod:`toponav.manipulation.controller`) loads the model and plans with MPPI, without this class.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from toponav.config import param
from toponav.manipulation.mppi import MPPI, MPPIConfig
from toponav.models.world_model import WorldModel, WorldModelConfig


@dataclass
class AgentConfig:
    """Learning settings of the world-model agent."""

    lr: float = param(1e-3, "Adam learning rate (model)", min=1e-6, max=1.0)
    pi_lr: float = param(1e-3, "Adam learning rate (policy prior)", min=1e-6, max=1.0)
    batch_size: int = param(128, "samples per update", min=1, max=8192)
    horizon: int = param(3, "latent rollout length in training", min=1, max=20)
    discount: float = param(0.95, "TD discount", min=0.0, max=1.0)
    rho: float = param(0.5, "per-step weight decay of rollout losses", min=0.0, max=1.0)
    tau: float = param(0.01, "target network tracking rate", min=0.0, max=1.0)
    consistency_coef: float = param(20.0, "weight of the latent consistency loss", min=0.0)
    reward_coef: float = param(1.0, "weight of the reward loss", min=0.0)
    value_coef: float = param(1.0, "weight of the TD value loss", min=0.0)
    entropy_coef: float = param(1e-3, "policy entropy bonus", min=0.0)
    bc_coef: float = param(5.0, "weight of the BC term on demo samples in the policy loss (decays)", min=0.0)
    bc_decay_steps: int = param(50000, "env steps over which the BC term decays to a tenth", min=1)
    grad_clip: float = param(20.0, "gradient-norm clip", min=0.0)
    pi_q_members: int = param(5, "Q-functions (random each update) averaged in the policy-prior loss: TD-MPC2 "
                              "averages 2 of its 5; all 5 cost 2.5x the Q time of the policy step", min=1, max=32)
    explore_std: float = param(0.3, "Gaussian exploration noise around the policy (training)", min=0.0, max=2.0)
    agency_start: int = param(2000, "env steps of pure BC-policy acting before MPC takes over", min=0)
    agency_steps: int = param(8000, "env steps over which acting moves from BC policy to MPC", min=1)
    her_prob: float = param(0.5, "probability of hindsight goal relabelling per sample", min=0.0, max=1.0)
    demo_ratio: float = param(0.25, "share of each batch drawn from the demo buffer", min=0.0, max=1.0)
    mppi: MPPIConfig = field(default_factory=MPPIConfig)


def agency(step: int, cfg: AgentConfig) -> float:
    """Probability that an episode starting at env step ``step`` is driven by MPC rather than the BC policy."""
    return float(np.clip((step - cfg.agency_start) / cfg.agency_steps, 0.0, 1.0))


class Agent:
    """World model + target + optimisers + planner."""

    def __init__(self, model_config: WorldModelConfig, config: AgentConfig | None = None, seed: int = 0) -> None:
        self.config = config or AgentConfig()
        self.model = WorldModel(model_config)
        self.target = copy.deepcopy(self.model).requires_grad_(False)
        pi_params = list(self.model._pi.parameters())
        ids = {id(p) for p in pi_params}
        # foreach: one kernel per step for all parameter tensors; the CPU default loops over them in
        # Python, a tenth of each update's time with this many small tensors
        adam = partial(torch.optim.Adam, foreach=True)
        self.optim = adam([p for p in self.model.parameters() if id(p) not in ids], lr=self.config.lr)
        self.pi_optim = adam(pi_params, lr=self.config.pi_lr, eps=1e-5)
        self.bc_optim = adam(list(self.model._encoder.parameters()) + pi_params, lr=self.config.lr)
        self._params, self._target_params = list(self.model.parameters()), list(self.target.parameters())
        self.planner = MPPI(self.config.mppi, model_config.action_dim)
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.q_scale = 1.0
        self.use_mpc = False

    # ----- acting -------------------------------------------------------------------------
    def begin_episode(self, step: int, *, eval_mode: bool = False, mode: str = "mpc") -> None:
        """Choose who acts this episode (BC policy or MPC, per the agency schedule) and reset the warm start."""
        self.planner.reset()
        if eval_mode:
            self.use_mpc = mode == "mpc"
        else:
            self.use_mpc = self.rng.random() < agency(step, self.config)

    @torch.inference_mode()  # lighter than no_grad: plans run ~400 small ops
    def act(self, obs: np.ndarray, *, explore: bool = True) -> np.ndarray:
        """Action in [-1, 1]^A for one flat observation."""
        z = self.model.encode(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))
        if self.use_mpc:
            a = self.planner.plan(self.model, z, explore=explore, generator=self.generator)
        else:
            _, a, _ = self.model.pi(z, deterministic=True)
            a = a[0]
            if explore:
                a = a + self.config.explore_std * torch.randn(a.shape, generator=self.generator)
        return a.clamp(-1, 1).numpy().astype(np.float32)

    # ----- learning -----------------------------------------------------------------------
    def bc_update(self, obs: torch.Tensor, actions: torch.Tensor) -> float:
        """Behaviour cloning: regress the prior's mean action onto demo actions (obs (B,D), actions (B,A))."""
        _, mean, _ = self.model.pi(self.model.encode(obs), deterministic=True)
        loss = F.mse_loss(mean, actions)
        self.bc_optim.zero_grad(set_to_none=True)
        loss.backward()
        self.bc_optim.step()
        return float(loss.detach())

    def bc_weight(self, step: int) -> float:
        """Weight of the BC terms at env step ``step`` (decays tenfold every ``bc_decay_steps``)."""
        return self.config.bc_coef * 0.1 ** (step / self.config.bc_decay_steps)

    def model_loss(self, obs: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, n_demo: int = 0,
                   step: int = 0, bc_target: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """TD-MPC2's joint loss on a batch of subsequences: obs (H+1,B,D), actions (H,B,A), rewards (H,B).

        The last ``n_demo`` columns are demo samples: a BC term on them (towards ``bc_target`` (H,n_demo,A),
        default their executed actions) also reaches the encoder, so representation learning does not wash
        out what the policy prior cloned.
        """
        c = self.config
        H = actions.shape[0]
        with torch.no_grad():
            next_z = self.model.encode(obs[1:])
            target_z = self.target.encode(obs[1:])
            _, a_next, _ = self.model.pi(target_z)
            pick = torch.randperm(self.model.config.num_q, generator=self.generator)[:2]
            tq = self.target.Q(target_z, a_next, members=pick)
            td = rewards.unsqueeze(-1) + c.discount * tq.min(0).values
        z = self.model.encode(obs[0])
        zs = [z]
        consistency = torch.zeros(())
        for t in range(H):
            z = self.model.next(z, actions[t])
            consistency = consistency + c.rho**t * F.mse_loss(z, next_z[t])
            zs.append(z)
        z_roll = torch.stack(zs[:-1])
        reward_pred = self.model.reward(z_roll, actions)
        qs = self.model.Q(z_roll, actions)
        weights = torch.tensor([c.rho**t for t in range(H)]).view(H, 1, 1)
        reward_loss = ((reward_pred - rewards.unsqueeze(-1)).pow(2) * weights).mean(dim=(1, 2)).sum()
        value_loss = ((qs - td.unsqueeze(0)).pow(2) * weights.unsqueeze(0)).mean(dim=(2, 3)).sum(1).mean()
        total = (c.consistency_coef * consistency + c.reward_coef * reward_loss + c.value_coef * value_loss) / H
        if n_demo > 0 and c.bc_coef > 0:
            _, mean, _ = self.model.pi(zs[0][-n_demo:], deterministic=True)
            target = actions[:, -n_demo:] if bc_target is None else bc_target
            total = total + self.bc_weight(step) * F.mse_loss(mean, target[0])
        info = {"consistency": float(consistency.detach()), "reward": float(reward_loss.detach()),
                "value": float(value_loss.detach()), "total": float(total.detach())}
        return total, info | {"_z": torch.stack(zs).detach()}

    def update(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
               demo: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None, step: int = 0,
               bc_all: bool = False) -> dict:
        """One gradient step of the model (all heads) and one of the policy prior.

        ``bc_all``: ``batch`` itself is demo data (pre-training), so every sample carries the BC terms.
        Demo data may carry a fourth tensor, the BC labels (:mod:`toponav.learning.buffer`)."""
        obs, actions, rewards = batch[:3]
        bc_target = None
        if demo is not None:
            n_demo = demo[0].shape[1]
            obs, actions, rewards = (torch.cat([x, d], dim=1) for x, d in zip(batch[:3], demo[:3]))
            bc_target = demo[3] if len(demo) > 3 else None
        else:
            n_demo = obs.shape[1] if bc_all else 0
            bc_target = batch[3] if bc_all and len(batch) > 3 else None
        if n_demo and bc_target is None:
            bc_target = actions[:, -n_demo:]
        total, info = self.model_loss(obs, actions, rewards, n_demo, step, bc_target)
        z_all = info.pop("_z")
        self.optim.zero_grad(set_to_none=True)
        total.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._params, self.config.grad_clip, foreach=True)
        self.optim.step()
        info |= self._policy_update(z_all[:-1], bc_target, n_demo, step)
        with torch.no_grad():
            torch._foreach_lerp_(self._target_params, self._params, self.config.tau)
        return info

    def _policy_update(self, z: torch.Tensor, bc_target: torch.Tensor | None, n_demo: int, step: int) -> dict:
        """Policy-prior step on the rollout latents z (H,B,Z); BC towards ``bc_target`` (H,n_demo,A) on demo columns."""
        c = self.config
        a, _, log_prob = self.model.pi(z)
        # The Q-functions only pass the gradient on to the action: built without their own weight gradients
        # (which the model's next zero_grad would discard anyway), the backward pass skips half its Q matmuls.
        q_params = list(self.model._qs.parameters())
        for p in q_params:
            p.requires_grad_(False)
        members = None
        if c.pi_q_members < self.model.config.num_q:
            members = torch.randperm(self.model.config.num_q, generator=self.generator)[:c.pi_q_members]
        try:
            q = self.model.Q(z, a, members=members).mean(0)
        finally:
            for p in q_params:
                p.requires_grad_(True)
        with torch.no_grad():
            self.q_scale = 0.99 * self.q_scale + 0.01 * max(float(q.abs().mean()), 1.0)
        loss = ((c.entropy_coef * log_prob - q) / self.q_scale).mean()
        bc = torch.zeros(())
        if n_demo > 0 and c.bc_coef > 0:
            _, mean, _ = self.model.pi(z[:, -n_demo:], deterministic=True)
            bc = F.mse_loss(mean, bc_target)
            loss = loss + self.bc_weight(step) * bc
        self.pi_optim.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model._pi.parameters(), c.grad_clip, foreach=True)
        self.pi_optim.step()
        return {"pi": float(loss.detach()), "bc": float(bc.detach()), "q_mean": float(q.detach().mean())}

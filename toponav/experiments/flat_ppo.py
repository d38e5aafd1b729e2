"""Flat PPO baselines for ``toponav bench explore``: PPO with the sparse reward, and PPO + RND.

"Flat" = no topological map and no sub-goals: the policy maps the local observation (scan descriptor, pose
encoding, goal vector, local visit count; :func:`toponav.learning.explore_agents.flat_observation`) to one
of 8 primitive moves in :class:`toponav.learning.explore_env.ExploreEnv`, as the RND-PPO AGV paper
(arXiv 2404.12594) does with its discrete actions. A compact CleanRL-style PPO lives here because the
control helper's PPO trains the continuous low-level policy on the twin, a different action space.

PPO + RND follows CleanRL's ``ppo_rnd``: two value heads (episodic extrinsic, non-episodic intrinsic
returns), advantages ``ext_coef * A_ext + int_coef * A_int``, RND on the same observation, intrinsic reward
normalised by the running std of the discounted intrinsic return.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from toponav.learning.explore_agents import FLAT_OBS_DIM, flat_observation
from toponav.learning.explore_env import ExploreEnv
from toponav.learning.gae import gae
from toponav.models.rnd import RND, RNDConfig
from toponav.seeding import seed_everything
from toponav.worlds.model import World

N_ACTIONS = 8


@dataclass
class PPOArgs:
    """Flat PPO settings (ours; CleanRL's defaults scaled down for two shared cores)."""

    total_moves: int = 60000
    """primitive moves over all parallel envs"""
    num_envs: int = 8
    rollout: int = 64
    """moves per env per update"""
    lr: float = 3e-4
    gamma: float = 0.99
    gamma_int: float = 0.99
    lam: float = 0.95
    epochs: int = 4
    minibatches: int = 4
    clip: float = 0.2
    ent_coef: float = 0.01
    ext_coef: float = 2.0
    int_coef: float = 1.0
    rnd: bool = False
    goal_fraction: float = 0.5
    explore_budget: int = 600
    goal_budget: int = 2000
    seed: int = 0
    time_limit: float = 600.0
    """wall-clock seconds; training stops early when reached"""


class ActorCritic(nn.Module):
    def __init__(self, obs_dim: int = FLAT_OBS_DIM, hidden: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.pi = nn.Linear(hidden, N_ACTIONS)
        self.v_ext = nn.Linear(hidden, 1)
        self.v_int = nn.Linear(hidden, 1)

    def forward(self, obs: torch.Tensor) -> tuple[Categorical, torch.Tensor, torch.Tensor]:
        h = self.body(obs)
        return Categorical(logits=self.pi(h)), self.v_ext(h).squeeze(-1), self.v_int(h).squeeze(-1)

    def act(self, obs: np.ndarray, greedy: bool = False) -> int:
        with torch.no_grad():
            dist, _, _ = self(torch.as_tensor(obs, dtype=torch.float32)[None])
        return int(dist.probs.argmax()) if greedy else int(dist.sample())


@dataclass
class _Slot:
    env: ExploreEnv
    goal: tuple[float, float] | None = None
    budget: int = 0
    ret: float = 0.0


@dataclass
class TrainLog:
    curve: list[dict] = field(default_factory=list)  # per finished episode
    moves: int = 0
    wall_s: float = 0.0


def train_flat_ppo(worlds: list[World], args: PPOArgs, log_every: int = 0) -> tuple[ActorCritic, TrainLog]:
    rng = seed_everything(args.seed, python=False, numpy=False)  # numpy's global state belongs to the caller
    envs_by_world = [ExploreEnv(w) for w in worlds]
    net = ActorCritic()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, eps=1e-5)
    rnd = RND(FLAT_OBS_DIM, RNDConfig(warmup_samples=256), seed=args.seed) if args.rnd else None
    slots: list[_Slot] = []
    log = TrainLog()
    t0 = time.time()

    def new_episode(slot: _Slot | None) -> _Slot:
        env = envs_by_world[int(rng.integers(0, len(envs_by_world)))].fresh()
        goal = env.world.goal if rng.random() < args.goal_fraction else None
        return _Slot(env, goal, args.goal_budget if goal is not None else args.explore_budget)

    slots = [new_episode(None) for _ in range(args.num_envs)]
    obs = np.stack([flat_observation(s.env, s.goal) for s in slots])
    if rnd is not None:  # RND warm-up on random-move observations (stats only)
        rnd.warmup(obs)
    N, T = args.num_envs, args.rollout
    while log.moves < args.total_moves and time.time() - t0 < args.time_limit:
        b_obs = np.zeros((T, N, FLAT_OBS_DIM), np.float32)
        b_act = np.zeros((T, N), np.int64)
        b_logp = np.zeros((T, N), np.float32)
        b_rew = np.zeros((T, N), np.float32)
        b_rint = np.zeros((T, N), np.float32)
        b_done = np.zeros((T, N), np.float32)
        b_vext = np.zeros((T, N), np.float32)
        b_vint = np.zeros((T, N), np.float32)
        for t in range(T):
            with torch.no_grad():
                dist, ve, vi = net(torch.as_tensor(obs))
                a = dist.sample()
            b_obs[t], b_act[t], b_logp[t] = obs, a.numpy(), dist.log_prob(a).numpy()
            b_vext[t], b_vint[t] = ve.numpy(), vi.numpy()
            for i, s in enumerate(slots):
                s.env.primitive(int(a[i]))
                done = s.env.steps >= s.budget
                if s.goal is not None and s.env.at_goal(s.goal):
                    b_rew[t, i] = 1.0
                    done = True
                if done:
                    log.curve.append({"moves": log.moves + t * N + i, "wall_s": round(time.time() - t0, 1),
                                      "goal": s.goal is not None, "success": bool(b_rew[t, i] > 0),
                                      "coverage": round(s.env.coverage(), 4)})
                    slots[i] = new_episode(s)
                b_done[t, i] = float(done)
            obs = np.stack([flat_observation(s.env, s.goal) for s in slots])
            if rnd is not None:
                b_rint[t] = rnd.intrinsic_reward(obs)
        log.moves += T * N
        with torch.no_grad():
            _, ve_last, vi_last = net(torch.as_tensor(obs))
        adv = gae(b_rew, b_vext, ve_last.numpy(), b_done, args.gamma, args.lam)  # b_done: ended with step t
        ret_ext = adv + b_vext
        if rnd is not None:
            adv_i = gae(b_rint, b_vint, vi_last.numpy(), np.zeros_like(b_done), args.gamma_int, args.lam)
            ret_int = adv_i + b_vint
            adv = args.ext_coef * adv + args.int_coef * adv_i
        else:
            ret_int = np.zeros_like(ret_ext)
        flat = lambda x: torch.as_tensor(x.reshape(T * N, *x.shape[2:]))  # noqa: E731
        o, act, lp, A, Re, Ri = map(flat, (b_obs, b_act, b_logp, adv, ret_ext, ret_int))
        idx = np.arange(T * N)
        mb = T * N // args.minibatches
        for _ in range(args.epochs):
            rng.shuffle(idx)
            for k in range(args.minibatches):
                j = torch.as_tensor(idx[k * mb:(k + 1) * mb])
                dist, ve, vi = net(o[j])
                ratio = (dist.log_prob(act[j]) - lp[j]).exp()
                a_n = (A[j] - A[j].mean()) / (A[j].std() + 1e-8)
                pg = torch.max(-a_n * ratio, -a_n * ratio.clamp(1 - args.clip, 1 + args.clip)).mean()
                v_loss = 0.5 * ((ve - Re[j]) ** 2).mean() + (0.5 * ((vi - Ri[j]) ** 2).mean() if rnd else 0.0)
                loss = pg + 0.5 * v_loss - args.ent_coef * dist.entropy().mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 0.5)
                opt.step()
        if rnd is not None:
            for k in range(args.minibatches):
                rnd.train_step(b_obs.reshape(T * N, -1)[idx[k * mb:(k + 1) * mb]])
        if log_every and (log.moves // (T * N)) % log_every == 0:
            eps = [c for c in log.curve[-40:]]
            succ = [c["success"] for c in eps if c["goal"]]
            cov = [c["coverage"] for c in eps if not c["goal"]]
            print(f"  ppo{'+rnd' if rnd else ''} moves {log.moves:6d} goal-success {np.mean(succ) if succ else 0:.2f} "
                  f"explore-coverage {np.mean(cov) if cov else 0:.3f} [{time.time() - t0:.0f} s]", flush=True)
    log.wall_s = time.time() - t0
    net.eval()
    return net, log

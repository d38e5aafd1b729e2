"""Whole episodes on a flat goal-env: roll one, collect scripted demos, clone them, measure success.

Every arm learner (the world model, our SAC, the SB3 baselines) is trained and evaluated through these
functions, so all of them see the same demos and are scored on the same fixed evaluation seeds by the same
two rules (:class:`EvalResult`): *held*, ``info["is_success"]`` at the last step of a fixed-length episode
(see :mod:`toponav.learning.flat_goal_env`), and *reached*, ``info["is_success"]`` at any step, which is
panda-gym's own success (its episodes end the moment the object reaches the goal). The env is any
:class:`toponav.learning.flat_goal_env.FlatGoalEnv`; an agent is anything with
``begin_episode(step, eval_mode=, mode=)`` and ``act(obs, explore=)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from toponav.learning.buffer import EpisodeBuffer
from toponav.learning.demos import scripted_policy
from toponav.learning.flat_goal_env import FlatGoalEnv

#: Action noise of the scripted demos (they then cover recovery states; every shipped checkpoint used it).
DEMO_NOISE = 0.2


def make_buffer(env: FlatGoalEnv, capacity: int, *, labels: bool = False) -> EpisodeBuffer:
    """Episode replay shaped for ``env``: its layout, episode length and own reward for relabelling."""
    lay = env.layout
    return EpisodeBuffer(capacity, env.max_steps, lay.dim, env.action_space.shape[0], achieved=lay.achieved_slice,
                         desired=lay.desired_slice, reward_fn=env.compute_reward, labels=labels)


class Episode(NamedTuple):
    """One rolled episode: obs (T+1, D), actions (T, A), rewards (T,), and its two success flags."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    success: bool  # held: the object is at the goal at the last step
    reached: bool  # reached the goal at some step (panda-gym's own success: its episodes would end there)


class EvalResult(NamedTuple):
    """Success rates over the evaluation episodes under both rules (see the module doc)."""

    held: float
    reached: float


def run_episode(env: FlatGoalEnv, act: Callable[[np.ndarray], np.ndarray], seed: int) -> Episode:
    """Roll one full episode with ``act(obs) -> action``."""
    obs, _ = env.reset(seed=seed)
    T = env.max_steps
    all_obs = np.zeros((T + 1, env.layout.dim), dtype=np.float32)
    all_act = np.zeros((T, env.action_space.shape[0]), dtype=np.float32)
    all_rew = np.zeros(T, dtype=np.float32)
    all_obs[0] = obs
    info: dict[str, Any] = {"is_success": False}
    reached = False
    for t in range(T):
        a = np.asarray(act(obs), dtype=np.float32)
        obs, r, _, _, info = env.step(a)
        all_obs[t + 1], all_act[t], all_rew[t] = obs, a, r
        reached = reached or bool(info["is_success"])
    return Episode(all_obs, all_act, all_rew, bool(info["is_success"]), reached)


def collect_demos(env: FlatGoalEnv, n: int, noise: float, seed: int, keep: str = "all",
                  labels: str = "executed") -> tuple[EpisodeBuffer, float, int]:
    """``n`` scripted demos (noisy) into their own buffer; returns it, the attempts' success rate and attempts.

    ``keep="successful"`` stores only demos that succeed, trying up to ``5 n`` episodes (MoDem's demos
    are successful ones); fewer than ``n`` are kept if the script fails that often. ``labels``: what
    behaviour cloning learns from, the noisy action ``executed`` or the ``clean`` action the script meant
    (stored beside the executed one, see :mod:`toponav.learning.buffer`)."""
    if labels not in ("executed", "clean"):
        raise ValueError(f"labels must be 'executed' or 'clean', got {labels!r}")
    buf = make_buffer(env, max(n, 1), labels=labels == "clean")
    if n == 0:
        return buf, 0.0, 0
    rng = np.random.default_rng(seed + 7919)
    script = scripted_policy(env)
    meant: list[np.ndarray] = []

    def policy(obs: np.ndarray) -> np.ndarray:
        a = script(obs)
        if labels == "clean":
            meant.append(np.asarray(a, dtype=np.float32))
        return np.clip(a + noise * rng.standard_normal(a.shape), -1.0, 1.0)

    wins = attempts = 0
    while buf.size < n and attempts < (5 * n if keep == "successful" else n):
        meant.clear()
        o, a, r, ok, _ = run_episode(env, policy, seed=10_000_000 + seed * 1000 + attempts)
        attempts += 1
        wins += ok
        if ok or keep == "all":
            buf.add(o, a, r, np.asarray(meant) if labels == "clean" else None)
    return buf, wins / attempts, attempts


def evaluate(env: FlatGoalEnv, agent: Any, episodes: int, seed: int, mode: str) -> EvalResult:
    """Success rates of ``mode`` ("mpc" or "policy") over fixed evaluation seeds (no exploration noise)."""
    held = reached = 0
    for i in range(episodes):
        agent.begin_episode(0, eval_mode=True, mode=mode)
        ep = run_episode(env, lambda o: agent.act(o, explore=False), seed=20_000_000 + seed * 1000 + i)
        held += ep.success
        reached += ep.reached
    return EvalResult(held / episodes, reached / episodes)


def behaviour_clone(agent: Any, demos: EpisodeBuffer, iters: int, rng: np.random.Generator) -> list[float]:
    """BC pre-training of encoder + policy prior on demo transitions (their labels where the buffer has them)."""
    losses = []
    n = demos.size * demos.T
    if n == 0:
        return losses
    obs = torch.from_numpy(demos.obs[: demos.size, :-1].reshape(n, -1))
    target = demos.act if demos.labels is None else demos.labels
    act = torch.from_numpy(target[: demos.size].reshape(n, -1))
    for _ in range(iters):
        idx = torch.from_numpy(rng.integers(0, n, size=min(agent.config.batch_size, n)))
        losses.append(agent.bc_update(obs[idx], act[idx]))
    return losses

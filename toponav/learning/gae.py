"""Generalised advantage estimation (Schulman et al. 2016), written once for every PPO trainer here.

Both trainers call this one function: ``toponav train policy`` with torch tensors, the flat PPO baselines of
``toponav bench explore`` with numpy arrays (the arithmetic is plain operators, so either works and each
caller gets exactly the numbers it got from its own loop before). The done convention is the one that
reads most directly: ``dones[t]`` is 1 where the episode *ended with* step ``t`` (the env's done flag
returned by step ``t``), so no value is bootstrapped across it. CleanRL's buffers store the flag of the
step *before* instead (``dones[t]`` = obs ``t`` starts a new episode); :func:`ended_after` converts them.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

Array = TypeVar("Array")  # np.ndarray or torch.Tensor: anything with zeros_like-able elementwise arithmetic


def gae(rewards: Array, values: Array, next_value: Array, dones: Array, gamma: float, lam: float) -> Array:
    """Advantages ``A[t] = sum_k (gamma lam)^k delta[t + k]``, cut where an episode ended.

    ``rewards``, ``values``, ``dones``: (T, N); ``next_value``: the value of the observation after the last
    step (N,) or (1, N); ``dones[t]`` = 1 where the episode ended with step ``t``.
    ``delta[t] = r[t] + gamma V[t+1] (1 - done[t]) - V[t]``. Returns (T, N), same type as ``rewards``.
    """
    steps = len(rewards)
    advantages = _zeros_like(rewards)
    last = 0.0
    for t in reversed(range(steps)):
        next_values = next_value if t == steps - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        advantages[t] = last
    return advantages


def ended_after(starts: Array, next_start: Array) -> Array:
    """CleanRL's flags (``starts[t]`` = obs ``t`` begins an episode; ``next_start`` for the obs after the
    rollout) as :func:`gae`'s ``dones`` (episode ended with step ``t``): shifted one step earlier."""
    if isinstance(starts, np.ndarray):
        return np.concatenate([starts[1:], np.asarray(next_start)[None]])
    import torch

    return torch.cat([starts[1:], next_start[None]])


def _zeros_like(x: Array) -> Array:
    if isinstance(x, np.ndarray):
        return np.zeros_like(x)
    import torch

    return torch.zeros_like(x)

"""The one GAE: against a direct sum over each episode's remaining steps, and bit-identical to the loops it replaced."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toponav.learning.gae import ended_after, gae


def _reference(r, v, v_last, dones, gamma, lam):
    """A[t] = sum_k (gamma lam)^k delta[t+k], summed directly and stopped at the step that ended the episode."""
    steps, n = r.shape
    out = np.zeros((steps, n))
    for i in range(n):
        for t in range(steps):
            weight = 1.0
            for j in range(t, steps):
                nv = v_last[i] if j == steps - 1 else v[j + 1, i]
                out[t, i] += weight * (r[j, i] + gamma * nv * (1.0 - dones[j, i]) - v[j, i])
                if dones[j, i]:
                    break
                weight *= gamma * lam
    return out


def _rollout(seed: int = 0, steps: int = 12, n: int = 3):
    rng = np.random.default_rng(seed)
    r, v, v_last = rng.normal(size=(steps, n)), rng.normal(size=(steps, n)), rng.normal(size=n)
    dones = np.zeros((steps, n))
    dones[[2, 7, 11], [0, 1, 2]] = 1.0  # an episode ends mid-rollout in each env, one on the last step
    dones[4, 0] = 1.0
    return r, v, v_last, dones


def test_matches_the_direct_sum_with_episode_ends() -> None:
    r, v, v_last, dones = _rollout()
    adv = gae(r, v, v_last, dones, 0.99, 0.95)
    np.testing.assert_allclose(adv, _reference(r, v, v_last, dones, 0.99, 0.95), rtol=1e-12, atol=1e-12)
    # the step that ended an episode bootstraps nothing: its advantage is its own TD error r - V
    assert adv[2, 0] == pytest.approx(r[2, 0] - v[2, 0])
    assert not np.allclose(adv, gae(r, v, v_last, np.zeros_like(dones), 0.99, 0.95))  # the dones matter


def test_cleanrl_convention_is_bit_identical_to_its_own_loop() -> None:
    """``toponav train policy`` stores CleanRL's flags (obs t starts an episode); converted, the numbers do not move."""
    r, v, v_last, ended = (torch.as_tensor(a, dtype=torch.float32) for a in _rollout(1))
    starts = torch.cat([torch.zeros(1, r.shape[1]), ended[:-1]])  # CleanRL: done_buf[t] = ended[t - 1]
    next_start = ended[-1]
    gamma, lam, steps = 0.99, 0.95, len(r)
    next_value = v_last.reshape(1, -1)
    expected = torch.zeros_like(r)  # CleanRL ppo_continuous_action.py, verbatim apart from names
    lastgaelam = torch.zeros(r.shape[1])
    for t in reversed(range(steps)):
        nextnonterminal = 1.0 - (next_start if t == steps - 1 else starts[t + 1])
        nextvalues = next_value if t == steps - 1 else v[t + 1]
        delta = r[t] + gamma * nextvalues * nextnonterminal - v[t]
        lastgaelam = delta + gamma * lam * nextnonterminal * lastgaelam
        expected[t] = lastgaelam
    assert torch.equal(ended_after(starts, next_start), ended)
    assert torch.equal(gae(r, v, next_value, ended_after(starts, next_start), gamma, lam), expected)


def test_numpy_and_torch_agree() -> None:
    r, v, v_last, dones = (a.astype(np.float32) for a in _rollout(2))
    a_np = gae(r, v, v_last, dones, 0.9, 0.8)
    a_t = gae(*(torch.as_tensor(a) for a in (r, v, v_last, dones)), 0.9, 0.8)
    assert a_np.dtype == np.float32 and np.array_equal(a_np, a_t.numpy())
    assert np.array_equal(ended_after(dones[:-1], dones[-1])[:-1], dones[1:-1])

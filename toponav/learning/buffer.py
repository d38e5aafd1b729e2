"""Episode replay buffer with fixed-length subsequence sampling and hindsight goal relabelling.

Episodes are stored whole (obs: T+1 rows, actions and rewards: T rows), so the world model can
be trained on H-step subsequences, and the goal of a sampled subsequence can be replaced by where
the cube really went later in the same episode (HER's "future" strategy). Rewards of relabelled
samples are recomputed with the task's own success rule, never invented. numpy storage, torch out.

A demo buffer can also hold *labels*: the action the scripted policy meant, beside the noisy action that
was executed (DART, Laskey et al. 2017: noise shows the recovery states, the clean action teaches what to
do in them). Dynamics and values learn from the executed action, behaviour cloning from the label.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from toponav.manipulation.obs import GOAL, OBJ, SUCCESS_DISTANCE

RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def success_reward(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """Our scenes' sparse reward: 1 within SUCCESS_DISTANCE of the goal, else 0."""
    return (np.linalg.norm(achieved - desired, axis=-1) < SUCCESS_DISTANCE).astype(np.float32)


class EpisodeBuffer:
    """Fixed-capacity ring of equal-length episodes."""

    def __init__(self, capacity: int, episode_len: int, obs_dim: int, action_dim: int, *,
                 achieved: slice = OBJ, desired: slice = GOAL, reward_fn: RewardFn = success_reward,
                 labels: bool = False) -> None:
        """``achieved`` / ``desired``: where the goals lie in an observation; ``reward_fn(achieved, desired)``
        the env's own sparse reward for batches (used for relabelled samples); ``labels``: also store a
        behaviour-cloning label per action (demo buffers, see the module doc)."""
        self.capacity, self.T = int(capacity), int(episode_len)
        self.achieved, self.desired, self.reward_fn = achieved, desired, reward_fn
        self.obs = np.zeros((self.capacity, self.T + 1, obs_dim), dtype=np.float32)
        self.act = np.zeros((self.capacity, self.T, action_dim), dtype=np.float32)
        self.rew = np.zeros((self.capacity, self.T), dtype=np.float32)
        self.labels = np.zeros_like(self.act) if labels else None
        self.size = 0
        self._next = 0

    def __len__(self) -> int:
        return self.size

    @property
    def num_steps(self) -> int:
        return self.size * self.T

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Store one episode: obs (T+1, D), actions (T, A), rewards (T,) and, in a buffer with labels, labels (T, A)."""
        if obs.shape[0] != self.T + 1 or actions.shape[0] != self.T or rewards.shape[0] != self.T:
            raise ValueError(f"episode must have {self.T} steps, got obs {obs.shape}, actions {actions.shape}")
        if (self.labels is not None) != (labels is not None):
            raise ValueError("labels are given exactly when the buffer was made with labels=True")
        i = self._next
        self.obs[i], self.act[i], self.rew[i] = obs, actions, rewards
        if self.labels is not None:
            self.labels[i] = labels
        self._next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch: int, horizon: int, rng: np.random.Generator, *,
               her_prob: float = 0.0) -> tuple[torch.Tensor, ...]:
        """Subsequences: obs (H+1, B, D), actions (H, B, A), rewards (H, B), and labels (H, B, A) if stored."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty buffer")
        ep = rng.integers(0, self.size, size=batch)
        t0 = rng.integers(0, self.T - horizon + 1, size=batch)
        steps = t0[:, None] + np.arange(horizon + 1)[None, :]
        obs = self.obs[ep[:, None], steps].copy()  # (B, H+1, D)
        act = self.act[ep[:, None], steps[:, :-1]]
        rew = self.rew[ep[:, None], steps[:, :-1]].copy()
        if her_prob > 0.0:
            relabel = rng.random(batch) < her_prob
            if relabel.any():
                rows = np.nonzero(relabel)[0]
                future = rng.integers(t0[rows] + 1, self.T + 1)
                goals = self.obs[ep[rows], future][:, self.achieved]
                obs[rows, :, self.desired] = goals[:, None, :]
                future_goals = np.broadcast_to(goals[:, None, :], (len(rows), horizon, goals.shape[-1]))
                rew[rows] = self.reward_fn(obs[rows, 1:, self.achieved], future_goals)
        out = [torch.from_numpy(obs).transpose(0, 1).contiguous(),
               torch.from_numpy(np.ascontiguousarray(act)).transpose(0, 1).contiguous(),
               torch.from_numpy(rew).transpose(0, 1).contiguous()]
        if self.labels is not None:
            lab = self.labels[ep[:, None], steps[:, :-1]]
            out.append(torch.from_numpy(np.ascontiguousarray(lab)).transpose(0, 1).contiguous())
        return tuple(out)

"""Random Network Distillation (Burda et al. 2018): novelty as the error of predicting a frozen random net.

A fixed, randomly initialised *target* network maps an observation to an embedding; a *predictor*
network is trained to reproduce it on the observations the agent actually sees. Inputs seen often are
predicted well (low error), new ones badly (high error), so the squared error is a novelty signal.

As in the paper (and CleanRL's ``ppo_rnd_envpool``):

* observations are whitened with a running mean/std and clipped to [-5, 5]; the running stats are
  warmed up on a batch of observations before the predictor trains (:meth:`RND.warmup`);
* the intrinsic reward is divided by a running std of the *discounted intrinsic return*, so its scale
  stays stable while the raw prediction error shrinks during training;
* intrinsic returns are non-episodic: the discounted return accumulator is never reset at episode
  ends (novelty does not come back because the episode restarted).

Observation features for exploration (:func:`observation_features`) are a local scan descriptor
(normalised ranges binned into a few sectors) concatenated with a multi-scale sinusoidal encoding
of the (x, y) position.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from toponav.config import param
from toponav.seeding import seed_everything


@dataclass
class RNDConfig:
    """RND sizes and statistics (values are ours; the RND paper uses conv nets on Atari frames)."""

    hidden: int = param(64, "hidden units of target and predictor MLPs", min=4)
    embed_dim: int = param(32, "output embedding size", min=2)
    lr: float = param(1e-3, "predictor learning rate", min=0.0)
    gamma_int: float = param(0.99, "discount of the (non-episodic) intrinsic return used for scaling", min=0.0, max=1.0)
    obs_clip: float = param(5.0, "clip of the whitened observation", min=0.1)
    warmup_samples: int = param(64, "observations seen before the predictor trains (stats warm-up)", min=0)
    update_proportion: float = param(1.0, "fraction of a batch used per predictor step (paper: 0.25)",
                                     min=0.01, max=1.0)


class RunningMeanStd(nn.Module):
    """Running mean/variance (parallel algorithm of Chan et al.); buffers so they go into state_dict."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(float(epsilon), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.detach().to(torch.float64).reshape(-1, *self.mean.shape)
        if len(x) == 0:
            return
        b_mean = x.mean(0)
        b_var = x.var(0, unbiased=False)
        b_count = float(len(x))
        delta = b_mean - self.mean
        total = self.count + b_count
        new_mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta.pow(2) * self.count * b_count / total
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    @property
    def std(self) -> torch.Tensor:
        return torch.sqrt(self.var + 1e-8)


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
                         nn.Linear(hidden, out))


class RND(nn.Module):
    """Frozen random target + trained predictor with observation and intrinsic-return normalisation."""

    def __init__(self, obs_dim: int, cfg: RNDConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.cfg = cfg or RNDConfig()
        self.obs_dim = int(obs_dim)
        # the networks' initial weights come from ``seed`` alone; the caller's torch random stream is left as it was
        with torch.random.fork_rng(devices=[]):
            seed_everything(seed, python=False, numpy=False)
            self.target = _mlp(obs_dim, self.cfg.hidden, self.cfg.embed_dim)
            # A deeper predictor than target (paper): it can fit the target where data is dense.
            self.predictor = nn.Sequential(_mlp(obs_dim, self.cfg.hidden, self.cfg.hidden), nn.ReLU(),
                                           nn.Linear(self.cfg.hidden, self.cfg.embed_dim))
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.obs_rms = RunningMeanStd((obs_dim,))
        self.ret_rms = RunningMeanStd(())
        # Non-episodic discounted intrinsic return per stream (env); grows when a new stream appears.
        self.register_buffer("int_return", torch.zeros(1, dtype=torch.float64), persistent=False)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=self.cfg.lr)

    # -- observation normalisation ----------------------------------------------------------------
    def _as_tensor(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32) if not isinstance(obs, torch.Tensor) else obs)
        x = x.to(torch.float32).reshape(-1, self.obs_dim)
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    def normalise(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = self._as_tensor(obs)
        z = (x - self.obs_rms.mean.float()) / self.obs_rms.std.float()
        return z.clamp(-self.cfg.obs_clip, self.cfg.obs_clip)

    def warmup(self, obs: np.ndarray | torch.Tensor) -> None:
        """Feed observations into the running stats only (before any predictor training)."""
        self.obs_rms.update(self._as_tensor(obs))

    @property
    def warmed_up(self) -> bool:
        return float(self.obs_rms.count) >= self.cfg.warmup_samples

    # -- novelty ------------------------------------------------------------------------------------
    @torch.no_grad()
    def error(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Raw per-observation prediction error (mean squared over the embedding); no stats change."""
        z = self.normalise(obs)
        return (self.predictor(z) - self.target(z)).pow(2).mean(-1).numpy()

    @torch.no_grad()
    def novelty(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Prediction error divided by the running std of the intrinsic return (scale-free novelty)."""
        return self.error(obs) / float(self.ret_rms.std)

    @torch.no_grad()
    def intrinsic_reward(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Intrinsic reward for one step of ``N`` parallel streams (one observation each).

        Updates the non-episodic discounted return ``R <- gamma * R + e`` per stream, then the running
        std of those returns, and returns ``e / std(R)``.
        """
        err = torch.as_tensor(self.error(obs), dtype=torch.float64)
        n = len(err)
        if len(self.int_return) != n:
            self.int_return = torch.zeros(n, dtype=torch.float64)
        self.int_return.mul_(self.cfg.gamma_int).add_(err)
        self.ret_rms.update(self.int_return)
        return (err / self.ret_rms.std).numpy()

    def train_step(self, obs: np.ndarray | torch.Tensor, update_stats: bool = True) -> float:
        """One predictor step on a batch; also updates the observation stats. Returns the loss.

        Until ``warmup_samples`` observations have been seen only the stats are updated (loss 0).
        """
        x = self._as_tensor(obs)
        if update_stats:
            self.obs_rms.update(x)
        if not self.warmed_up or len(x) == 0:
            return 0.0
        z = self.normalise(x)
        loss_each = (self.predictor(z) - self.target(z)).pow(2).mean(-1)
        if self.cfg.update_proportion < 1.0:
            keep = torch.rand(len(loss_each)) < self.cfg.update_proportion
            loss = (loss_each * keep).sum() / keep.sum().clamp(min=1)
        else:
            loss = loss_each.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())


# -- observation features --------------------------------------------------------------------------
SCAN_BINS = 16
POSE_FREQS = (0.1, 0.3, 1.0)  # cycles per metre of the sinusoidal position encoding
FEATURE_DIM = SCAN_BINS + 4 * len(POSE_FREQS)


def scan_descriptor(ranges: np.ndarray | None, range_max: float, bins: int = SCAN_BINS) -> np.ndarray:
    """Rotation-unaligned local descriptor: ranges / range_max averaged into ``bins`` sectors.

    Non-finite readings count as ``range_max`` (no return). ``None`` or empty -> all zeros.
    """
    if ranges is None or len(ranges) == 0:
        return np.zeros(bins, dtype=np.float32)
    r = np.asarray(ranges, dtype=np.float64)
    r = np.where(np.isfinite(r), r, range_max)
    r = np.clip(r / max(range_max, 1e-6), 0.0, 1.0)
    edges = np.linspace(0, len(r), bins + 1).astype(int)
    out = np.array([r[a:b].mean() if b > a else r[min(a, len(r) - 1)] for a, b in itertools.pairwise(edges)])
    return out.astype(np.float32)


def pose_encoding(x: float, y: float, freqs: tuple[float, ...] = POSE_FREQS) -> np.ndarray:
    """Multi-scale sin/cos encoding of a position (4 values per frequency)."""
    out = []
    for f in freqs:
        w = 2 * math.pi * f
        out += [math.sin(w * x), math.cos(w * x), math.sin(w * y), math.cos(w * y)]
    return np.asarray(out, dtype=np.float32)


def observation_features(x: float, y: float, descriptor: np.ndarray | None = None) -> np.ndarray:
    """RND input: scan descriptor (``SCAN_BINS``, zeros when unknown) + pose encoding."""
    d = np.zeros(SCAN_BINS, dtype=np.float32)
    if descriptor is not None and len(descriptor):
        desc = np.nan_to_num(np.asarray(descriptor, dtype=np.float32).ravel(), nan=0.0, posinf=1.0, neginf=0.0)
        if len(desc) != SCAN_BINS:
            desc = scan_descriptor(desc, 1.0) if desc.max(initial=0) <= 1.0 else scan_descriptor(desc, desc.max())
        d = desc
    return np.concatenate([d, pose_encoding(x, y)]).astype(np.float32)

"""One seeding function for every trainer, benchmark and seeded network, so a run is reproducible on one machine.

In the core (not the learning layer) because the models seed their own initial weights with it (RND)."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int, *, python: bool = True, numpy: bool = True, torch: bool = True) -> np.random.Generator:
    """Seed Python's ``random``, numpy's global state and torch, and return a fresh numpy Generator.

    The flags exist so that a caller that seeded only some of these before keeps drawing the same numbers
    (benchmark tables stay comparable across versions). New code should use the returned Generator rather
    than the global ``np.random``.
    """
    if python:
        random.seed(seed)
    if numpy:
        np.random.seed(seed)
    if torch:
        import torch as _torch  # torch is heavy: imported only when asked for

        _torch.manual_seed(seed)
    return np.random.default_rng(seed)

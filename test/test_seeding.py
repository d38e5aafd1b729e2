"""The one seeding function: the same seed gives the same numbers, and the flags leave unnamed generators alone."""

from __future__ import annotations

import numpy as np

from toponav.seeding import seed_everything


def test_seed_everything_repeats_and_respects_flags() -> None:
    a = seed_everything(3).random(4)
    first_global = np.random.random()
    b = seed_everything(3).random(4)
    assert np.array_equal(a, b) and np.random.random() == first_global
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    seed_everything(5, numpy=False, torch=False)
    assert np.array_equal(np.random.get_state()[1], before)

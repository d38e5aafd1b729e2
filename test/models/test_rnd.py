"""RND: novelty falls on what the predictor has trained on, stats warm up, rewards are scale-normalised."""

from __future__ import annotations

import numpy as np
import torch

from toponav.models.rnd import FEATURE_DIM, RND, RNDConfig, observation_features, scan_descriptor

torch.set_num_threads(1)


def test_novel_inputs_score_higher_after_training() -> None:
    rng = np.random.default_rng(0)
    rnd = RND(8, RNDConfig(lr=3e-3, warmup_samples=64), seed=1)
    seen = rng.normal(0.0, 1.0, size=(256, 8)).astype(np.float32)
    seen[:, 0] += 3.0  # a cluster the robot visits often
    novel = rng.normal(0.0, 1.0, size=(256, 8)).astype(np.float32)
    novel[:, 0] -= 3.0  # a region it never visited
    rnd.warmup(np.concatenate([seen, novel]))  # warm-up covers both so whitening is fair
    before_seen = rnd.error(seen).mean()
    for _ in range(300):
        rnd.train_step(seen[rng.integers(0, len(seen), 64)])
    after_seen, after_novel = rnd.error(seen).mean(), rnd.error(novel).mean()
    assert after_seen < 0.3 * before_seen
    assert after_novel > 3.0 * after_seen


def test_no_training_before_warmup() -> None:
    rnd = RND(4, RNDConfig(warmup_samples=100))
    x = np.ones((10, 4), dtype=np.float32)
    w0 = [p.clone() for p in rnd.predictor.parameters()]
    assert rnd.train_step(x) == 0.0
    assert all(torch.equal(a, b) for a, b in zip(w0, rnd.predictor.parameters()))
    assert not rnd.warmed_up
    rnd.warmup(np.random.default_rng(0).normal(size=(100, 4)))
    assert rnd.warmed_up
    assert rnd.train_step(x) > 0.0


def test_intrinsic_reward_normalised_and_non_episodic() -> None:
    rnd = RND(4, RNDConfig(warmup_samples=0))
    rnd.warmup(np.random.default_rng(0).normal(size=(64, 4)))
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    r1 = rnd.intrinsic_reward(x)
    ret1 = rnd.int_return.clone()
    r2 = rnd.intrinsic_reward(x)
    # The discounted return keeps accumulating (never reset) and the reward is error / std(return).
    assert torch.all(rnd.int_return > ret1)
    assert r1.shape == (3,) and np.all(np.isfinite(r2))
    np.testing.assert_allclose(r2, rnd.error(x) / float(rnd.ret_rms.std), rtol=1e-5)
    # Scaling the raw error by 100 (a different predictor scale) leaves the normalised reward's scale similar.
    big = RND(4, RNDConfig(warmup_samples=0))
    big.load_state_dict(rnd.state_dict())
    with torch.no_grad():
        big.target[-1].weight.mul_(10.0)
        big.target[-1].bias.mul_(10.0)
    rs = [big.intrinsic_reward(x).mean() for _ in range(50)]
    assert 0.01 < rs[-1] < 10.0


def test_features_handle_bad_input() -> None:
    d = scan_descriptor(np.array([np.inf, np.nan, 1.0, 2.0] * 16), range_max=4.0)
    assert d.shape == (16,) and np.all(np.isfinite(d)) and d.max() <= 1.0
    f = observation_features(1.0, 2.0, None)
    assert f.shape == (FEATURE_DIM,) and np.all(np.isfinite(f))
    assert observation_features(1.0, 2.0, np.full(16, np.nan)).shape == (FEATURE_DIM,)
    rnd = RND(FEATURE_DIM)
    assert np.all(np.isfinite(rnd.error(np.full((2, FEATURE_DIM), np.nan))))

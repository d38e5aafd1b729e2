"""Checkpoint io: round trip, and a clear CheckpointError for every way a file can be wrong."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
import torch

from toponav.models.checkpoint import CheckpointError, load_checkpoint, load_state, save_checkpoint
from toponav.models.policy import KIND, AvoidancePolicy, PolicyConfig


def _save(tmp_path, cfg=None):
    model = AvoidancePolicy(cfg or PolicyConfig(obs_dim=9, hidden=8))
    path = save_checkpoint(tmp_path / "p.pt", KIND, model.state_dict(), {"policy": model.config_dict()},
                           {"steps": 10, "seed": np.int64(3)})
    return model, path


def test_round_trip_loads_and_acts(tmp_path) -> None:
    model, path = _save(tmp_path)
    ckpt = load_checkpoint(path, kind=KIND)
    assert ckpt.meta == {"steps": 10, "seed": 3}
    loaded = AvoidancePolicy.from_checkpoint(ckpt)
    obs = np.random.default_rng(0).normal(size=(4, 9)).astype(np.float32)
    np.testing.assert_allclose(loaded.act(obs), model.act(obs), atol=1e-6)
    assert loaded.act(obs[0]).shape == (2,)
    assert np.all(np.abs(loaded.act(obs)) <= 1.0)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_corrupt_file(tmp_path, content) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path)


def test_truncated_file(tmp_path) -> None:
    _, path = _save(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_foreign_pickle_is_refused(tmp_path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "toponav-checkpoint", "obj": fractions.Fraction(1, 3)}, path)  # not on the allow-list
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_plain_torch_file_is_not_a_checkpoint(tmp_path) -> None:
    path = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a toponav checkpoint"):
        load_checkpoint(path)


def test_wrong_kind(tmp_path) -> None:
    _, path = _save(tmp_path)
    with pytest.raises(CheckpointError, match="expected 'world_model'"):
        load_checkpoint(path, kind="world_model")


def test_shape_mismatch(tmp_path) -> None:
    _, path = _save(tmp_path)
    ckpt = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_state(AvoidancePolicy(PolicyConfig(obs_dim=9, hidden=16)), ckpt)


def test_missing_keys(tmp_path) -> None:
    _, path = _save(tmp_path)
    ckpt = load_checkpoint(path)
    ckpt.state_dict.pop("actor_logstd")
    with pytest.raises(CheckpointError, match="missing"):
        load_state(AvoidancePolicy(PolicyConfig(obs_dim=9, hidden=8)), ckpt)


def test_non_finite_weights(tmp_path) -> None:
    model = AvoidancePolicy(PolicyConfig(obs_dim=9, hidden=8))
    with torch.no_grad():
        model.actor_logstd.fill_(float("nan"))
    path = save_checkpoint(tmp_path / "nan.pt", KIND, model.state_dict(), {"policy": model.config_dict()})
    with pytest.raises(CheckpointError, match="non-finite"):
        AvoidancePolicy.from_checkpoint(load_checkpoint(path))


def test_unstorable_meta(tmp_path) -> None:
    with pytest.raises(TypeError, match="plain values"):
        save_checkpoint(tmp_path / "x.pt", KIND, {}, meta={"f": object()})

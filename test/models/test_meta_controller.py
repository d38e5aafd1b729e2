"""Meta-controller checkpoints: round trip, and missing/corrupt/mismatched files -> clear error + fallback."""

from __future__ import annotations

import torch

from toponav.models.meta_controller import CheckpointError, MetaController, load_meta_controller, save_meta_controller
from toponav.planning import FEATURE_NAMES, PlannerConfig, SubgoalPlanner
from toponav.planning.scorers import HeuristicScorer, LearnedScorer


def _cfg(path) -> PlannerConfig:
    cfg = PlannerConfig(mode="learned", checkpoint=str(path))
    cfg.rnd.enabled = False
    return cfg


def test_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    m = MetaController(len(FEATURE_NAMES), hidden=16)
    save_meta_controller(m, tmp_path / "m.pt", FEATURE_NAMES, {"seed": 3})
    m2, meta = load_meta_controller(tmp_path / "m.pt", FEATURE_NAMES)
    x = torch.randn(2, 5, len(FEATURE_NAMES))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    q = m2(x, mask)
    assert torch.allclose(q, m(x, mask)) and meta == {"seed": 3}
    assert torch.isinf(q[0, 3:]).all() and torch.isfinite(q[1]).all()
    lines = []
    p = SubgoalPlanner(_cfg(tmp_path / "m.pt"), log=lambda lv, msg: lines.append((lv, msg)))
    assert isinstance(p.scorer, LearnedScorer) and p.mode == "learned"


def test_missing_checkpoint_falls_back(tmp_path) -> None:
    lines: list[tuple[str, str]] = []
    p = SubgoalPlanner(_cfg(tmp_path / "nope.pt"), log=lambda lv, msg: lines.append((lv, msg)))
    assert isinstance(p.scorer, HeuristicScorer) and p.mode == "heuristic (fallback)"
    assert any(lv == "error" and "does not exist" in m and "falling back to the heuristic" in m for lv, m in lines)


def test_corrupt_checkpoint_falls_back(tmp_path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x04 this is not a checkpoint")
    try:
        load_meta_controller(bad)
        raise AssertionError("corrupt checkpoint loaded")
    except CheckpointError as exc:
        assert "cannot be read" in str(exc)
    lines: list[tuple[str, str]] = []
    p = SubgoalPlanner(_cfg(bad), log=lambda lv, msg: lines.append((lv, msg)))
    assert p.mode == "heuristic (fallback)"
    assert any(lv == "error" and "cannot be read" in m and "falling back" in m for lv, m in lines)


def test_wrong_features_or_format_rejected(tmp_path) -> None:
    m = MetaController(len(FEATURE_NAMES))
    save_meta_controller(m, tmp_path / "m.pt", ["other", *FEATURE_NAMES[1:]])
    for path, text in ((tmp_path / "m.pt", "trained on features"), (tmp_path / "x.pt", "not a toponav checkpoint")):
        if path.name == "x.pt":
            torch.save({"weights": 1}, path)
        try:
            load_meta_controller(path, FEATURE_NAMES)
            raise AssertionError("bad checkpoint loaded")
        except CheckpointError as exc:
            assert text in str(exc)

"""End to end at toy scale: `toponav train meta` writes a loadable checkpoint, `toponav bench explore` a table."""

from __future__ import annotations

import json

import pytest

from toponav.cli import main
from toponav.models.meta_controller import load_meta_controller
from toponav.planning import FEATURE_NAMES

pytestmark = pytest.mark.slow


def test_train_meta_then_bench(tmp_path) -> None:
    ckpt = tmp_path / "meta.pt"
    rc = main(["train", "meta", "--time-budget", "4", "--train-worlds", "1", "--families", "empty,maze",
               "--warm-start-steps", "50", "--eval-worlds", "1", "--explore-budget", "200", "--goal-budget", "400",
               "--out", str(ckpt)])
    assert rc == 0
    _model, meta = load_meta_controller(ckpt, FEATURE_NAMES)
    assert meta["episodes"] >= 1 and set(meta["heldout"]) == {"heuristic", "learned"}
    out = tmp_path / "bench"
    rc = main(["bench", "explore", "--families", "empty", "--seeds", "1", "--goal-mazes", "1", "--budget", "150",
               "--goal-budget", "300", "--flat-moves", "256", "--flat-train-worlds", "1", "--checkpoint", str(ckpt),
               "--out", str(out)])
    assert rc == 0
    table = (out / "bench_explore.md").read_text()
    for method in ("random walk", "nearest frontier", "flat PPO (sparse)", "flat PPO + RND", "toponav heuristic",
                   "toponav learned"):
        assert f"| {method}" in table
    res = json.loads((out / "bench_explore.json").read_text())["results"]
    assert res["nearest frontier"]["vs_nearest_frontier"] == 0.0
    assert res["toponav learned"]["label"] == "toponav learned"  # the checkpoint loaded, no fallback
    assert (out / "bench_explore_curves.png").stat().st_size > 10_000

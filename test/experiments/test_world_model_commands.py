"""The training and benchmark drivers run end to end on a tiny budget and write what they promise."""

from __future__ import annotations

import argparse
import json

import pytest

from toponav.experiments import bench_manip, train_world_model
from toponav.models.world_model import load_world_model

pytestmark = pytest.mark.slow


def _args(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_train_world_model_writes_checkpoint_curve_and_summary(tmp_path) -> None:
    args = _args(train_world_model, ["--task", "push", "--steps", "20", "--demos", "1", "--bc-iters", "5",
                                     "--pretrain-iters", "3", "--episode-steps", "10", "--eval-every", "20",
                                     "--eval-episodes", "1", "--out", str(tmp_path), "--no-progress"])
    assert train_world_model.run(args) == 0
    model, meta = load_world_model(tmp_path / "world_model_push.pt")
    assert model.config.action_dim == 3 and meta["steps"] == 20
    assert (tmp_path / "world_model_push_curve.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "world_model_push.json").read_text())
    assert summary["curves"]["step"] == [0, 20] and summary["updates"] > 0
    assert "--pretrain-iters 3" in summary["command"]


def test_bench_manip_compares_both_learners(tmp_path, capsys) -> None:
    args = _args(bench_manip, ["--tasks", "push", "--learners", "world_model,world_model_ref,sac", "--steps", "20",
                               "--demos", "1", "--updates-per-step", "0.5",
                               "--bc-iters", "5", "--episode-steps", "10", "--eval-every", "20",
                               "--eval-episodes", "1", "--out", str(tmp_path), "--no-progress"])
    assert bench_manip.run(args) == 0
    table = (tmp_path / "bench_manip.md").read_text()
    assert "world model + MPPI" in table and "SAC (model-free" in table and "ms / env step" in table
    runs = json.loads((tmp_path / "bench_manip.json").read_text())["push"]
    assert runs["world_model"]["updates"] == 10 and runs["world_model_ref"]["updates"] == 20  # 0.5 vs 1 per step
    assert (tmp_path / "bench_manip_push.png").is_file()
    assert bench_manip.run(_args(bench_manip, ["--tasks", "stack", "--out", str(tmp_path)])) == 2
    assert bench_manip.run(_args(bench_manip, ["--learners", "world_model,ppo", "--out", str(tmp_path)])) == 2
    cost = _args(bench_manip, ["--tasks", "push", "--cost-episodes", "1", "--episode-steps", "6", "--demos", "1",
                               "--updates-per-step", "0.5", "--out", str(tmp_path)])
    assert bench_manip.run(cost) == 0
    text = (tmp_path / "bench_manip_cost_push.md").read_text()
    assert "reference / current" in text and "updates_per_step 0.5" in text


def test_bench_manip_runs_sb3_baselines_beside_the_world_model(tmp_path) -> None:
    """SB3 SAC + HER and TQC + HER on panda-gym's PandaReach-v3, same steps and evaluation as the world model."""
    args = _args(bench_manip, ["--tasks", "panda-gym:PandaReach-v3", "--steps", "100", "--demos", "1",
                               "--bc-iters", "5", "--eval-every", "100", "--eval-episodes", "1", "--jobs", "2",
                               "--learners", "world_model,sb3_sac_her,sb3_tqc_her", "--sb3-batch", "32",
                               "--sb3-net", "32,32", "--sb3-learning-starts", "50", "--out", str(tmp_path),
                               "--no-progress"])
    assert bench_manip.run(args) == 0
    summary = json.loads((tmp_path / "bench_manip.json").read_text())["PandaReach-v3"]
    for kind in ("world_model", "sb3_sac_her", "sb3_tqc_her"):
        assert summary[kind]["steps"] == 100 and summary[kind]["curves"]["step"] == [0, 100]
        assert summary[kind]["ms_per_step_cpu"] > 0 and summary[kind]["updates"] >= 50
        curves = summary[kind]["curves"]
        assert all(r >= h for r, h in zip(curves["reached_policy"], curves["success_policy"]))
    assert (tmp_path / "world_model_PandaReach-v3.pt").is_file()  # saved by its worker process
    assert summary["sb3_sac_her"]["demos"] == 0
    assert "batch 32, net [32, 32]" in summary["sb3_tqc_her"]["hyperparameters"]
    table = (tmp_path / "bench_manip.md").read_text()
    assert "SB3 SAC + HER" in table and "TQC + HER" in table and "world model / SB3 SAC + HER" in table
    assert "reached at env steps" in table


def test_train_world_model_on_panda_gym_reach(tmp_path) -> None:
    """The adapter end to end on panda-gym's real PandaReach-v3: demos, BC, updates, MPPI evaluation, checkpoint."""
    args = _args(train_world_model, ["--env", "panda-gym:PandaReach-v3", "--steps", "100", "--demos", "2",
                                     "--demo-keep", "successful", "--bc-iters", "20", "--eval-every", "100",
                                     "--eval-episodes", "1", "--out", str(tmp_path), "--no-progress"])
    assert train_world_model.run(args) == 0
    model, meta = load_world_model(tmp_path / "world_model_PandaReach-v3.pt")
    assert (model.config.obs_dim, model.config.achieved_index, model.config.desired_index) == (12, 6, 9)
    assert meta["env"] == "panda-gym:PandaReach-v3" and meta["steps"] == 100 and meta["updates"] == 100
    assert meta["demos"] == 2 and meta["demo_success"] == 1.0
    assert "--env panda-gym:PandaReach-v3" in meta["command"]
    assert train_world_model.run(_args(train_world_model, ["--env", "panda-gym:Nope-v0", "--out", str(tmp_path)])) == 2


def test_compare_demo_bc_prints_both_labels(capsys) -> None:
    from toponav.experiments import compare_demo_bc

    assert compare_demo_bc.main(["--envs", "push", "--demos", "1", "--seeds", "0", "--bc-iters", "5",
                                 "--eval-episodes", "1"]) == 0
    rows = [r for r in capsys.readouterr().out.splitlines() if r.startswith("| push |")]
    assert [r.split("|")[4].strip() for r in rows] == ["executed", "clean"]

"""bench stack's pure parts: budget rule, matrix, method overlays, failure classification, rows and tables."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from toponav.experiments import bench_stack as bs
from toponav.ros_nodes.stack_run import (
    FAILURES,
    StackOutcome,
    classify_failure,
    deep_merge,
    launch_arguments,
    parse_lockstep_status,
    process_cpu_seconds,
    write_params_overlay,
)


def test_budget_scales_with_the_shortest_path() -> None:
    assert bs.sim_budget(10.0, 5.0) == pytest.approx(60.0 + 80.0)
    assert bs.sim_budget(40.0, 5.0) == pytest.approx(60.0 + 320.0)
    assert bs.sim_budget(None, 5.0) == pytest.approx(100.0)  # unknown shortest path: the straight line
    assert bs.sim_budget(100.0, 5.0, cap=300.0) == 300.0
    assert "60 s + 8 s per metre" in bs.BUDGET_RULE


def test_default_matrix_is_five_heldout_seeds_per_family_then_given_worlds(tmp_path: Path) -> None:
    m = bs.build_matrix(5, worlds=[str(tmp_path / "office" / "map.yaml"), "barn:6"])
    fams = [c.spec for c in m[:15]]
    assert fams == ["warehouse"] * 5 + ["maze"] * 5 + ["forest"] * 5
    assert [c.seed for c in m[:5]] == list(range(1_000_000, 1_000_005))
    assert m[15].label == "office-map.yaml" and m[15].seed == 0
    assert m[16].label == "barn-6-0"
    assert len({c.label for c in m}) == len(m)  # labels name output folders: unique


def test_method_overrides() -> None:
    top = bs.method_overrides("toponav", planner="learned", controller="learned", odometry="wheels")
    assert top["subgoal_planner"]["planner"]["mode"] == "learned"
    assert top["hodat_controller"]["mode"] == "learned" and top["sim_node"]["odometry"] == "wheels"
    base = bs.method_overrides("explore_lite", planner="learned", controller="learned", odometry="wheels")
    assert base["subgoal_planner"]["planner"]["mode"] == "explore_lite"
    assert base["hodat_controller"]["mode"] == "dwa"  # the baseline is always explore_lite + DWA
    assert base["sim_node"]["odometry"] == "wheels"  # odometry applies to both
    with pytest.raises(ValueError, match="unknown method"):
        bs.method_overrides("nope")


def test_params_overlay_merges_nested_without_losing_the_base(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"subgoal_planner": {"ros__parameters": {"planner": {
        "goal_direct_radius": 6.0, "weights": {"gain": 1.5}}}}, "sim_node": {"ros__parameters": {"odometry": "x"}}}))
    out = write_params_overlay(base, bs.method_overrides("explore_lite"), tmp_path / "p" / "params.yaml")
    data = yaml.safe_load(out.read_text())
    planner = data["subgoal_planner"]["ros__parameters"]["planner"]
    assert planner["mode"] == "explore_lite" and planner["goal_direct_radius"] == 6.0
    assert planner["weights"] == {"gain": 1.5} and planner["rnd"] == {"enabled": False}
    assert data["sim_node"]["ros__parameters"]["odometry"] == "wheels"  # the bench default (toponav_gt: true pose)
    assert data["hodat_controller"]["ros__parameters"]["mode"] == "dwa"
    assert deep_merge({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}


def test_lockstep_argument_only_when_declared() -> None:
    wanted = {"world": "maze", "lockstep": "true"}
    assert launch_arguments({"world": None}, wanted) == {"world": "maze"}
    assert launch_arguments({"world": None, "lockstep": None}, wanted) == wanted


def test_lockstep_status_parsing() -> None:
    assert parse_lockstep_status('{"step": 3, "hung": ["topo_mapper"]}')["hung"] == ["topo_mapper"]
    assert parse_lockstep_status("not json") == {} and parse_lockstep_status("[1]") == {}


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"reached": True, "collisions": 0}, ""),
    ({"reached": True, "collisions": 2}, "collision"),
    ({"reached": False, "collisions": 0, "budget_spent": True}, "timeout"),
    ({"reached": False, "collisions": 1, "budget_spent": True}, "collision"),
    ({"reached": False, "collisions": 0, "launch_reason": "required node 'topo_mapper' exited with code 1"},
     "node died"),
    ({"reached": False, "collisions": 3, "hung": ["subgoal_planner"], "launch_reason": "x"}, "node hung"),
    ({"reached": False, "collisions": 0, "started": False}, "stack did not start"),
    ({"reached": False, "collisions": 0, "planner_gave_up": "done", "frontiers_left": 0}, "no frontier left"),
    ({"reached": False, "collisions": 0, "planner_gave_up": "stuck", "frontiers_left": 4}, "stuck"),
    ({"reached": False, "collisions": 0, "wall_limit": True}, "wall-clock limit"),
    ({"reached": False, "collisions": 0, "budget_spent": True, "frontiers_left": 0}, "no frontier left"),
    ({"reached": False, "collisions": 0, "budget_spent": True, "frontiers_left": 3}, "timeout"),
])
def test_failure_classification(kwargs: dict, expected: str) -> None:
    got = classify_failure(**kwargs)
    assert got == expected and (got == "" or got in FAILURES)


def test_cpu_seconds_of_a_live_process() -> None:
    sum(i * i for i in range(2_000_000))  # burn a little CPU so the counter is above zero
    cpu = process_cpu_seconds(os.getpid())
    assert cpu is not None and cpu > 0.0
    assert process_cpu_seconds(2**22 + 12345) is None  # no such pid
    out = StackOutcome(sim_time=50.0, cpu_seconds={"sim_node": 20.0, "topo_mapper": 5.0})
    assert out.cpu_per_sim_second() == {"sim_node": 0.4, "topo_mapper": 0.1}
    assert json.dumps(out.to_dict())  # JSON-ready


def _row(method: str, world: str, reached: bool, t: float | None, spl: float | None, coll: int = 0,
         failure: str = "") -> dict:
    case = bs.WorldCase(world, 1, world)
    outcome = {"reached": reached, "time_to_goal": t, "failure": failure, "rtf": 2.0, "lockstep": False,
               "cpu_per_sim_s": {"sim_node": 0.3, "topo_mapper": 0.2}, "sim_time": 100.0}
    metrics = {"spl": spl, "collisions": coll, "path_length": 10.0, "shortest_path": 8.0, "min_clearance": 0.2,
               "explored_area": 120.0}
    return bs.run_row(method, case, outcome, metrics, 124.0, f"{method}_{world}.png")


def test_time_to_goal_comes_from_the_bag_not_the_runners_poll() -> None:
    """The runner sees the arrival only when it polls (late on a loaded machine); the row takes the bag's time."""
    case = bs.WorldCase("w", 1, "w")
    outcome = {"reached": True, "time_to_goal": 161.6, "sim_time": 161.6}
    assert bs.run_row("explore_lite", case, outcome, {"time_to_goal": 144.75}, 224.0)["time_to_goal"] == 144.75
    assert bs.run_row("explore_lite", case, outcome, {}, 224.0)["time_to_goal"] == 161.6  # no bag time: the runner's
    assert bs.run_row("explore_lite", case, {"reached": False}, {"time_to_goal": 3.0}, 224.0)["time_to_goal"] is None


def test_rows_summary_ratios_and_markdown() -> None:
    rows = [_row("toponav", "w1", True, 50.0, 0.8), _row("toponav", "w2", True, 100.0, 0.4, coll=1,
                                                          failure="collision"),
            _row("explore_lite", "w1", True, 100.0, 0.5), _row("explore_lite", "w2", False, None, 0.0,
                                                                 failure="timeout")]
    assert rows[1]["success"] is False and rows[0]["success"] is True
    assert rows[0]["cpu_total_per_sim_s"] == pytest.approx(0.5)
    s = bs.summarize(rows)
    assert s["toponav"]["reached"] == 2 and s["toponav"]["success"] == 1 and s["toponav"]["collision_free"] == 1
    assert s["toponav"]["mean_time_to_goal"] == pytest.approx(75.0)
    assert s["explore_lite"]["mean_time_to_goal"] == pytest.approx(100.0)  # over reached runs only
    assert s["explore_lite"]["mean_spl"] == pytest.approx(0.25)  # failures count as SPL 0
    r = bs.ratios(s)
    assert r["time_to_goal"] == pytest.approx(0.75) and r["spl"] == pytest.approx(0.6 / 0.25)
    md = bs.markdown(rows, s, "## header")
    assert md.startswith("## header")
    assert "| toponav | w2 | yes | collision |" in md and "| explore_lite | w2 | no | timeout |" in md
    assert "| toponav | 1/2 | 2/2 | 1/2 | 75.0 |" in md
    assert "toponav / explore_lite: mean time to goal x0.75" in md
    assert "| method | sim_node | topo_mapper |" in md


def test_a_run_ended_unreached_has_spl_zero() -> None:
    """The bag holds the step after the budget: a robot arriving on it has an SPL in the bag's metrics, but the
    bench ended the run unreached (map:office, 2026-12-02: SPL 0.27 beside 'timeout')."""
    assert _row("toponav", "w", False, None, 0.27, failure="timeout")["spl"] == 0.0
    assert _row("toponav", "w", True, 40.0, 0.27)["spl"] == 0.27


def test_cpu_per_sim_second_leaves_start_up_out() -> None:
    out = StackOutcome(sim_time=60.0, goal_sent_at=10.0, cpu_at_goal={"sim_node": 4.0},
                       cpu_seconds={"sim_node": 14.0})
    assert out.cpu_per_sim_second() == {"sim_node": pytest.approx(0.2)}  # 10 CPU s over 50 sim s


def test_runner_launch_arguments_follow_the_launch_file(tmp_path: Path) -> None:
    """lockstep/send_goal are passed exactly when the launch file declares them (before and after lockstep)."""
    from toponav.launching import find_package_share, parse_launch_file
    from toponav.ros_nodes.stack_run import StackRunConfig, StackRunner

    declared = parse_launch_file(find_package_share("toponav") / "launch" / "sim_navigation.launch.xml").arguments
    cfg = StackRunConfig(world="maze", seed=1_000_001, out=tmp_path, goal=(1.0, 2.0), rtf=0.0, lockstep=True,
                         overrides=bs.method_overrides("explore_lite"))
    desc, args = StackRunner(cfg).description(tmp_path / "bag")
    assert args["world"] == "maze" and args["seed"] == "1000001" and args["record"] == "true"
    assert ("lockstep" in args) == ("lockstep" in declared) and ("send_goal" in args) == ("send_goal" in declared)
    assert Path(args["params_file"]) == (tmp_path / "params.yaml").resolve()
    assert "mode: explore_lite" in (tmp_path / "params.yaml").read_text()
    assert {n.name for n in desc.nodes} >= {"sim_node", "topo_mapper", "subgoal_planner", "hodat_controller"}
    off = StackRunConfig(world="maze", seed=1, out=tmp_path / "off", goal=(1.0, 2.0), lockstep=False)
    _, args_off = StackRunner(off).description(tmp_path / "off" / "bag")
    assert args_off.get("lockstep", "false") == "false" and "send_goal" not in args_off
    assert "params_file" not in args_off  # no overrides: the launch file's default parameters


def test_given_world_files_travel_as_absolute_paths(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "map.yaml").write_text("image: map.pgm\n")
    monkeypatch.chdir(tmp_path)
    (case,) = bs.build_matrix(0, worlds=["lab/map.yaml"])
    assert case.spec == str((tmp_path / "lab" / "map.yaml").resolve()) and case.label == "lab-map.yaml"


def test_bench_all_includes_stack_with_quick_sizes(tmp_path: Path) -> None:
    from toponav.experiments import bench_all

    assert bench_all.BENCHES["stack"].module == "toponav.experiments.bench_stack"
    args = bench_all.bench_args(bs, tmp_path, True, "stack")
    assert args.quick and args.seeds == 1 and args.out == str(tmp_path) and args.worlds == []


def test_bad_rtf_is_refused_by_name(tmp_path: Path, capsys) -> None:
    from toponav.ros_nodes.stack_run import FULL_STACK, missing_nodes

    if missing_nodes(FULL_STACK):
        pytest.skip("the stack's nodes are not installed")
    from toponav.cli import main

    assert main(["bench", "stack", "--rtf", "fast", "--out", str(tmp_path)]) == 2  # before any world is run
    assert "toponav bench stack: parameter 'rtf'" in capsys.readouterr().err

"""Smoke tests of the training and BARN benchmark drivers (tiny budgets), plus their helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toponav.cli import main as cli
from toponav.evaluation.metrics import barn_score
from toponav.experiments.bench_barn import parse_worlds
from toponav.learning.avoidance_task import GeoField, occupancy
from toponav.worlds import World, make_world


def test_train_policy_tiny_run_writes_a_loadable_checkpoint(tmp_path, capsys) -> None:
    from toponav.control.learned import LearnedPolicy

    out = tmp_path / "p.pt"
    code = cli(["train", "policy", "--total-timesteps", "256", "--num-envs", "4", "--num-steps", "64",
                "--curriculum", "forest", "--forest-worlds", "2", "--eval-barn", "0", "--eval-local", "4",
                "--hidden", "16", "--rnd-coef", "0.1", "--out", str(out)])
    assert code == 0
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert logs and {"charts/SPS", "charts/success", "losses/value_loss", "losses/rnd_loss"} <= set(logs[-1])
    policy = LearnedPolicy.load(out)
    assert policy.meta["results"]["steps"] == 256
    assert "twin_forest_local_heldout" in policy.meta["results"]
    cmd = policy.command(np.full(64, 8.0), np.linspace(-math.pi, math.pi, 64, endpoint=False),
                         np.array([2.0, 0.0]), np.zeros(2))
    assert cmd.shape == (2,) and np.isfinite(cmd).all()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["args"]["seed"] == 1


def test_train_policy_rejects_bad_args(capsys) -> None:
    assert cli(["train", "policy", "--num-envs", "0"]) == 2
    assert "num_envs" in capsys.readouterr().err


def test_bench_barn_side_by_side(tmp_path, capsys) -> None:
    pytest.importorskip("pybullet")
    out = tmp_path / "barn.json"
    code = cli(["bench", "barn", "--worlds", "6", "--timeout", "3", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "learned / DWA BARN score ratio" in text
    data = json.loads(out.read_text())
    assert set(data["summary"]) == {"scan", "goal"}  # both sub-goal sources by default
    for mode in ("scan", "goal"):
        assert set(data["summary"][mode]) >= {"learned", "dwa"}
        for m in ("learned", "dwa"):
            run = data["runs"][mode][m][0]
            assert run["timeout"] and not run["collision"] and run["score"] == 0.0  # 3 s cannot reach a goal 10 m away
    assert "| scan | learned |" in out.with_suffix(".md").read_text()
    assert cli(["bench", "barn", "--worlds", "6", "--subgoals", "carrots"]) == 2
    assert cli(["bench", "barn", "--worlds", "400"]) == 2  # refused by name before any world runs


def test_barn_metric_and_world_selection() -> None:
    assert barn_score(5.0, True, 10.0) == pytest.approx(0.5)  # AT clipped up to 2 OT: best possible 0.5
    assert barn_score(5.0, True, 20.0) == pytest.approx(0.25)
    assert barn_score(5.0, True, 100.0) == pytest.approx(0.125)  # clipped to 8 OT
    assert barn_score(5.0, False, 10.0) == 0.0
    assert len(parse_worlds("all")) == 300 and len(parse_worlds("heldout")) == 50
    assert parse_worlds("every:100") == [0, 100, 200] and parse_worlds("3-5") == [3, 4, 5]
    with pytest.raises(ValueError):
        parse_worlds("400")


def test_geodesic_field_goes_around_a_wall() -> None:
    world = World(name="w", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(1.0, 3.0, 0.0),
                  goal=(8.0, 3.0), boxes=((5.0, 2.0, 0.1, 2.0, 0.0),))  # wall from y=0 to y=4 at x=5
    geo = GeoField(world, 0.25)
    field = geo.field(np.array([8.0, 3.0]))
    d = float(geo.lookup(field, np.array([[2.0, 3.0]]))[0])
    assert d > 6.0 + 1.0  # must go over the top of the wall, longer than the 6 m straight line
    assert float(geo.lookup(field, np.array([[8.0, 3.0]]))[0]) < 0.2


def test_fast_occupancy_matches_world() -> None:
    world = make_world("barn:3")
    fast, _ = occupancy(world, 0.3)
    ref, _ = world.occupancy(0.1, 0.3)
    assert (fast != ref).sum() == 0


def test_scan_carrot_leads_around_a_seen_wall() -> None:
    from toponav.control.carrot import ScanCarrot
    from toponav.robot import LidarParams
    from toponav.sim.twin import VecAgvTwin

    world = World(name="w", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(3.5, 3.0, 0.0),
                  goal=(8.0, 3.0), boxes=((5.0, 2.0, 0.1, 2.0, 0.0),))
    lidar = LidarParams(beams=180)
    twin = VecAgvTwin([world], 1, lidar=lidar)
    carrot = ScanCarrot(world.bounds, world.goal, 0.25, lookahead=2.0)
    c = carrot.update(twin.pose[0], twin.scan()[0].astype(float), lidar.angles(), lidar.range_max)
    assert c[1] > 3.5 and c[0] < 5.2  # heads for the gap above the wall, not straight through it
    assert math.hypot(*(c - np.array(world.start[:2]))) == pytest.approx(2.0, abs=0.3)


def _wall_task(**cfg):
    from toponav.control.config import ObservationConfig
    from toponav.learning.avoidance_task import AvoidanceTask, Stage, TaskConfig

    world = World(name="w", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(1.0, 3.0, 0.0),
                  goal=(8.0, 3.0), boxes=((5.0, 2.0, 0.1, 2.0, 0.0),))
    task = AvoidanceTask(Stage("t", [world], "route"), 2, TaskConfig(**cfg), ObservationConfig(), seed=0)
    task.twin.reset(np.arange(2), np.array([[1.0, 3.0, 0.0], [1.0, 3.0, 0.0]]))
    return task


def test_action_delay_executes_the_previous_command() -> None:
    task = _wall_task(action_delay_prob=1.0)
    task.delayed[:] = [True, False]  # robot 0 lags one step, robot 1 does not
    task.pending[:] = 0.0
    task.step(np.array([[0.4, 0.0], [0.4, 0.0]]))
    v = task.twin.vel[:, 0]
    assert v[0] == pytest.approx(0.0) and v[1] > 0.1  # the lagging robot still executes the zero command
    task.step(np.array([[0.0, 0.0], [0.0, 0.0]]))
    v = task.twin.vel[:, 0]
    assert v[0] > 0.1 and v[1] < 0.2  # now it executes the 0.4 m/s from the step before; robot 1 slows


def test_safety_penalty_charges_held_steps() -> None:
    rewards = []
    for penalty in (0.0, 0.2):
        task = _wall_task(safety_penalty=penalty)
        task.twin.reset(np.arange(2), np.array([[4.6, 3.0, 0.0], [4.6, 3.0, 0.0]]))  # nose at the wall
        _, reward, *_ = task.step(np.array([[1.0, 0.0], [1.0, 0.0]]))  # the layer must stop this
        rewards.append(reward)
    assert np.all(rewards[1] <= rewards[0] - 0.2 + 1e-9)


def test_bench_barn_under_bench_all_writes_its_table(tmp_path) -> None:
    """bench all hands the bench a Path for --json (not a str): the JSON and markdown must still be written."""
    pytest.importorskip("pybullet")
    from toponav.experiments import bench_all, bench_barn

    args = bench_all.bench_args(bench_barn, tmp_path, quick=True, name="barn")
    args.worlds, args.timeout = "6", 2.0
    assert bench_barn.run(args) == 0
    assert (tmp_path / "bench_barn.md").is_file() and json.loads((tmp_path / "bench_barn.json").read_text())


def test_carrot_episodes_observe_the_carrot_but_are_paid_for_the_route() -> None:
    from toponav.control.config import ObservationConfig
    from toponav.learning.avoidance_task import AvoidanceTask, Stage, TaskConfig

    world = World(name="w", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(3.5, 3.0, 0.0),
                  goal=(8.0, 3.0), boxes=((5.0, 2.0, 0.1, 2.0, 0.0),))  # wall from y=0 to y=4 at x=5
    task = AvoidanceTask(Stage("t", [world], "carrot"), 2, TaskConfig(), ObservationConfig(), seed=0)
    task.observe()
    assert np.allclose(task.target, [8.0, 3.0])  # reward and success follow the route to the goal
    for carrot in task.subgoal:  # the observed sub-goal heads for the gap above the seen wall
        assert carrot[1] > 3.5 and carrot[0] < 5.2
    polar = task.subgoal_polar()
    assert np.allclose(polar[:, 0], np.hypot(*(task.subgoal - task.twin.pose[:, :2]).T))
    done_info: dict = {}
    for _ in range(400):  # into the wall: held by the layer, times out as a carrot episode
        *_, info = task.step(np.array([[1.0, 0.0], [1.0, 0.0]]))
        if info:
            done_info = info
            break
    assert done_info and done_info["carrot"].all() and done_info["route"].all()
    with pytest.raises(ValueError, match="stage mode"):
        Stage("bad", [world], "carrots")


def test_mixed_stage_draws_both_kinds() -> None:
    from toponav.control.config import ObservationConfig
    from toponav.learning.avoidance_task import AvoidanceTask, Stage, TaskConfig

    world = make_world("barn:3")
    task = AvoidanceTask(Stage("t", [world], "hier"), 64, TaskConfig(), ObservationConfig(), seed=0)
    carrot = np.array([c is not None for c in task.carrots])
    assert 0.3 < carrot.mean() < 0.7  # half carrots
    assert 0.1 < (task.route & ~carrot).mean() < 0.45 and 0.1 < (~task.route).mean() < 0.45

"""`toponav world show`, `toponav bench sim` and `python -m toponav.sim.odom_drift` end to end (tiny budgets)."""

from __future__ import annotations

import json

import numpy as np

from toponav.cli import main
from toponav.experiments.bench_sim import DistanceFieldTwin
from toponav.robot import AgvParams, LidarParams
from toponav.sim import odom_drift
from toponav.sim.twin import VecAgvTwin
from toponav.worlds import make_world


def test_world_show_writes_png(tmp_path, capsys) -> None:
    out = tmp_path / "forest.png"
    assert main(["world", "show", "forest", "--seed", "3", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "reachable for radius 0.25: True" in capsys.readouterr().out
    assert main(["world", "show", "barn:5", "--out", str(tmp_path / "b.png")]) == 0


def test_world_show_bad_world(capsys) -> None:
    assert main(["world", "show", "jungle"]) == 2
    assert "barn:<index 0..299>" in capsys.readouterr().out
    assert main(["world", "show", "barn:300"]) == 2
    assert "0..299" in capsys.readouterr().out


def test_bench_sim_runs_and_reports(tmp_path, capsys) -> None:
    path = tmp_path / "bench.json"
    args = ["bench", "sim", "--worlds", "barn:1", "--robots", "1,4", "--seconds", "0.05", "--json", str(path)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "twin / distance-field" in text and "pybullet" in text
    rows = json.loads(path.read_text())
    assert [r["robots"] for r in rows] == [1, 4]
    assert all(r[b]["cpu"] > 0 for r in rows for b in ("pybullet", "twin", "distance_field"))


def test_distance_field_baseline_agrees_with_twin() -> None:
    """The baseline is a fair competitor: its scans match the exact twin to within its 5 cm grid."""
    world = make_world("forest", 2)
    lidar = LidarParams(noise_std=0.0, noise_range=0.0)  # geometry against geometry
    df = DistanceFieldTwin(world, 1, AgvParams(), lidar)
    ranges, _ = df.step(np.zeros((1, 2)))
    exact = VecAgvTwin(world, 1, lidar=lidar).scan()
    assert np.median(np.abs(ranges - exact)) < 0.05


def test_odom_drift_measures_a_square(capsys) -> None:
    """The drift measurement drives the closed square on the true pose (the path does not depend on the noise) and
    reports odometry's error; the calibration errors of the defaults add to what physics' slip gives alone."""
    quiet = odom_drift.drive_square(AgvParams(**odom_drift.NOISELESS), seed=0, side=2.0, laps=1)
    noisy = odom_drift.drive_square(AgvParams(odom_wheelbase_std=0.05, odom_heading="wheels"), seed=0, side=2.0,
                                    laps=1)
    assert quiet.distance == noisy.distance and 7.9 < quiet.distance < 8.1
    assert len(quiet.side_errors) == 4 and quiet.turned == 2 * np.pi
    assert noisy.yaw_deg_per_turn != quiet.yaw_deg_per_turn
    assert 0 < quiet.end_error_pct < 10 and 0 < quiet.yaw_deg_per_turn < 30
    assert odom_drift.main(["--seeds", "1", "--side", "1", "--laps", "1", "--before"]) == 0
    out = capsys.readouterr().out
    assert "| before (no odometry noise) |" in out and "| yaw from the gyro (defaults) |" in out
    assert "| yaw from the wheels (odom_heading wheels) |" in out
    assert odom_drift.main(["--seeds", "0"]) == 2

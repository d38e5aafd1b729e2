"""``toponav localise``: the mapper's localisation re-run on a recorded bag, measured against its ground truth."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from toponav.bags import TYPESTORE, BagWriter
from toponav.cli import main
from toponav.experiments import localise
from toponav.mapping import MapperConfig
from toponav.mapping.raycast import cast_scan
from toponav.robot import LidarParams
from toponav.worlds.model import World

WORLD = World(name="yard", family="test", seed=0, bounds=(-6.0, -4.0, 6.0, 4.0), start=(-4.0, 0.0, 0.0),
              goal=(4.0, 0.0), circles=((-2.0, 2.0, 0.3), (1.0, -2.2, 0.25), (3.0, 1.8, 0.4), (0.0, 1.0, 0.2)),
              boxes=((-1.0, -1.5, 0.4, 0.3, 0.3),))
LIDAR = LidarParams(beams=360, range_max=8.0)
ODOM_SCALE = 1.05  # the wheels read 5 % long


def _true_pose(k: int) -> tuple[float, float, float]:
    """A gentle S along the yard: 0.05 m per scan, 8 m in all."""
    x = -4.0 + 0.05 * k
    return x, 0.4 * math.sin(0.5 * x), math.atan(0.2 * math.cos(0.5 * x))


def _write_bag(path: Path, n: int = 160) -> None:
    """/odom (5 % long), /scan (exact ray cast at the true pose) and ground_truth/pose, as the sim records them."""
    T = TYPESTORE.types
    V3, Q = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Quaternion"]
    angles = LIDAR.angles()

    def hdr(t: float, frame: str):
        return T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](int(t), round((t % 1) * 1e9)), frame)

    def pose(x: float, y: float, yaw: float):
        return T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](x, y, 0.0),
                                           Q(0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)))

    start = np.array(_true_pose(0))
    with BagWriter(path) as w:
        w.add_topic("/odom", "nav_msgs/msg/Odometry")
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        w.add_topic("/ground_truth/pose", "geometry_msgs/msg/PoseStamped")
        for k in range(n):
            t = 1.0 + 0.1 * k
            x, y, yaw = _true_pose(k)
            ox, oy = start[:2] + ODOM_SCALE * (np.array([x, y]) - start[:2])
            odom = T["nav_msgs/msg/Odometry"](hdr(t, "odom"), "base_link", T["geometry_msgs/msg/PoseWithCovariance"](
                pose(ox, oy, yaw), np.zeros(36)), T["geometry_msgs/msg/TwistWithCovariance"](
                T["geometry_msgs/msg/Twist"](V3(0.5, 0.0, 0.0), V3(0.0, 0.0, 0.0)), np.zeros(36)))
            w.write("/odom", round(t * 1e9), bytes(TYPESTORE.serialize_cdr(odom, "nav_msgs/msg/Odometry")))
            gt = T["geometry_msgs/msg/PoseStamped"](hdr(t, "map"), pose(x, y, yaw))
            w.write("/ground_truth/pose", round(t * 1e9),
                    bytes(TYPESTORE.serialize_cdr(gt, "geometry_msgs/msg/PoseStamped")))
            ranges = cast_scan(WORLD, (x, y, yaw), angles, LIDAR.range_max).astype(np.float32)
            scan = T["sensor_msgs/msg/LaserScan"](hdr(t, "base_scan"), float(angles[0]), float(angles[-1]),
                                                  float(angles[1] - angles[0]), 0.0, 0.1, LIDAR.range_min,
                                                  LIDAR.range_max, ranges, np.zeros(0, dtype=np.float32))
            w.write("/scan", round(t * 1e9), bytes(TYPESTORE.serialize_cdr(scan, "sensor_msgs/msg/LaserScan")))


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("localise") / "bag"
    _write_bag(path)
    return path


def test_shape_fit_recovers_scale_and_rotation() -> None:
    rng = np.random.default_rng(0)
    true = np.cumsum(rng.normal(0.0, 0.3, size=(200, 2)), axis=0)
    c, s = math.cos(0.01), math.sin(0.01)
    est = true[0] + 0.98 * (true - true[0]) @ np.array([[c, s], [-s, c]])  # 2 % small, turned 0.01 rad
    shape = localise.shape_fit(true, est)
    assert shape.scale == pytest.approx(-0.02, abs=2e-4)
    assert shape.rotation == pytest.approx(0.01 * 0.98, abs=2e-4)  # the first-order model: r = k sin(angle)
    assert shape.residual < 0.01


def test_poses_at_interpolates_across_the_yaw_wrap() -> None:
    t = np.array([0.0, 1.0])
    poses = localise.poses_at(t, np.array([[0.0, 0.0, 3.1], [1.0, 2.0, -3.1]]), np.array([0.5, 2.0]))
    assert poses[0, :2] == pytest.approx([0.5, 1.0])
    assert abs(abs(poses[0, 2]) - math.pi) < 1e-6  # halfway through the wrap, not through zero
    assert poses[1] == pytest.approx([1.0, 2.0, -3.1])  # held at the end


def test_replay_corrects_the_long_odometry(bag: Path) -> None:
    """Scan matching takes out the wheels' 5 % (0.40 m off at the end of 8 m; 1.4 mm left); with the true pose as
    odometry the exact scans leave millimetres too; the shape fit sees the odometry's +5 %."""
    scans = localise.read_scans(bag)
    assert len(scans) == 160
    from toponav.evaluation.trajectory_error import read_trajectories

    gt = read_trajectories(bag).trajectories["ground_truth"]
    stamps = np.array([s[0] for s in scans])
    true = localise.poses_at(gt.t, gt.xyyaw, stamps)
    odom = np.array([s[1] for s in scans])
    assert localise.shape_fit(true[:, :2], odom[:, :2]).scale == pytest.approx(0.05, abs=1e-3)
    raw_error = float(np.hypot(*(odom[-1, :2] - true[-1, :2])))
    fixed = localise.replay(scans, MapperConfig())
    error = float(np.hypot(*(fixed.poses[-1, :2] - true[-1, :2])))
    assert raw_error > 0.35 and error < 0.02, (raw_error, error)
    assert fixed.matched >= 150
    exact = localise.replay(scans, MapperConfig(), odometry=true)
    assert np.abs(exact.poses[:, :2] - true[:, :2]).max() < 0.01


def test_raycast_scans_reproduce_the_recorded_ones(bag: Path) -> None:
    """The twin's ray cast at the true poses gives the ranges the bag holds (both exact, noise off)."""
    scans = localise.read_scans(bag, 20)
    from toponav.evaluation.trajectory_error import read_trajectories

    gt = read_trajectories(bag).trajectories["ground_truth"]
    true = localise.poses_at(gt.t, gt.xyyaw, np.array([s[0] for s in scans]))
    cast = localise.raycast_scans(scans, true, WORLD, 0.0, 0.0)
    for rec, new in zip(scans, cast, strict=True):
        hit = np.isfinite(rec[2]) & (rec[2] < LIDAR.range_max)
        assert np.allclose(new[2][hit], rec[2][hit], atol=2e-3)
        assert new[0] == rec[0] and new[1] == rec[1]


def test_command_reports_and_refuses_bad_input(bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["localise", str(bag), "--scans", "60", "--out", str(tmp_path / "tum")]) == 0
    out = capsys.readouterr().out
    assert "60 scans (as recorded)" in out and "APE RMSE" in out and "scale" in out
    assert (tmp_path / "tum" / "localised.tum").exists() and (tmp_path / "tum" / "ground_truth.tum").exists()
    assert main(["localise", str(bag), "--scans", "60", "--set", "localisation.map_add_distance=-1"]) == 2
    assert "localisation.map_add_distance" in capsys.readouterr().out
    assert main(["localise", str(bag), "--set", "localisation.no_such=1"]) == 2
    assert "localisation.no_such" in capsys.readouterr().out
    assert main(["localise", str(bag), "--set", "novalue"]) == 2
    assert main(["localise", str(tmp_path / "missing")]) == 2
    (tmp_path / "a_file").write_text("")
    assert main(["localise", str(bag), "--scans", "5", "--out", str(tmp_path / "a_file" / "tum")]) == 2
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.yaml").write_text("not: a bag")
    assert main(["localise", str(tmp_path / "junk")]) == 2
    assert "cannot read" in capsys.readouterr().out


def test_kiss_icp_baseline_runs_on_the_same_scans(bag: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """KISS-ICP, given the same scans with the long odometry as its initial guess, also takes most of the 5 % out
    (it registers point-to-point against its own map) and is scored by the same evo call; ``--kiss-icp`` prints
    it beside the corrected pose. Its trajectory starts at the odometry's first pose, in ``odom``."""
    scans = localise.read_scans(bag)
    from toponav.evaluation.trajectory_error import read_trajectories

    gt = read_trajectories(bag).trajectories["ground_truth"]
    true = localise.poses_at(gt.t, gt.xyyaw, np.array([s[0] for s in scans]))
    stamps, poses = localise.kiss_icp_replay(scans)
    assert stamps.shape == (160,) and poses.shape == (160, 3)
    assert poses[0] == pytest.approx(np.array(scans[0][1]), abs=1e-9)
    odom_error = float(np.hypot(*(scans[-1][1][:2] - true[-1, :2])))
    kiss_error = float(np.hypot(*(poses[-1, :2] - true[-1, :2])))
    assert kiss_error < 0.1 * odom_error, (kiss_error, odom_error)
    from toponav.evaluation.trajectory_error import write_tum

    stats = localise.kiss_icp_errors(scans, write_tum(gt, tmp_path / "ground_truth.tum"), tmp_path)
    assert stats.ape_rmse < 0.05 and (tmp_path / "kiss_icp.tum").exists()
    assert main(["localise", str(bag), "--scans", "60", "--kiss-icp"]) == 0
    assert "KISS-ICP on the same scans and odometry: APE RMSE" in capsys.readouterr().out


def test_several_bags_are_summarised_and_compared(bag: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Several bags: each replayed as alone (the same numbers from worker processes), a per-family count of runs
    within the APE limit, ``--json`` for a later ``--baseline`` comparison; a bag that cannot be replayed is named
    and the others are still summarised (exit 2)."""
    other = tmp_path / "runs" / "yard-7" / "bag"
    _write_bag(other, n=100)
    first = tmp_path / "first.json"
    assert main(["localise", str(bag), "--scans", "60", "--json", str(tmp_path / "alone.json")]) == 0
    alone = json.loads((tmp_path / "alone.json").read_text())["bags"][0]["ape"]
    capsys.readouterr()
    assert main(["localise", str(bag), str(other), "--scans", "60", "--jobs", "2", "--json", str(first)]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 bags replayed" in out and "no run of >= 150 m" in out
    rows = json.loads(first.read_text())["bags"]
    assert [r["world"] for r in rows] == [localise.bag_world(bag)[0], "yard-7"]
    assert rows[1]["family"] == "yard" and rows[1]["scans"] == 60
    assert rows[0]["ape"] == alone  # deterministic, whichever process replayed it
    assert all(0.0 < r["ape"] < 0.05 and 0.0 < r["driven"] < 10.0 for r in rows)
    assert main(["localise", str(bag), str(other), "--scans", "60", "--baseline", str(first),
                 "--set", "localisation.map_add_distance=0.3"]) == 0
    out = capsys.readouterr().out
    assert "before: within" in out and f"| {rows[1]['ape']:.3f} |" in out and "| all | 2 | 2 |" in out
    assert main(["localise", str(bag), str(tmp_path / "missing"), "--scans", "30"]) == 2
    out = capsys.readouterr().out
    assert "1 of 2 bags replayed" in out and "not replayed:" in out and "missing does not exist" in out
    assert main(["localise", str(bag), str(other), "--raycast", "forest"]) == 2
    assert "--raycast bag" in capsys.readouterr().out
    assert main(["localise", str(bag), "--raycast", "bag"]) == 2
    assert "names no world in its metadata" in capsys.readouterr().out
    assert main(["localise", str(bag), "--baseline", str(tmp_path / "alone.tum")]) == 2
    assert main(["localise", str(bag), "--jobs", "0"]) == 2

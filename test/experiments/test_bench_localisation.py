"""bench localisation's parts that run without a stack: options and matrix, the shuttle's legs (on a scripted
fake of the stack), the verdict and table, and the mapper-timing replay of a synthetic MCAP bag."""

from __future__ import annotations

import argparse
import math
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from toponav.bags import TYPESTORE, BagWriter
from toponav.config import ConfigError
from toponav.experiments import bench_localisation as bl
from toponav.learning.cli import dataclass_from_args
from toponav.ros_nodes.stack_run import StackOutcome, StackRunConfig


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bl.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_default_matrix_quick_and_bad_options() -> None:
    ns = parse()
    cases = bl.matrix(dataclass_from_args(bl.LocalisationBenchOptions, ns))
    assert len(cases) >= 10 and {c.spec for c in cases} >= {"warehouse", "maze", "forest", "map:depot"}
    assert all(c.seed >= 1_000_000 for c in cases if not c.spec.startswith("map:"))
    quick = bl.matrix(dataclass_from_args(bl.LocalisationBenchOptions, parse("--quick")), quick=True)
    assert [c.label for c in quick] == ["warehouse-1000000", "map-depot-0"]
    only = bl.matrix(dataclass_from_args(bl.LocalisationBenchOptions, parse("--families", "", "--worlds",
                                                                            "map:office")))
    assert [c.spec for c in only] == ["map:office"]
    with pytest.raises(ConfigError, match="distance"):
        dataclass_from_args(bl.LocalisationBenchOptions, parse("--distance", "-5"))


class _Stack:
    """A scripted stack for the navigator: each /clock read advances 1 s sim, the robot drives 2 m/s along x
    toward the last goal sent (stopping ``short`` m before x = 10 when ``short``), the planner says ``done``
    once the robot stops."""

    def __init__(self, short: float = 0.0) -> None:
        from builtin_interfaces.msg import Time

        self.Time, self.t, self.x, self.short = Time, 0.0, 0.0, short
        self.goal_x = 10.0  # the sim's goal, sent before step 1
        self.sent: list[tuple[float, float]] = []

    # launcher
    reason = ""

    def poll(self) -> bool:
        return True

    # goal publisher
    def publish(self, msg) -> None:
        self.sent.append((msg.pose.position.x, msg.pose.position.y))
        self.goal_x = msg.pose.position.x

    # probe
    def last(self, topic: str):
        if topic == "/clock":
            self.t += 1.0
            target = self.goal_x - (self.short if self.goal_x > 5 else 0.0)
            self.x += float(np.clip(target - self.x, -2.0, 2.0))
            return SimpleNamespace(clock=self.Time(sec=int(self.t), nanosec=0))
        if topic == "ground_truth/pose":
            return SimpleNamespace(pose=SimpleNamespace(position=SimpleNamespace(x=self.x, y=0.0)))
        if topic == "toponav/status":
            target = self.goal_x - (self.short if self.goal_x > 5 else 0.0)
            state = "done" if abs(self.x - target) < 1e-9 else "navigating"
            kv = [SimpleNamespace(key="state", value=state), SimpleNamespace(key="frontiers", value="3")]
            return SimpleNamespace(status=[SimpleNamespace(values=kv)])
        return None

    def count(self, _topic: str) -> int:
        return 0


def drive(stack: _Stack, distance: float, max_legs: int = 12) -> tuple[object, StackOutcome]:
    cfg = StackRunConfig(world="empty", seed=0, out=Path("."), goal=(10.0, 0.0), budget=60.0, tolerance=0.5,
                         give_up_after=90.0, progress_every=0.0, tag="t")
    res = StackOutcome(goal_sent_at=0.0)
    shuttle = bl.Shuttle(home=(0.0, 0.0), distance=distance, max_legs=max_legs, max_sim_time=900.0, leg_budget=60.0)
    nav = bl.ShuttleNavigator(cfg, res, stack, sim_sends_goal=True, say=lambda _m: None,
                                stop=threading.Event(), shuttle=shuttle)
    nav.POLL = 0.0
    nav.probe, nav.goal_pub, nav.started = stack, stack, True
    nav.follow_goal()
    res.failure = nav.failure()
    return nav, res


def test_shuttle_drives_goal_home_goal_until_the_distance() -> None:
    stack = _Stack()
    nav, res = drive(stack, distance=35.0)
    assert [tuple(leg["goal"]) for leg in nav.legs] == [(10.0, 0.0), (0.0, 0.0), (10.0, 0.0), (0.0, 0.0)]
    assert all(leg["reached"] for leg in nav.legs) and res.reached and res.failure == ""
    assert stack.sent == [(0.0, 0.0), (10.0, 0.0), (0.0, 0.0)]  # the first goal is the sim's
    assert 35.0 <= nav.driven <= 40.5


def test_a_leg_the_planner_believes_reached_off_target_is_missed_and_the_shuttle_goes_on() -> None:
    stack = _Stack(short=1.0)  # every outward leg ends 1 m short, with the planner saying "done"
    nav, res = drive(stack, distance=30.0)
    assert [leg["reached"] for leg in nav.legs] == [False, True, False, True]
    assert [leg["missed"] for leg in nav.legs] == [True, False, True, False]
    assert not res.reached and res.failure.startswith("missed goal (2 of 4")
    assert nav.legs[0]["sim_time"] < 20  # ended after the planner's 5 s of "done", not the 90 s give-up
    one, res1 = drive(_Stack(short=1.0), distance=30.0, max_legs=1)
    assert len(one.legs) == 1 and res1.failure.startswith("missed goal (1 of 1")


def _row(distance: float | None, ape_pose: float | None, ape_odom: float, ape_wheels: float | None = None,
         ape_kiss: float | None = None) -> dict:
    from toponav.experiments.bench_stack import WorldCase

    errors = {"path_length": distance, "duration": 300.0, "missing": {} if ape_pose is not None else
              {"pose": "not recorded: the bag has no pose messages"},
              "estimates": {"odom": {"ape_rmse": ape_odom, "rpe_rmse": 0.3},
                            "pose": None if ape_pose is None else {"ape_rmse": ape_pose, "rpe_rmse": 0.01}}}
    if ape_wheels is not None:
        errors["estimates"]["wheel_odom"] = {"ape_rmse": ape_wheels, "rpe_rmse": 0.5}
    if ape_kiss is not None:
        errors["estimates"]["kiss_icp"] = {"ape_rmse": ape_kiss, "rpe_rmse": 0.15}
    legs = [{"reached": True}, {"reached": True}]
    return bl.run_row(WorldCase("maze", 1_000_000, "maze-1000000"), {"reached": True}, legs, errors)


def test_verdict_and_table() -> None:
    today = [_row(160.0, None, 2.0), _row(40.0, None, 0.3)]
    v = bl.verdict(today)
    assert v["passed"] is None and v["text"].startswith("n/a") and "pose" in v["text"]
    good = [_row(160.0, 0.05, 2.0), _row(200.0, 0.08, 1.5), _row(50.0, 0.5, 0.6)]  # the short run is not judged
    assert bl.verdict(good)["passed"] is True and bl.verdict(good)["worst_ratio"] == pytest.approx(1.5 / 0.08)
    assert bl.verdict([_row(160.0, 0.12, 5.0)])["passed"] is False  # APE above 0.10 m
    assert bl.verdict([_row(160.0, 0.05, 0.4)])["passed"] is False  # only 8x better than odometry
    assert bl.verdict([_row(160.0, 0.05, 2.0), _row(150.0, None, 2.0)])["passed"] is False  # a long run unjudged
    md = bl.markdown(today, "## t")
    assert "| maze-1000000 | 160.0 | n/a | n/a | n/a | 2.000 | n/a |" in md and "2/2 (all)" in md
    # with raw wheel odometry recorded (the sim's gyro-aided odom beside it) the criterion's ratio is the wheels'
    gyro = _row(160.0, 0.05, 0.4, ape_wheels=2.0)
    assert gyro["ratio"] == pytest.approx(40.0) and gyro["ratio_odom"] == pytest.approx(8.0)
    assert bl.verdict([gyro])["passed"] is True
    assert "| maze-1000000 | 160.0 | 0.050 | 2.000 | x40.0 | 0.400 | x8.0 |" in bl.markdown([gyro], "## t")
    assert "not recorded" in md and "**Criteria**" in md
    # KISS-ICP on the run's scans: its own columns and ratio; it does not enter the verdict
    gyro_kiss = _row(160.0, 0.05, 0.4, ape_wheels=2.0, ape_kiss=0.30)
    assert gyro_kiss["ratio_kiss"] == pytest.approx(6.0) and bl.verdict([gyro_kiss])["passed"] is True
    assert "| 0.400 | x8.0 | 0.300 | x6.0 | 0.010 | 0.500 | 0.300 | 0.150 |" in bl.markdown([gyro_kiss], "## t")


def test_resample_keeps_recorded_ranges() -> None:
    ranges = np.arange(720, dtype=float)
    r, angles = bl.resample(ranges, -math.pi, 2 * math.pi / 720, 360)
    assert len(r) == 360 and np.array_equal(r, ranges[::2])
    assert angles[0] == pytest.approx(-math.pi) and angles[1] - angles[0] == pytest.approx(2 * math.pi / 360)
    r, _ = bl.resample(np.arange(90, dtype=float), -math.pi, 2 * math.pi / 90, 360)
    assert set(r) == set(range(90))  # upsampling repeats beams, invents none


def test_mapper_timing_replays_a_bag(tmp_path: Path) -> None:
    from toponav.mapping.raycast import cast_scan
    from toponav.robot import LidarParams
    from toponav.worlds.model import World

    T = TYPESTORE.types
    world = World(name="box", family="test", seed=0, bounds=(-5.0, -5.0, 5.0, 5.0), start=(0.0, 0.0, 0.0),
                  goal=(3.0, 0.0), circles=((2.0, 2.0, 0.4), (-2.0, -1.5, 0.3)))
    lidar = LidarParams(beams=180, range_max=8.0)
    angles = lidar.angles()

    def hdr(t: float, frame: str):
        return T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](int(t), round((t % 1) * 1e9)), frame)

    with BagWriter(tmp_path / "bag") as w:
        w.add_topic("/odom", "nav_msgs/msg/Odometry")
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        for k in range(40):
            t, x = 1.0 + 0.1 * k, 0.05 * k
            q = T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0)
            p = T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](x, 0.0, 0.0), q)
            V3 = T["geometry_msgs/msg/Vector3"]
            odom = T["nav_msgs/msg/Odometry"](hdr(t, "odom"), "base_link", T["geometry_msgs/msg/PoseWithCovariance"](
                p, np.zeros(36)), T["geometry_msgs/msg/TwistWithCovariance"](T["geometry_msgs/msg/Twist"](
                    V3(0.5, 0.0, 0.0), V3(0.0, 0.0, 0.0)), np.zeros(36)))
            w.write("/odom", round(t * 1e9), bytes(TYPESTORE.serialize_cdr(odom, "nav_msgs/msg/Odometry")))
            ranges = cast_scan(world, (x, 0.0, 0.0), angles, 8.0).astype(np.float32)
            scan = T["sensor_msgs/msg/LaserScan"](hdr(t, "base_scan"), float(angles[0]), float(angles[-1]),
                                                  float(angles[1] - angles[0]), 0.0, 0.1, 0.05, 8.0, ranges,
                                                  np.zeros(0, dtype=np.float32))
            w.write("/scan", round(t * 1e9), bytes(TYPESTORE.serialize_cdr(scan, "sensor_msgs/msg/LaserScan")))
    scans = bl.read_scans(tmp_path / "bag")
    assert len(scans) == 40 and scans[10][1] == pytest.approx((0.5, 0.0, 0.0)) and len(scans[0][2]) == 180
    timing = bl.mapper_timing(tmp_path / "bag", 0)
    assert [r["beams"] for r in timing["runs"]] == [180, 360]
    assert all(r["updates"] == 40 and r["median_ms"] > 0 and r["places"] >= 1 for r in timing["runs"])
    assert "| 360 | 40 |" in bl.timing_markdown(timing)

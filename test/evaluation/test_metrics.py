"""Evaluation on synthetic bags with hand-computed answers, fast CDR readers vs rosbags, bad bags."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from toponav.bags import TYPESTORE, BagWriter
from toponav.evaluation import EvalConfig, compute_metrics, fastcdr, load_run, shortest_path_length
from toponav.evaluation.cli import evaluate
from toponav.worlds import World

T = TYPESTORE.types
WORLD = World(name="test-box", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(1.0, 1.0, 0.0),
              goal=(9.0, 1.0), circles=((5.0, 5.5, 0.3),))


def ser(msg, typename: str) -> bytes:
    return bytes(TYPESTORE.serialize_cdr(msg, typename))


def header(t: float, frame: str = "map"):
    sec = math.floor(t)
    return T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](sec, round((t - sec) * 1e9)), frame)


def pose_msg(t: float, x: float, y: float, yaw: float = 0.0):
    q = T["geometry_msgs/msg/Quaternion"](0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
    return T["geometry_msgs/msg/PoseStamped"](header(t), T["geometry_msgs/msg/Pose"](
        T["geometry_msgs/msg/Point"](x, y, 0.0), q))


def odom_msg(t: float, x: float, y: float, v: float, w: float):
    V3 = T["geometry_msgs/msg/Vector3"]
    q = T["geometry_msgs/msg/Quaternion"](0.0, 0.0, 0.0, 1.0)
    pose = T["geometry_msgs/msg/PoseWithCovariance"](T["geometry_msgs/msg/Pose"](
        T["geometry_msgs/msg/Point"](x, y, 0.0), q), np.zeros(36))
    tw = T["geometry_msgs/msg/TwistWithCovariance"](T["geometry_msgs/msg/Twist"](V3(v, 0.0, 0.0), V3(0.0, 0.0, w)),
                                                    np.zeros(36))
    return T["nav_msgs/msg/Odometry"](header(t, "odom"), "base_link", pose, tw)


def scan_msg(t: float, ranges: np.ndarray):
    n = len(ranges)
    return T["sensor_msgs/msg/LaserScan"](header(t, "base_scan"), -math.pi, math.pi - 2 * math.pi / n,
                                          2 * math.pi / n, 0.0, 0.1, 0.05, 8.0, ranges.astype(np.float32),
                                          np.zeros(0, dtype=np.float32))


def string_msg(text: str):
    return T["std_msgs/msg/String"](text)


def detour(step: float = 0.1) -> np.ndarray:
    """(1,1) -> (1,4) -> (9,4) -> (9,1): 3 + 8 + 3 m, points every ``step`` m."""
    legs = [((1, 1), (1, 4)), ((1, 4), (9, 4)), ((9, 4), (9, 1))]
    pts = [np.array([1.0, 1.0])]
    for a, b in legs:
        a, b = np.array(a, float), np.array(b, float)
        n = round(np.hypot(*(b - a)) / step)
        pts += [a + (b - a) * k / n for k in range(1, n + 1)]
    return np.array(pts)


def write_run(path: Path, collision_times: list[float], *, storage: str = "mcap", namespace: str = "") -> None:
    """A run along :func:`detour`; ``namespace`` ("/robot1") records it as a recorder in that namespace does:
    the topics under it, the namespace in the metadata."""
    pts = detour()
    t0 = 10.0
    custom = {"toponav.namespace": namespace} if namespace else None
    with _Prefixed(BagWriter(path, storage=storage, custom_data=custom), namespace) as w:
        for topic, typ in [("/ground_truth/pose", "geometry_msgs/msg/PoseStamped"), ("/goal_pose",
                           "geometry_msgs/msg/PoseStamped"), ("/collision", "std_msgs/msg/String"),
                           ("/topo_graph", "std_msgs/msg/String"), ("/odom", "nav_msgs/msg/Odometry"),
                           ("/scan", "sensor_msgs/msg/LaserScan"), ("/cmd_vel", "geometry_msgs/msg/Twist")]:
            w.add_topic(topic, typ)
        ns = lambda t: round(t * 1e9)  # noqa: E731  (bag stamped in sim time, like the recorder)
        w.write("/goal_pose", ns(t0), ser(pose_msg(t0, 9.0, 1.0), "geometry_msgs/msg/PoseStamped"))
        events = sorted(collision_times)
        for i, (x, y) in enumerate(pts):
            t = t0 + i * 0.1  # 1 m/s
            while events and events[0] <= t:
                te = events.pop(0)
                w.write("/collision", ns(te), ser(string_msg(json.dumps({"stamp": te, "count": 1})),
                                                  "std_msgs/msg/String"))
            w.write("/ground_truth/pose", ns(t), ser(pose_msg(t, x, y), "geometry_msgs/msg/PoseStamped"))
            w.write("/odom", ns(t), ser(odom_msg(t, x, y, 1.0, 0.0), "nav_msgs/msg/Odometry"))
            w.write("/cmd_vel", ns(t), ser(T["geometry_msgs/msg/Twist"](T["geometry_msgs/msg/Vector3"](1.0, 0, 0),
                    T["geometry_msgs/msg/Vector3"](0, 0, 0)), "geometry_msgs/msg/Twist"))
            if i % 10 == 0:
                w.write("/scan", ns(t), ser(scan_msg(t, np.full(72, 2.0)), "sensor_msgs/msg/LaserScan"))
        graph = {"schema_version": 1, "stamp": t0 + 5, "explored_area": 12.5,
                 "nodes": [{"id": 0, "x": 1, "y": 1}, {"id": 1, "x": 1, "y": 4}, {"id": 2, "x": 9, "y": 4,
                                                                                  "frontier": True}],
                 "edges": [{"u": 0, "v": 1}, {"u": 1, "v": 2}]}
        w.write("/topo_graph", ns(t0 + 5), ser(string_msg(json.dumps(graph)), "std_msgs/msg/String"))


class _Prefixed:
    """A BagWriter whose topics go under ``namespace``."""

    def __init__(self, writer: BagWriter, namespace: str) -> None:
        self.writer, self.ns = writer, namespace

    def __enter__(self) -> _Prefixed:
        self.writer.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.__exit__(*exc)

    def add_topic(self, topic: str, msgtype: str) -> None:
        self.writer.add_topic(self.ns + topic, msgtype)

    def write(self, topic: str, stamp: int, data: bytes) -> None:
        self.writer.write(self.ns + topic, stamp, data)


def test_a_run_recorded_under_a_namespace_is_read_through_it(tmp_path: Path) -> None:
    """bag_recorder in /robot1 records /robot1/ground_truth/pose, ...: load_run (and so toponav eval) reads them
    through the namespace the bag stores, with the same metrics as the run recorded at the root."""
    write_run(tmp_path / "root", collision_times=[23.95])
    write_run(tmp_path / "ns", collision_times=[23.95], namespace="/robot1")
    cfg = EvalConfig(goal_tolerance=0.5, robot_radius=0.25)
    root = compute_metrics(load_run(tmp_path / "root", world=WORLD), cfg)
    ns = compute_metrics(load_run(tmp_path / "ns", world=WORLD), cfg)
    assert ns["path_length"] == pytest.approx(13.5, abs=1e-6) and ns["collisions"] == 1 and ns["graph_nodes"] == 3
    for key in ("path_length", "time_to_goal", "spl", "min_clearance", "collisions", "graph_edges", "reached"):
        assert ns[key] == root[key], key
    # read at the root instead, the bag has no run in it
    assert len(load_run(tmp_path / "ns", world=WORLD, namespace="/").traj) == 0
    from toponav.evaluation.run import in_namespace

    # a robot's own topic wins over the root's; global ones (the multi-robot sim's /world_info) come from the root
    assert in_namespace(["/clock", "/world_info", "/odom", "/robot1/odom", "/robot2/odom"], "robot1") == {
        "/clock": "/clock", "/world_info": "/world_info", "/robot1/odom": "/odom", "/robot2/odom": "/robot2/odom"}


def test_hand_computed_metrics(tmp_path: Path) -> None:
    write_run(tmp_path / "ok", collision_times=[23.95])  # one bump after reaching the goal
    run = load_run(tmp_path / "ok", world=WORLD)
    m = compute_metrics(run, EvalConfig(goal_tolerance=0.5, robot_radius=0.25))
    # reached when y <= 1.5 on the last leg: 3 + 8 + 2.5 = 13.5 m of path, 13.5 s after the goal at t=10
    assert m["reached"] and m["success"]
    assert m["path_length"] == pytest.approx(13.5, abs=1e-6)
    assert m["time_to_goal"] == pytest.approx(13.5, abs=1e-6)
    assert m["shortest_path"] == pytest.approx(8.0)  # the straight line (1,1)-(9,1) is free for r=0.25
    assert m["spl"] == pytest.approx(8.0 / 13.5)
    assert m["collisions"] == 1 and m["collisions_before_goal"] == 0
    # closest approach: the walls at x=0 / y=0 are 1.0 m from the path's (1, y) / (x, 1) legs, minus r
    assert m["min_clearance"] == pytest.approx(0.75)
    assert m["graph_nodes"] == 3 and m["graph_edges"] == 2 and m["mapper_explored_area"] == 12.5
    assert m["mean_speed"] == pytest.approx(1.0)
    cov = np.asarray(m["explored_area_over_time"])
    assert cov[-1, 1] > cov[0, 1] > math.pi * 1.9**2 * 0.8  # a 2 m lidar disc, then more
    assert np.all(np.diff(cov[:, 1]) >= 0)
    assert not m["partial"] and "barn_metric" not in m


def test_barn_metric_uses_the_challenge_optimal_time(tmp_path: Path) -> None:
    """toponav eval scores a BARN run with bench barn's OT: start -> reference path -> goal (the challenge's run.py)."""
    import dataclasses

    from toponav.evaluation.metrics import barn_reference_time, barn_score

    world = dataclasses.replace(WORLD, family="barn", reference_path=((1.0, 4.0), (9.0, 4.0)))
    write_run(tmp_path / "barn", collision_times=[])
    m = compute_metrics(load_run(tmp_path / "barn", world=world), EvalConfig(goal_tolerance=0.5, robot_radius=0.25))
    assert m["barn_optimal_time"] == pytest.approx((3.0 + 8.0 + 3.0) / 2.0) == barn_reference_time(world)
    assert m["barn_metric"] == pytest.approx(barn_score(7.0, True, m["time_to_goal"]))


def test_collision_before_goal_fails_spl(tmp_path: Path) -> None:
    write_run(tmp_path / "bump", collision_times=[12.0, 12.05, 23.95])
    m = compute_metrics(load_run(tmp_path / "bump", world=WORLD))
    assert m["reached"] and not m["success"] and m["spl"] == 0.0
    assert m["collisions"] == 3 and m["collisions_before_goal"] == 2


def test_shortest_path_around_a_wall() -> None:
    wall = World(name="wall", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 10.0), start=(2.0, 5.0, 0.0),
                 goal=(8.0, 5.0), boxes=((5.0, 4.0, 0.25, 4.0, 0.0),))  # wall x in [4.75,5.25], y in [0, 8]
    length = shortest_path_length(wall, (2.0, 5.0), (8.0, 5.0), radius=0.25, resolution=0.1)
    # around the wall's top corner (5 +- 0.25, 8) with 0.25 m clearance: about 2 * hypot(2.75, 3.25) + 0.5
    expected = 2 * math.hypot(2.75, 3.25) + 0.5
    assert length == pytest.approx(expected, rel=0.05)
    closed = World(name="closed", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 10.0), start=(2.0, 5.0, 0.0),
                   goal=(8.0, 5.0), boxes=((5.0, 5.0, 0.25, 5.0, 0.0),))
    assert shortest_path_length(closed, (2.0, 5.0), (8.0, 5.0), radius=0.25) is None


def test_eval_cli_outputs_and_sqlite(tmp_path: Path) -> None:
    write_run(tmp_path / "a", collision_times=[])
    write_run(tmp_path / "b", collision_times=[], storage="sqlite3")
    WORLD.save(tmp_path / "world.json")
    results = evaluate([str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "missing")], tmp_path / "out",
                       world_spec=str(tmp_path / "world.json"), tum=True)
    assert results[0]["spl"] == pytest.approx(8.0 / 13.5) and results[1]["spl"] == pytest.approx(8.0 / 13.5)
    assert "error" in results[2] and "no such bag" in results[2]["error"]
    assert (tmp_path / "out" / "00_a.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved[0]["success"] is True
    csv_lines = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("bag,world,success") and len(csv_lines) == 4
    tum = np.loadtxt(tmp_path / "out" / "00_a.tum")
    assert tum.shape == (len(detour()), 8) and tum[0, 0] == pytest.approx(10.0) and tum[-1, 1] == pytest.approx(9.0)


def test_fast_cdr_matches_rosbags() -> None:
    p = pose_msg(12.25, 1.5, -2.0, 0.7)
    t, x, y, _z, _qx, _qy, qz, qw = fastcdr.pose_stamped(ser(p, "geometry_msgs/msg/PoseStamped"))
    assert (t, x, y, qz, qw) == pytest.approx((12.25, 1.5, -2.0, math.sin(0.35), math.cos(0.35)))
    o = odom_msg(3.5, 4.0, 5.0, 0.8, -0.3)
    t, pose, tw = fastcdr.odometry(ser(o, "nav_msgs/msg/Odometry"))
    assert t == 3.5 and pose[:2] == (4.0, 5.0) and (tw[0], tw[5]) == pytest.approx((0.8, -0.3))
    ranges = np.linspace(0.1, 7.9, 90)
    t, amin, _ainc, _rmin, rmax, r = fastcdr.laser_scan(ser(scan_msg(1.0, ranges), "sensor_msgs/msg/LaserScan"))
    assert amin == pytest.approx(-math.pi) and rmax == 8.0 and np.allclose(r, ranges, atol=1e-6)
    assert fastcdr.string(ser(string_msg("héllo"), "std_msgs/msg/String")) == "héllo"
    with pytest.raises(fastcdr.CdrError):
        fastcdr.pose_stamped(b"\x00\x01\x00\x00\x01")
    with pytest.raises(fastcdr.CdrError):
        fastcdr.laser_scan(ser(scan_msg(1.0, ranges), "sensor_msgs/msg/LaserScan")[:100])


def test_damaged_and_empty_bags_are_marked(tmp_path: Path) -> None:
    write_run(tmp_path / "full", collision_times=[])
    raw = (tmp_path / "full" / "full_0.mcap").read_bytes()
    (tmp_path / "cut.mcap").write_bytes(raw[: len(raw) // 2])
    # one chunk (< 1 MiB) cut in half: nothing decodable survives -> a clear error, not a crash
    results = evaluate([str(tmp_path / "cut.mcap")], tmp_path / "o1", plots=False)
    assert ("error" in results[0]) or results[0]["partial"]
    with BagWriter(tmp_path / "empty") as w:
        w.add_topic("/odom", "nav_msgs/msg/Odometry")
    m = compute_metrics(load_run(tmp_path / "empty"))
    assert m["success"] is False and m["path_length"] == 0.0
    assert any("no messages" in w for w in m["warnings"]) and any("no trajectory" in w for w in m["warnings"])


def test_bench_eval_runs_and_agrees(tmp_path: Path) -> None:
    import argparse

    from toponav.experiments import bench_eval

    out = tmp_path / "bench.json"
    assert bench_eval.run(argparse.Namespace(bag=None, seconds=20.0, repeat=1, out=str(out))) == 0
    result = json.loads(out.read_text())
    counts = {row["messages"] for row in result.values()}
    assert len(counts) == 1 and counts.pop() > 3000  # every method read every message


def test_load_run_closes_the_bag_when_a_decoder_raises(tmp_path: Path, monkeypatch) -> None:
    from toponav.bags.reader import BagReader

    write_run(tmp_path / "run", collision_times=[])
    closed: list[bool] = []
    real_close = BagReader.close
    monkeypatch.setattr(BagReader, "close", lambda self: (closed.append(True), real_close(self))[1])

    def broken(data: bytes) -> None:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(fastcdr, "laser_scan", broken)
    with pytest.raises(RuntimeError, match="decoder bug"):
        load_run(tmp_path / "run")
    assert closed

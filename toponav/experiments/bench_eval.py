"""``toponav bench eval``: messages/s for reading + evaluating a large bag, side by side with rosbags loops.

The bag is a synthetic run with the recorder's default topics at the sim's real rates (/clock 100 Hz,
/odom, /ground_truth/pose and /cmd_vel 20 Hz, /scan 10 Hz with 360 beams, /topo_graph 1 Hz), or
any bag given with ``--bag``. Three rows, timed in the same process one after the other:

  rosbags raw read      ``for c, t, raw in reader.messages()`` (no decoding): the I/O floor
  rosbags read+decode   the same loop with ``typestore.deserialize_cdr`` on every message: what a
                        straightforward evaluation script does
  toponav eval          :func:`toponav.evaluation.load_run` + :func:`compute_metrics` (all metrics)

Rates are wall clock; the process CPU time is printed too (better on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toponav.bags import TYPESTORE, BagWriter
from toponav.config import param
from toponav.evaluation import compute_metrics, load_run
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.worlds import make_world

T = TYPESTORE.types


def _time(sec: float):
    s = math.floor(sec)
    return T["builtin_interfaces/msg/Time"](s, round((sec - s) * 1e9))


def synthetic_bag(path: Path, seconds: float, beams: int = 360) -> int:
    """Write a recorded-run-like bag of ``seconds`` sim seconds; returns the message count."""
    H, V3 = T["std_msgs/msg/Header"], T["geometry_msgs/msg/Vector3"]
    P, Pt, Q = T["geometry_msgs/msg/Pose"], T["geometry_msgs/msg/Point"], T["geometry_msgs/msg/Quaternion"]
    rng = np.random.default_rng(0)
    ranges = (rng.random(beams) * 7.5 + 0.3).astype(np.float32)
    ser = TYPESTORE.serialize_cdr
    n = 0
    with BagWriter(path, custom_data={"toponav.world": "empty", "toponav.seed": "1000000"}) as w:
        for topic, typ in (("/clock", "rosgraph_msgs/msg/Clock"), ("/odom", "nav_msgs/msg/Odometry"),
                           ("/ground_truth/pose", "geometry_msgs/msg/PoseStamped"),
                           ("/cmd_vel", "geometry_msgs/msg/Twist"), ("/scan", "sensor_msgs/msg/LaserScan"),
                           ("/topo_graph", "std_msgs/msg/String"), ("/goal_pose", "geometry_msgs/msg/PoseStamped")):
            w.add_topic(topic, typ)
        goal = T["geometry_msgs/msg/PoseStamped"](H(_time(0.0), "map"), P(Pt(9.0, 5.0, 0.0), Q(0, 0, 0, 1.0)))
        w.write("/goal_pose", 1, ser(goal, "geometry_msgs/msg/PoseStamped"))
        n += 1
        graph_nodes: list[dict] = []
        for k in range(int(seconds * 100)):
            t = k * 0.01
            ns = round(t * 1e9) + 1
            w.write("/clock", ns, ser(T["rosgraph_msgs/msg/Clock"](_time(t)), "rosgraph_msgs/msg/Clock"))
            n += 1
            # a lawnmower in a 10 x 10 m world at 0.5 m/s
            s = 0.5 * t
            lane, along = divmod(s, 8.0)
            x = 1.0 + (along if int(lane) % 2 == 0 else 8.0 - along)
            y = 1.0 + (lane % 8) * 1.0
            if k % 5 == 0:
                pose = P(Pt(x, y, 0.0), Q(0.0, 0.0, 0.0, 1.0))
                odom = T["nav_msgs/msg/Odometry"](
                    H(_time(t), "odom"), "base_link", T["geometry_msgs/msg/PoseWithCovariance"](pose, np.zeros(36)),
                    T["geometry_msgs/msg/TwistWithCovariance"](T["geometry_msgs/msg/Twist"](V3(0.5, 0, 0), V3(0, 0, 0)),
                                                               np.zeros(36)))
                w.write("/odom", ns, ser(odom, "nav_msgs/msg/Odometry"))
                w.write("/ground_truth/pose", ns, ser(T["geometry_msgs/msg/PoseStamped"](H(_time(t), "map"), pose),
                                                      "geometry_msgs/msg/PoseStamped"))
                w.write("/cmd_vel", ns, ser(T["geometry_msgs/msg/Twist"](V3(0.5, 0, 0), V3(0, 0, 0)),
                                            "geometry_msgs/msg/Twist"))
                n += 3
            if k % 10 == 0:
                scan = T["sensor_msgs/msg/LaserScan"](H(_time(t), "base_scan"), -math.pi, math.pi, 2 * math.pi / beams,
                                                      0.0, 0.1, 0.05, 8.0, np.roll(ranges, k), np.zeros(0, np.float32))
                w.write("/scan", ns, ser(scan, "sensor_msgs/msg/LaserScan"))
                n += 1
            if k % 100 == 0:
                graph_nodes.append({"id": len(graph_nodes), "x": round(x, 2), "y": round(y, 2)})
                graph = {"schema_version": 1, "stamp": t, "explored_area": 2.0 * len(graph_nodes),
                         "nodes": graph_nodes[-200:], "edges": [{"u": i, "v": i + 1} for i in
                                                                range(max(0, len(graph_nodes) - 200),
                                                                      len(graph_nodes) - 1)]}
                w.write("/topo_graph", ns, ser(T["std_msgs/msg/String"](json.dumps(graph)), "std_msgs/msg/String"))
                n += 1
    return n


def bench_raw(path: Path) -> tuple[int, float, float]:
    from rosbags.rosbag2 import Reader

    w0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with Reader(path) as reader:
        for _conn, _t, _raw in reader.messages():
            n += 1
    return n, time.perf_counter() - w0, time.process_time() - c0


def bench_decode(path: Path) -> tuple[int, float, float]:
    from rosbags.rosbag2 import Reader

    w0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with Reader(path) as reader:
        for conn, _t, raw in reader.messages():
            TYPESTORE.deserialize_cdr(raw, conn.msgtype)
            n += 1
    return n, time.perf_counter() - w0, time.process_time() - c0


def bench_toponav(path: Path) -> tuple[int, float, float, dict]:
    w0, c0 = time.perf_counter(), time.process_time()
    run = load_run(path)
    metrics = compute_metrics(run)
    return run.messages, time.perf_counter() - w0, time.process_time() - c0, metrics


@dataclass
class EvalBenchOptions:
    """``toponav bench eval``'s options."""

    bag: str | None = param(None, "bag to read (None: a synthetic run is written first)")
    seconds: float = param(1200.0, "sim seconds of the synthetic bag (about 175 messages per second)")
    repeat: int = param(3, "timing repetitions (best is reported)")
    out: str | None = param(None, "write the results as JSON here")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, EvalBenchOptions)


def run(ns: argparse.Namespace) -> int:
    args = dataclass_from_args(EvalBenchOptions, ns)
    make_world("empty", 1000000)  # warm the world cache outside the timed region
    tmp = None
    if args.bag:
        path = Path(args.bag)
        print(f"[bench eval] bag {path}")
    else:
        tmp = tempfile.TemporaryDirectory(prefix="toponav-bench-eval-")
        path = Path(tmp.name) / "synthetic"
        t0 = time.perf_counter()
        count = synthetic_bag(path, args.seconds)
        size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        print(f"[bench eval] wrote a synthetic {args.seconds:.0f} s run: {count} messages, {size:.0f} MB "
              f"in {time.perf_counter() - t0:.1f} s")
    rows: dict[str, tuple[int, float, float]] = {}
    metrics: dict = {}
    for _ in range(max(1, args.repeat)):
        for name, fn in (("rosbags raw read", bench_raw), ("rosbags read+decode", bench_decode),
                         ("toponav eval", bench_toponav)):
            res = fn(path)
            if name == "toponav eval":
                metrics = res[3]
                res = res[:3]
            if name not in rows or res[1] < rows[name][1]:
                rows[name] = res
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (shared machine: wall rates are noisy)")
    print(f"{'method':<22}{'messages':>10}{'wall s':>9}{'msg/s (wall)':>15}{'msg/s (cpu)':>14}")
    base = rows["rosbags read+decode"][0] / rows["rosbags read+decode"][1]
    result = {}
    for name, (n, wall, cpu) in rows.items():
        rate, crate = n / wall, n / max(cpu, 1e-9)
        result[name] = {"messages": n, "wall_s": wall, "cpu_s": cpu, "msg_per_s": rate, "msg_per_s_cpu": crate}
        print(f"{name:<22}{n:>10}{wall:>9.2f}{rate:>15,.0f}{crate:>14,.0f}")
    ours = result["toponav eval"]["msg_per_s"]
    print(f"\ntoponav eval vs rosbags read+decode: {ours / base:.2f}x; vs raw read: "
          f"{ours / result['rosbags raw read']['msg_per_s']:.2f}x; target >= 50,000 msg/s: "
          f"{'met' if ours >= 50_000 else 'NOT met'}")
    print(f"(metrics computed: path {metrics.get('path_length', 0):.0f} m, explored "
          f"{metrics.get('explored_area') or 0:.0f} m², graph {metrics.get('graph_nodes')} nodes)")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    if tmp is not None:
        tmp.cleanup()
    return 0

"""Read one recorded run out of a bag, in one pass, into plain arrays (:class:`RunData`).

Times are sim seconds. Messages with a header use its stamp; the others (Twist, String events)
use the bag timestamp, mapped onto sim time through the recorded /clock when the bag was stamped
with wall time (``ros2 bag record`` without --use-sim-time). Which topics are used:

  trajectory  /ground_truth/pose (PoseStamped, map), else /odom      velocity  /odom twist, /cmd_vel
  goal        last /goal_pose, else the world's goal                 collisions  /collision events
  graph       /topo_graph JSON (nodes, edges, explored_area)         world  /world_info or bag metadata
  scans       /scan, every ``scan_period`` s (coverage) + min range of every scan
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toponav.bags import BagError, open_bag
from toponav.evaluation import fastcdr
from toponav.geometry import quaternion_to_yaw
from toponav.worlds import World, WorldError, make_world


@dataclass
class RunData:
    bag: str
    traj_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    traj: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # x, y, yaw
    traj_source: str = ""
    vel_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    vel: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # v, w (odometry)
    cmd_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cmd: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    goal: tuple[float, float] | None = None
    goal_t: float | None = None
    collisions: list[float] = field(default_factory=list)
    collision_topic: bool = False
    graph_t: list[float] = field(default_factory=list)
    graph_nodes: list[int] = field(default_factory=list)
    graph_edges: list[int] = field(default_factory=list)
    graph_area: list[float] = field(default_factory=list)
    last_graph: dict[str, Any] | None = None
    scans: list[tuple[float, float, float, float, np.ndarray]] = field(default_factory=list)
    scan_min_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scan_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    world: World | None = None
    world_spec: str = ""
    messages: int = 0
    partial: bool = False
    warnings: list[str] = field(default_factory=list)


def _clock_mapper(pairs: list[tuple[int, float]]):
    """bag timestamp (ns) -> sim seconds. Identity when the bag was already stamped in sim time."""
    if not pairs:
        return lambda ns: ns * 1e-9
    arr = np.asarray(pairs, dtype=np.float64)
    offset = np.median(arr[:, 0] * 1e-9 - arr[:, 1])
    if abs(offset) < 1.0:
        return lambda ns: ns * 1e-9
    order = np.argsort(arr[:, 0])
    bag_s, sim_s = arr[order, 0] * 1e-9, arr[order, 1]
    return lambda ns: float(np.interp(ns * 1e-9, bag_s, sim_s))


def resolve_world(spec: str, seed: int | None) -> World:
    return make_world(spec, 0 if seed is None else seed)


def _add_graph(run: RunData, text: str, stamp_ns: int) -> None:
    graph = json.loads(text)
    if isinstance(graph, dict):
        run.graph_t.append(float(graph.get("stamp", stamp_ns * 1e-9)))
        run.graph_nodes.append(len(graph.get("nodes", [])))
        run.graph_edges.append(len(graph.get("edges", [])))
        run.graph_area.append(float(graph.get("explored_area", np.nan)))
        run.last_graph = graph


def load_run(path: str | Path, *, world: World | None = None, scan_period: float = 1.0,
             graph_period: float = 5.0) -> RunData:
    """Read a bag into :class:`RunData`. BagError if the bag cannot be opened at all."""
    bag = open_bag(path)
    run = RunData(bag=str(path))
    run.warnings.extend(bag.warnings)
    topics = bag.topics
    use_gt = "/ground_truth/pose" in topics and topics["/ground_truth/pose"].count > 0
    run.traj_source = "/ground_truth/pose" if use_gt else ("/odom" if "/odom" in topics else "")
    wanted = {"/clock", "/odom", "/cmd_vel", "/goal_pose", "/collision", "/topo_graph", "/scan", "/world_info",
              "/ground_truth/pose"}
    wanted &= {t for t, info in topics.items() if info.known}
    traj_t: list[float] = []
    traj: list[tuple[float, float, float]] = []
    vel_t: list[float] = []
    vel: list[tuple[float, float]] = []
    cmd_ns: list[int] = []
    cmd: list[tuple[float, float]] = []
    coll_ns: list[tuple[int, float | None]] = []
    clock_pairs: list[tuple[int, float]] = []
    goal_ns: int | None = None
    scan_min_t: list[float] = []
    scan_min: list[float] = []
    next_scan = -np.inf
    world_info: dict[str, Any] | None = None
    last_graph_ns = -(2**62)
    pending_graph: tuple[int, bytes] | None = None
    bad = 0
    run.collision_topic = "/collision" in topics
    for topic, stamp, data in bag.messages(wanted):
        run.messages += 1
        try:
            if topic == "/clock":
                if len(clock_pairs) < 100000 and (not clock_pairs or stamp - clock_pairs[-1][0] > 50_000_000):
                    clock_pairs.append((stamp, fastcdr.stamp_only(data)))
            elif topic == "/ground_truth/pose" or (topic == "/odom" and not use_gt):
                if topic == "/odom":
                    t, p, tw = fastcdr.odometry(data)
                    vel_t.append(t)
                    vel.append((tw[0], tw[5]))
                else:
                    t, *p = fastcdr.pose_stamped(data)
                traj_t.append(t)
                traj.append((p[0], p[1], quaternion_to_yaw(p[3], p[4], p[5], p[6])))
            elif topic == "/odom":
                t, _, tw = fastcdr.odometry(data)
                vel_t.append(t)
                vel.append((tw[0], tw[5]))
            elif topic == "/scan":
                t, amin, ainc, rmin, rmax, ranges = fastcdr.laser_scan(data)
                valid = ranges[np.isfinite(ranges) & (ranges >= rmin)]
                if valid.size:
                    scan_min_t.append(t)
                    scan_min.append(float(valid.min()))
                if t >= next_scan:
                    next_scan = t + scan_period
                    run.scans.append((t, amin, ainc, rmax, np.array(ranges, dtype=np.float32)))
            elif topic == "/cmd_vel":
                v = fastcdr.twist(data)
                cmd_ns.append(stamp)
                cmd.append((v[0], v[5]))
            elif topic == "/goal_pose":
                t, x, y, *_ = fastcdr.pose_stamped(data)
                run.goal = (x, y)
                goal_ns = stamp
            elif topic == "/collision":
                text = fastcdr.string(data)
                try:
                    event = json.loads(text)
                    sim_t = float(event["stamp"]) if isinstance(event, dict) and "stamp" in event else None
                except (ValueError, TypeError, KeyError):
                    sim_t = None
                coll_ns.append((stamp, sim_t))
            elif topic == "/topo_graph":
                # graphs are big JSON documents: parse one per ``graph_period`` and always the last one
                if stamp - last_graph_ns >= graph_period * 1e9:
                    _add_graph(run, fastcdr.string(data), stamp)
                    last_graph_ns = stamp
                    pending_graph = None
                else:
                    pending_graph = (stamp, data)
            elif topic == "/world_info":
                world_info = json.loads(fastcdr.string(data))
        except (fastcdr.CdrError, ValueError, TypeError) as exc:
            bad += 1
            if bad <= 3:
                run.warnings.append(f"{path}: skipped a malformed {topic} message ({exc})")
    if pending_graph is not None:
        try:
            _add_graph(run, fastcdr.string(pending_graph[1]), pending_graph[0])
        except (fastcdr.CdrError, ValueError, TypeError) as exc:
            bad += 1
            run.warnings.append(f"{path}: skipped a malformed /topo_graph message ({exc})")
    if bad:
        run.partial = True
        run.warnings.append(f"{path}: {bad} malformed messages skipped; results are partial")
    run.partial = run.partial or bag.partial
    to_sim = _clock_mapper(clock_pairs)
    run.traj_t = np.asarray(traj_t)
    run.traj = np.asarray(traj, dtype=np.float64).reshape(-1, 3)
    if len(run.traj_t) > 1 and np.any(np.diff(run.traj_t) < 0):
        order = np.argsort(run.traj_t, kind="stable")
        run.traj_t, run.traj = run.traj_t[order], run.traj[order]
        run.warnings.append(f"{path}: pose stamps go backwards (a sim reset, or two publishers on the domain?)")
    run.vel_t, run.vel = np.asarray(vel_t), np.asarray(vel, dtype=np.float64).reshape(-1, 2)
    if len(run.vel_t) > 1 and np.any(np.diff(run.vel_t) < 0):
        order = np.argsort(run.vel_t, kind="stable")
        run.vel_t, run.vel = run.vel_t[order], run.vel[order]
        run.warnings.append(f"{path}: odometry stamps go backwards (a sim reset, or two publishers?)")
    run.cmd_t = np.asarray([to_sim(ns) for ns in cmd_ns])
    run.cmd = np.asarray(cmd, dtype=np.float64).reshape(-1, 2)
    run.collisions = [sim_t if sim_t is not None else to_sim(ns) for ns, sim_t in coll_ns]
    run.goal_t = to_sim(goal_ns) if goal_ns is not None else None
    run.scan_min_t, run.scan_min = np.asarray(scan_min_t), np.asarray(scan_min)
    bag.close()

    # the world: given, else from the bag's metadata, else from /world_info
    run.world = world
    if run.world is None:
        spec = bag.custom_data.get("toponav.world", "")
        seed = bag.custom_data.get("toponav.seed")
        if not spec and world_info:
            fam = str(world_info.get("family", ""))
            seed = world_info.get("seed")
            spec = f"barn:{seed}" if fam == "barn" else fam
        if spec:
            run.world_spec = f"{spec} (seed {seed})"
            try:
                run.world = resolve_world(spec, int(seed) if seed not in (None, "") else None)
            except (WorldError, ValueError, OSError) as exc:
                run.warnings.append(f"{path}: world {spec!r} could not be rebuilt ({exc}); "
                                    "world-based metrics are skipped")
    else:
        run.world_spec = run.world.name
    if run.goal is None and run.world is not None:
        run.goal = (float(run.world.goal[0]), float(run.world.goal[1]))
    if run.messages == 0 and not run.partial:
        run.warnings.append(f"{path}: no usable messages")
    return run


__all__ = ["BagError", "RunData", "load_run"]

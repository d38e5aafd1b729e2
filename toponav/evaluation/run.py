"""Read one recorded run out of a bag, in one pass, into plain arrays (:class:`RunData`).

Times are sim seconds. Messages with a header use its stamp; the others (Twist, String events)
use the bag timestamp, mapped onto sim time through the recorded /clock when the bag was stamped
with wall time (``ros2 bag record`` without --use-sim-time). Which topics are used:

  trajectory  /ground_truth/pose (PoseStamped, map), else /odom      velocity  /odom twist, /cmd_vel
  goal        last /goal_pose, else the world's goal                 collisions  /collision events
  graph       /topo_graph JSON (nodes, edges, explored_area)         world  /world_info or bag metadata
  scans       /scan, every ``scan_period`` s (coverage) + min range of every scan

A run recorded under a namespace (bag_recorder in ``/robot1`` records ``/robot1/odom``, ...) is read through
that namespace: the bag's ``toponav.namespace`` metadata, or ``namespace=`` to pick one robot of a bag that
holds several. ``/clock`` is global; a topic missing under the namespace (the multi-robot sim's
``/world_info``) is taken from the root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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


class _Collector:
    """The per-topic decoders of one :func:`load_run` pass and what they have gathered so far.

    :meth:`handlers` is the table (topic -> decode function) that the reading loop dispatches on; each
    handler appends to plain lists, turned into arrays once the bag is read (:meth:`finish`).
    """

    def __init__(self, run: RunData, scan_period: float, graph_period: float) -> None:
        self.run = run
        self.scan_period = scan_period
        self.graph_period_ns = graph_period * 1e9
        self.traj_t: list[float] = []
        self.traj: list[tuple[float, float, float]] = []
        self.vel_t: list[float] = []
        self.vel: list[tuple[float, float]] = []
        self.cmd_ns: list[int] = []
        self.cmd: list[tuple[float, float]] = []
        self.coll_ns: list[tuple[int, float | None]] = []
        self.clock_pairs: list[tuple[int, float]] = []
        self.goal_ns: int | None = None
        self.scan_min_t: list[float] = []
        self.scan_min: list[float] = []
        self.next_scan = -np.inf
        self.world_info: dict[str, Any] | None = None
        self.last_graph_ns = -(2**62)
        self.pending_graph: tuple[int, bytes] | None = None

    def handlers(self, use_gt: bool) -> dict[str, Callable[[int, bytes], None]]:
        """The trajectory comes from /ground_truth/pose when the bag has it, else from /odom (which always
        gives the velocity)."""
        return {
            "/clock": self.clock, "/ground_truth/pose": self.ground_truth,
            "/odom": self.odom if use_gt else self.odom_pose, "/scan": self.scan, "/cmd_vel": self.cmd_vel,
            "/goal_pose": self.goal_pose, "/collision": self.collision, "/topo_graph": self.topo_graph,
            "/world_info": self.world_info_msg,
        }

    def clock(self, stamp: int, data: bytes) -> None:
        pairs = self.clock_pairs
        if len(pairs) < 100000 and (not pairs or stamp - pairs[-1][0] > 50_000_000):
            pairs.append((stamp, fastcdr.stamp_only(data)))

    def _pose(self, t: float, p: Any) -> None:
        self.traj_t.append(t)
        self.traj.append((p[0], p[1], quaternion_to_yaw(p[3], p[4], p[5], p[6])))

    def ground_truth(self, stamp: int, data: bytes) -> None:
        t, *p = fastcdr.pose_stamped(data)
        self._pose(t, p)

    def odom(self, stamp: int, data: bytes) -> None:
        t, _, tw = fastcdr.odometry(data)
        self.vel_t.append(t)
        self.vel.append((tw[0], tw[5]))

    def odom_pose(self, stamp: int, data: bytes) -> None:
        t, p, tw = fastcdr.odometry(data)
        self.vel_t.append(t)
        self.vel.append((tw[0], tw[5]))
        self._pose(t, p)

    def scan(self, stamp: int, data: bytes) -> None:
        t, amin, ainc, rmin, rmax, ranges = fastcdr.laser_scan(data)
        valid = ranges[np.isfinite(ranges) & (ranges >= rmin)]
        if valid.size:
            self.scan_min_t.append(t)
            self.scan_min.append(float(valid.min()))
        if t >= self.next_scan:
            self.next_scan = t + self.scan_period
            self.run.scans.append((t, amin, ainc, rmax, np.array(ranges, dtype=np.float32)))

    def cmd_vel(self, stamp: int, data: bytes) -> None:
        v = fastcdr.twist(data)
        self.cmd_ns.append(stamp)
        self.cmd.append((v[0], v[5]))

    def goal_pose(self, stamp: int, data: bytes) -> None:
        _, x, y, *_ = fastcdr.pose_stamped(data)
        self.run.goal = (x, y)
        self.goal_ns = stamp

    def collision(self, stamp: int, data: bytes) -> None:
        text = fastcdr.string(data)
        try:
            event = json.loads(text)
            sim_t = float(event["stamp"]) if isinstance(event, dict) and "stamp" in event else None
        except (ValueError, TypeError, KeyError):
            sim_t = None
        self.coll_ns.append((stamp, sim_t))

    def topo_graph(self, stamp: int, data: bytes) -> None:
        # graphs are big JSON documents: parse one per ``graph_period`` and always the last one (finish_graph)
        if stamp - self.last_graph_ns >= self.graph_period_ns:
            _add_graph(self.run, fastcdr.string(data), stamp)
            self.last_graph_ns = stamp
            self.pending_graph = None
        else:
            self.pending_graph = (stamp, data)

    def world_info_msg(self, stamp: int, data: bytes) -> None:
        self.world_info = json.loads(fastcdr.string(data))

    def finish_graph(self) -> None:
        """Parse the last graph, when it fell between two parsed ones."""
        if self.pending_graph is not None:
            _add_graph(self.run, fastcdr.string(self.pending_graph[1]), self.pending_graph[0])

    def finish(self, path: str | Path) -> None:
        """Lists -> arrays (sorted by stamp, with a warning, where stamps go backwards), bag times -> sim time."""
        run = self.run
        to_sim = _clock_mapper(self.clock_pairs)
        run.traj_t = np.asarray(self.traj_t)
        run.traj = np.asarray(self.traj, dtype=np.float64).reshape(-1, 3)
        if len(run.traj_t) > 1 and np.any(np.diff(run.traj_t) < 0):
            order = np.argsort(run.traj_t, kind="stable")
            run.traj_t, run.traj = run.traj_t[order], run.traj[order]
            run.warnings.append(f"{path}: pose stamps go backwards (a sim reset, or two publishers on the domain?)")
        run.vel_t, run.vel = np.asarray(self.vel_t), np.asarray(self.vel, dtype=np.float64).reshape(-1, 2)
        if len(run.vel_t) > 1 and np.any(np.diff(run.vel_t) < 0):
            order = np.argsort(run.vel_t, kind="stable")
            run.vel_t, run.vel = run.vel_t[order], run.vel[order]
            run.warnings.append(f"{path}: odometry stamps go backwards (a sim reset, or two publishers?)")
        run.cmd_t = np.asarray([to_sim(ns) for ns in self.cmd_ns])
        run.cmd = np.asarray(self.cmd, dtype=np.float64).reshape(-1, 2)
        run.collisions = [sim_t if sim_t is not None else to_sim(ns) for ns, sim_t in self.coll_ns]
        run.goal_t = to_sim(self.goal_ns) if self.goal_ns is not None else None
        run.scan_min_t, run.scan_min = np.asarray(self.scan_min_t), np.asarray(self.scan_min)


def _attach_world(run: RunData, world: World | None, custom_data: dict[str, str],
                  world_info: dict[str, Any] | None, path: str | Path) -> None:
    """The world: given, else from the bag's metadata, else from /world_info; the goal defaults to its goal."""
    run.world = world
    if run.world is None:
        spec = custom_data.get("toponav.world", "")
        seed: Any = custom_data.get("toponav.seed")
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


def in_namespace(recorded: Iterable[str], namespace: str) -> dict[str, str]:
    """Recorded topic -> the name load_run reads it as: ``/robot1/odom`` -> ``/odom`` in ``/robot1``; a root
    topic keeps its name unless the namespace has its own."""
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    names = list(recorded)
    out = {t: t for t in names if not ns or not t.startswith(ns + "/")}
    for t in names:
        if ns and t.startswith(ns + "/"):
            local = t[len(ns):]
            out = {k: v for k, v in out.items() if v != local}
            out[t] = local
    return out


def load_run(path: str | Path, *, world: World | None = None, scan_period: float = 1.0,
             graph_period: float = 5.0, namespace: str | None = None) -> RunData:
    """Read a bag into :class:`RunData`. BagError if the bag cannot be opened at all.

    The bag is read inside ``with``, so it is closed whatever a decoder raises. A malformed message is
    skipped (counted; the first three named in ``warnings``) and the run marked ``partial``.
    """
    run = RunData(bag=str(path))
    with open_bag(path) as bag:
        run.warnings.extend(bag.warnings)
        ns = bag.custom_data.get("toponav.namespace", "/") if namespace is None else namespace
        local = in_namespace(bag.topics, ns)  # recorded name -> the name read here
        topics = {local[t]: info for t, info in bag.topics.items() if t in local}
        use_gt = "/ground_truth/pose" in topics and topics["/ground_truth/pose"].count > 0
        run.traj_source = "/ground_truth/pose" if use_gt else ("/odom" if "/odom" in topics else "")
        run.collision_topic = "/collision" in topics
        collector = _Collector(run, scan_period, graph_period)
        handlers = collector.handlers(use_gt)
        recorded = {name: t for t, name in local.items()}
        wanted = {recorded[t] for t in set(handlers) & {t for t, info in topics.items() if info.known}}
        bad = 0
        for rec_topic, stamp, data in bag.messages(wanted):
            topic = local[rec_topic]
            run.messages += 1
            try:
                handlers[topic](stamp, data)
            except (fastcdr.CdrError, ValueError, TypeError) as exc:
                bad += 1
                if bad <= 3:
                    run.warnings.append(f"{path}: skipped a malformed {topic} message ({exc})")
        try:
            collector.finish_graph()
        except (fastcdr.CdrError, ValueError, TypeError) as exc:
            bad += 1
            run.warnings.append(f"{path}: skipped a malformed /topo_graph message ({exc})")
        if bad:
            run.partial = True
            run.warnings.append(f"{path}: {bad} malformed messages skipped; results are partial")
        run.partial = run.partial or bag.partial
        collector.finish(path)
        custom_data = bag.custom_data
    _attach_world(run, world, custom_data, collector.world_info, path)
    if run.messages == 0 and not run.partial:
        run.warnings.append(f"{path}: no usable messages")
    return run


__all__ = ["BagError", "RunData", "load_run"]

"""ROS 2 node ``subgoal_planner``: picks the next sub-goal on the topological graph (thin shell over
:class:`toponav.planning.SubgoalPlanner`).

Subscribes  /topo_graph (std_msgs/String JSON, latched), /odom (nav_msgs/Odometry), /goal_pose (PoseStamped),
            /pose (geometry_msgs/PoseWithCovarianceStamped: the mapper's corrected pose, or AMCL's remapped here),
            /map (nav_msgs/OccupancyGrid, latched: known walls for the optimistic goal distance),
            /world_info (the sim's latched world bounds -> exploration boundary; ``boundary_from_world_info``)
Publishes   /subgoal (PoseStamped), /plan (nav_msgs/Path along the graph, latched),
            /toponav/status (diagnostic_msgs/DiagnosticArray: mode, state, coverage, graph size)
Services    ~/explore (std_srvs/SetBool: start/stop exploring), ~/return_home (std_srvs/Trigger)

Parameters mirror :class:`SubgoalPlannerNodeConfig` (``planner.mode``, ``planner.weights.novelty``, ...).
/subgoal and /plan use the graph's ``frame_id`` (``map``), else the ``frame_id`` parameter. The robot's pose
in it is the latest odometry through ``map <- odom`` from the corrected poses on /pose (what TF's map -> odom
is in a full install; identity until the first one, as map and odom start together); goals in ``map`` are used
as given, goals in ``odom`` go through the same transform. On ``done``,
``stuck`` and ``idle`` the node publishes the robot's own position once as the sub-goal, so the low-level
controller holds still. With ``lockstep: true`` the planner ticks at ``rate`` on sim-step stamps, on the
graph, odometry and goal the step names (ros_nodes/lockstep.py), so it plans the same in every run.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from nav_msgs.msg import OccupancyGrid, Odometry, Path
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from toponav import config as cfgmod
from toponav.config import param
from toponav.localisation.frames import MapFromOdom
from toponav.lockstep import StepMsg, Ticker
from toponav.planning import GraphError, PlaceGraph, PlannerConfig, State, SubgoalPlanner
from toponav.planning.planner import RNDSettings
from toponav.planning.scorers import HeuristicScorer, make_scorer
from toponav.ros_nodes.common import (
    COMMAND_QOS,
    EVENT_QOS,
    LATCHED_QOS,
    SENSOR_QOS,
    declare_config,
    on_rate_change,
    periodic,
    run_node,
)
from toponav.ros_nodes.convert import (
    ConversionError,
    make_pose_stamped,
    occupancy_msg_to_grid,
    odometry_to_pose,
    pose_stamped_to_xy,
    pose_with_covariance_to_pose,
)
from toponav.ros_nodes.lockstep import LockstepClient, Stream, header_key, lockstep_enabled, string_key


@dataclass
class SubgoalPlannerNodeConfig:
    """Node settings; ``planner.*`` are the core planner's (see docs/planning.md)."""

    planner: PlannerConfig = field(default_factory=PlannerConfig)
    rate: float = param(2.0, "planning / publishing rate (Hz, node clock)", min=0.1, max=100.0)
    frame_id: str = param("map", "frame of /subgoal and /plan when the graph names none (else the graph's frame)")
    odom_timeout: float = param(2.0, "odometry older than this (s) is stale: no new sub-goals", min=0.01)
    torch_threads: int = param(1, "torch CPU threads (RND / meta-controller)", min=1)
    boundary_from_world_info: bool = param(
        True, "when planner.boundary is empty, take the simulator's latched /world_info bounds as the exploration "
        "boundary (frontiers beyond the world's edge are no sub-goals); a robot without a sim never receives it")


_LEVEL = {State.IDLE: DiagnosticStatus.OK, State.EXPLORING: DiagnosticStatus.OK,
          State.NAVIGATING: DiagnosticStatus.OK, State.DONE: DiagnosticStatus.OK, State.STUCK: DiagnosticStatus.WARN}


#: Read once at start: the executor threads, whether /world_info is subscribed, the planner's initial state and
#: its boundary (which /world_info or a params file sets; the planner validates it as a polygon). Read-only.
PLANNER_READ_ONLY = ("torch_threads", "boundary_from_world_info", "planner.explore_on_start", "planner.boundary")
PLANNER_LIVE = tuple(n for n in cfgmod.flatten(SubgoalPlannerNodeConfig()) if n not in PLANNER_READ_ONLY)


class SubgoalPlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("subgoal_planner")
        self.config: SubgoalPlannerNodeConfig = declare_config(self, SubgoalPlannerNodeConfig, live=PLANNER_LIVE,
                                                               on_change=on_rate_change(self, self._tick))
        import torch

        torch.set_num_threads(self.config.torch_threads)
        self._applied = self.config
        self.planner = SubgoalPlanner(self.config.planner, log=self._log)
        self._graph: PlaceGraph | None = None
        self._odom_time: float | None = None
        self.frames = MapFromOdom()  # map <- odom from the corrected poses on `pose` (identity until one arrives)
        self._odom_pose: np.ndarray | None = None
        self._map_pose_t: float | None = None  # stamp of the last corrected pose taken
        self._last_now: float | None = None
        self._held = False
        self._chosen: tuple[str, float, float] | None = None  # the target last logged
        self._published: dict[str, int] = {}
        streams = [Stream("topo_graph", "topo_graph", String, LATCHED_QOS, self._on_graph, string_key),
                   Stream("odom", "odom", Odometry, SENSOR_QOS, self._on_odom, header_key),
                   Stream("pose", "pose", PoseWithCovarianceStamped, SENSOR_QOS, self._on_pose, header_key),
                   Stream("goal_pose", "goal_pose", PoseStamped, COMMAND_QOS, self._on_goal, header_key,
                          wait_publisher=False),
                   Stream("map", "map", OccupancyGrid, LATCHED_QOS, self._on_map, header_key)]
        if self.config.boundary_from_world_info and not self.config.planner.boundary:
            streams.append(Stream("world_info", "world_info", String, LATCHED_QOS, self._on_world_info, string_key))
        on, input_timeout = lockstep_enabled(self)
        self.lockstep: LockstepClient | None = None
        if on:
            self._ticker = Ticker(1.0 / self.config.rate)
            self.lockstep = LockstepClient(self, streams, self._lockstep_needs, self._lockstep_step, input_timeout)
        else:
            for st in streams:
                self.create_subscription(st.msg_type, st.topic, st.callback, st.qos)
        self.pub_subgoal = self.create_publisher(PoseStamped, "subgoal", COMMAND_QOS)
        self.pub_plan = self.create_publisher(Path, "plan", LATCHED_QOS)
        self.pub_status = self.create_publisher(DiagnosticArray, "toponav/status", EVENT_QOS)
        self.create_service(SetBool, "~/explore", self._on_explore)
        self.create_service(Trigger, "~/return_home", self._on_return_home)
        if self.lockstep is None:
            self.timer = periodic(self, self.config.rate, self._tick)
        self.get_logger().info(f"sub-goal planner up: mode {self.planner.mode}, {self.config.rate:.1f} Hz")

    # -- helpers --------------------------------------------------------------------------------------
    def _log(self, level: str, msg: str) -> None:
        # rclpy refuses one call site logging at different severities: one line per level.
        log = self.get_logger()
        if level == "error":
            log.error(msg)
        elif level == "warn":
            log.warning(msg)
        elif level == "info":
            log.info(msg)
        else:
            log.debug(msg)

    @property
    def frame(self) -> str:
        """The graph's own frame (the mapper says which), else the configured one."""
        return (self._graph.frame_id if self._graph is not None else "") or self.config.frame_id

    def _now(self) -> float:
        return self._now_time().nanoseconds * 1e-9

    def _now_time(self):
        """The node clock, or in lockstep the current step's stamp (the same in every run)."""
        return self.lockstep.now if self.lockstep is not None else self.get_clock().now()

    # -- lockstep -------------------------------------------------------------------------------------
    def _lockstep_needs(self, step: StepMsg) -> tuple[str, ...]:
        self._ticking = self._ticker.due(step.stamp)
        return ("topo_graph", "odom", "pose", "goal_pose", "world_info", "map") if self._ticking else ()

    def _lockstep_step(self, step: StepMsg) -> tuple[dict[str, int], None]:
        if not self._ticking:
            return {}, None
        self._published = {}
        self._tick()
        return self._published, None

    def _apply_params(self) -> None:
        """Live parameter changes (validated by declare_config) reach the planner here, before its next tick."""
        if self.config is self._applied:
            return
        old, new = self._applied.planner, self.config.planner
        new.boundary = list(self.planner.cfg.boundary)  # read-only, but /world_info may have filled it in
        self.planner.cfg = new
        if new.mode != old.mode or new.checkpoint != old.checkpoint or new.explore_lite != old.explore_lite:
            self.planner.scorer, self.planner.mode = make_scorer(new, self._log)
        elif isinstance(self.planner.scorer, HeuristicScorer):
            self.planner.scorer.weights = new.weights
        if new.rnd != old.rnd:
            self._apply_rnd(old.rnd, new.rnd)
        self._applied = self.config

    def _apply_rnd(self, old: RNDSettings, new: RNDSettings) -> None:
        """RND settings live: on/off and a new seed (re)make the networks as the planner makes them at start (the
        predictor starts untrained), a new learning rate goes to the optimiser, a new history length keeps the
        newest observations; ``batch`` is read on every training step."""
        p = self.planner
        if not new.enabled:
            p._rnd = None
        elif p._rnd is None or new.seed != old.seed:
            from toponav.models.rnd import FEATURE_DIM, RND, RNDConfig

            p._rnd = RND(FEATURE_DIM, RNDConfig(lr=new.lr, warmup_samples=16), seed=new.seed)
            p._rng = np.random.default_rng(new.seed)
        elif new.lr != old.lr:
            for group in p._rnd.optimizer.param_groups:
                group["lr"] = new.lr
        if new.history != old.history:
            p._history = deque(p._history, maxlen=new.history)
        self.get_logger().info(f"RND settings now: {new}")

    # -- callbacks ------------------------------------------------------------------------------------
    def _on_graph(self, msg: String) -> None:
        try:
            graph = PlaceGraph.from_json(msg.data)
        except GraphError as exc:
            self.get_logger().error(f"ignoring malformed /topo_graph: {exc}", throttle_duration_sec=5.0)
            return
        self._graph = graph
        self.planner.set_graph(graph)

    def _on_map(self, msg: OccupancyGrid) -> None:
        """The mapper's grid: known walls for the optimistic goal distance (``planner.goal_distance``)."""
        try:
            self.planner.set_map(*occupancy_msg_to_grid(msg))
        except ValueError as exc:
            self.get_logger().error(f"ignoring malformed /map: {exc}", throttle_duration_sec=5.0)

    def _on_world_info(self, msg: String) -> None:
        """The sim's world bounds become the exploration boundary (once; a reset republishes them)."""
        try:
            bounds = [float(v) for v in json.loads(msg.data)["bounds"]]
            self.planner.set_boundary(bounds)
        except (ValueError, KeyError, TypeError) as exc:
            self.get_logger().warning(f"ignoring /world_info without usable bounds: {exc}")
            return
        self.get_logger().info(f"exploration boundary from /world_info: {bounds}")

    def _on_odom(self, msg: Odometry) -> None:
        try:
            x, y, yaw, t = odometry_to_pose(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /odom: {exc}", throttle_duration_sec=5.0)
            return
        self._odom_pose = np.array([x, y, yaw])
        self.frames.add_odom(t, self._odom_pose)
        fresh = self._map_pose_t is not None and abs(t - self._map_pose_t) <= self.config.odom_timeout
        # the corrected pose itself while it comes (one per scan); odometry through map <- odom when it stops
        if fresh or self.planner.set_pose(*self.frames.to_map(self._odom_pose).tolist()):
            self._odom_time = self._now()

    def _on_pose(self, msg: PoseWithCovarianceStamped) -> None:
        """A corrected pose (the mapper's, or another localiser's remapped here): the robot in the graph's frame.

        The planner decides at a few Hz and, in lockstep, holds one odometry sample per tick: it takes this pose
        as it is (at most a scan period old) rather than recomputing it from odometry.
        """
        try:
            x, y, yaw, t = pose_with_covariance_to_pose(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /pose: {exc}", throttle_duration_sec=5.0)
            return
        if self.planner.set_pose(x, y, yaw):
            self._map_pose_t = t
        self.frames.add_map_pose(t, np.array([x, y, yaw]))

    def _on_goal(self, msg: PoseStamped) -> None:
        frame = msg.header.frame_id.lstrip("/")
        if frame and frame not in (self.frame, "map", "odom"):
            self.get_logger().warning(f"goal in frame '{frame}' taken as '{self.frame}'")
        try:
            x, y = pose_stamped_to_xy(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /goal_pose: {exc}", throttle_duration_sec=5.0)
            return
        if frame == "odom" and self.frame != "odom":
            x, y = self.frames.to_map(np.array([x, y, 0.0]))[:2].tolist()
        if self.planner.set_goal(x, y):
            self._held = False

    def _on_explore(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        self.planner.set_exploring(req.data)
        self._held = False
        res.success, res.message = True, f"exploration {'started' if req.data else 'stopped'}"
        return res

    def _on_return_home(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        ok = self.planner.return_home()
        self._held = False
        res.success = ok
        res.message = "returning home" if ok else "no home yet (no odometry received)"
        return res

    # -- main loop ------------------------------------------------------------------------------------
    def _tick(self) -> None:
        self._apply_params()
        now = self._now()
        if self._last_now is not None and now < self._last_now - 1.0:
            self.get_logger().warning(f"time jumped back {self._last_now - now:.1f} s: resetting sub-goal timers")
            self.planner.target = None
            self._odom_time = None
        self._last_now = now
        stale = self._odom_time is None or now - self._odom_time > self.config.odom_timeout
        if stale:
            reason = "waiting for odometry" if self._odom_time is None else \
                f"odometry stale ({now - self._odom_time:.1f} s old)"
            self._publish_status(self.planner.state, reason, stale=True)
            return
        d = self.planner.step(now)
        t = self.planner.target
        chosen = None if t is None else (t.id, round(t.x, 1), round(t.y, 1))
        if d.replanned and chosen is not None and chosen != self._chosen:
            self.get_logger().info(f"sub-goal {t.id} at ({t.x:.2f}, {t.y:.2f}): {d.reason}")
        self._chosen = chosen
        stamp = self._now_time().to_msg()
        if d.subgoal is not None:
            self._held = False
            yaw = self._heading(d.path, d.subgoal)
            self._publish_subgoal(self._pose(stamp, d.subgoal[0], d.subgoal[1], yaw))
            path = Path()
            path.header.frame_id = self.frame
            path.header.stamp = stamp
            path.poses = [self._pose(stamp, x, y, 0.0) for x, y in d.path]
            self.pub_plan.publish(path)
        elif not self._held and self.planner.pose is not None:
            x, y, yaw = self.planner.pose
            self._publish_subgoal(self._pose(stamp, x, y, yaw))  # hold position
            self.pub_plan.publish(Path(header=self._pose(stamp, x, y, yaw).header))
            self._held = True
        self._publish_status(d.state, d.reason)

    def _publish_subgoal(self, msg: PoseStamped) -> None:
        self.pub_subgoal.publish(msg)
        self._published["subgoal"] = header_key(msg)

    @staticmethod
    def _heading(path: list[tuple[float, float]], sub: tuple[float, float]) -> float:
        if len(path) >= 2:
            i = max(1, next((k for k, q in enumerate(path) if q == sub), len(path) - 1))
            a, b = path[i - 1], path[i]
            if math.hypot(b[0] - a[0], b[1] - a[1]) > 1e-6:
                return math.atan2(b[1] - a[1], b[0] - a[0])
        return 0.0

    def _pose(self, stamp, x: float, y: float, yaw: float) -> PoseStamped:
        return make_pose_stamped(x, y, yaw, self.frame, stamp)

    def _publish_status(self, state: State, reason: str, stale: bool = False) -> None:
        g = self._graph
        p = self.planner
        st = DiagnosticStatus()
        st.name = "toponav/subgoal_planner"
        st.hardware_id = self.get_fully_qualified_name()
        st.level = DiagnosticStatus.WARN if stale else _LEVEL[state]
        st.message = f"{state.value}: {reason}"
        t = p.target
        values = {
            "mode": p.mode,
            "state": state.value,
            "task": "return_home" if p.returning_home else ("goal" if p.goal is not None else
                                                            ("explore" if p.exploring else "none")),
            "coverage_m2": f"{g.explored_area:.2f}" if g is not None and g.explored_area is not None else "unknown",
            "graph_nodes": str(len(g) if g else 0),
            "graph_edges": str(g.num_edges() if g else 0),
            "frontiers": str(len(g.frontier_ids()) if g else 0),
            "target": "" if t is None else f"{t.id} ({t.x:.2f}, {t.y:.2f})",
            "replans": str(p.replans),
            "blacklisted": str(len(p.blacklist)),
            "goal": "" if p.goal is None else json.dumps([round(v, 3) for v in p.goal]),
        }
        st.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        arr = DiagnosticArray()
        arr.header.stamp = self._now_time().to_msg()
        arr.status = [st]
        self.pub_status.publish(arr)


def main(args=None) -> int:
    return run_node(SubgoalPlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

"""ROS 2 sim node: a PyBullet AGV world that publishes what a real robot's drivers publish, on sim time.

Per robot (relative topic names: under the node's namespace, and under each robot's namespace below it; frames
prefixed with the robot's, e.g. robot2/base_link; the ``robots`` parameter lists the namespaces, "" = none; all
robots share one world and see each other):
Publishes  /clock (rosgraph_msgs/Clock, global), /scan (LaserScan, frame base_scan), /odom (Odometry odom ->
base_link, wheels for distance and a gyro for yaw), /ground_truth/pose (PoseStamped, map; for evaluation only),
/wheel_odom (Odometry, the wheels alone without the gyro; for evaluation only), /points
(PointCloud2, base_link; when camera.enabled), /collision (String JSON, one event per new contact),
/world_info (String JSON, latched: world name, bounds, start, goal).
Subscribes /cmd_vel (Twist; non-finite -> warning, ignored; stale -> robot stops), /goal_pose
(PoseStamped; only validated against the world: a goal outside it or inside an obstacle is warned about).
Services   ~/reset (std_srvs/Trigger: rebuild from the current ``world``/``seed`` parameters),
           ~/pause (std_srvs/SetBool).

Time: the node itself steps on a wall-clock timer (it is the clock source); each callback advances
sim time to ``real_time_factor`` x elapsed wall time in ``tick`` steps (0 = as fast as possible).
With ``lockstep`` the sim instead advances ``step_period`` at a time, and only once every node named in
``lockstep_nodes`` has acked the step (protocol in docs/simulation.md: /lockstep/step, /lockstep/ack; names
relative to the sim's namespace, so with several robots ``robot1/topo_mapper``, ``robot2/topo_mapper``, ...:
one barrier for all robots, each robot's command taken from the ack that names its ``cmd_vel``);
``real_time_factor`` is then an upper bound (0 = as fast as the nodes allow), a node that misses the
``lockstep_timeout`` wall-clock deadline is logged as an ERROR, listed under ``hung`` and dropped, and
the controller's command is the one carried in its ack for the step. /lockstep/status (String JSON,
latched, about once per wall second) reports the mode, step, participants, hung nodes and the achieved
real-time factor in both modes.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import LaserScan, PointCloud2
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from toponav.lockstep import (
    ACK_TOPIC,
    HELLO,
    RECORDER,
    STATUS_TOPIC,
    STEP_TOPIC,
    AckMsg,
    RtfMeter,
    StepBarrier,
    StepMsg,
    payload_key,
    stamp_key,
    stream_name,
)
from toponav.ros_nodes.common import (
    CLOCK_PUB_QOS,
    COMMAND_QOS,
    EVENT_QOS,
    LATCHED_QOS,
    LOCKSTEP_ACK_QOS,
    LOCKSTEP_STEP_QOS,
    SENSOR_QOS,
    STATE_QOS,
    declare_config,
    run_node,
)
from toponav.ros_nodes.convert import (
    ConversionError,
    make_laserscan,
    make_odometry,
    make_pose_stamped,
    pose_stamped_to_xy,
    sec_to_stamp,
    twist_to_vw,
    xyz_to_pointcloud2,
)
from toponav.sim.config import SimConfig
from toponav.sim.pybullet_agv import AgvSim, CameraParams
from toponav.worlds import World, WorldError, make_world

try:  # TF is optional: broadcast it where tf2_ros exists, never require it
    from geometry_msgs.msg import TransformStamped
    from tf2_ros import TransformBroadcaster
except ImportError:  # pragma: no cover - depends on the installation
    TransformBroadcaster = None

CONTACT_RELEASE = 0.5  # s without contact before a new contact is a new collision event
MAX_TICKS_PER_CALLBACK = 200  # keep the executor responsive when running far faster than real time
STATUS_PERIOD = 1.0  # wall s between /lockstep/status messages
RTF_LOG_PERIOD = 30.0  # wall s between achieved-RTF log lines


def _sec_nsec(t: float) -> tuple[int, int]:
    s = sec_to_stamp(t)
    return s.sec, s.nanosec


def _num(x: float) -> float | None:
    return round(float(x), 3) if math.isfinite(x) else None



#: sim_node parameters that take effect while running; every other one is read-only.
SIM_LIVE = ("real_time_factor", "scan_rate", "odom_rate", "cmd_timeout", "odometry", "camera.rate")

class _RobotIO:
    """Publishers, subscriptions and command state of one robot (namespace ``ns``)."""

    def __init__(self, node: SimNode, ns: str) -> None:
        self.ns = ns.strip("/")
        # relative names: under the node's namespace (a one-robot sim launched with namespace:=robot1 publishes
        # /robot1/scan), and each robot of a multi-robot sim one level below it (robots: [robot1, robot2] ->
        # /robot1/scan, /robot2/scan): one mechanism, ROS namespaces
        pre = f"{self.ns}/" if self.ns else ""
        self.frame = (lambda f: f"{self.ns}/{f}") if self.ns else (lambda f: f)
        self.scan_pub = node.create_publisher(LaserScan, f"{pre}scan", SENSOR_QOS)
        self.odom_pub = node.create_publisher(Odometry, f"{pre}odom", STATE_QOS)
        self.gt_pub = node.create_publisher(PoseStamped, f"{pre}ground_truth/pose", STATE_QOS)
        # the wheels alone (yaw from the wheel difference, no gyro): evaluation only, as ground truth is
        self.wheel_odom_pub = node.create_publisher(Odometry, f"{pre}wheel_odom", STATE_QOS)
        self.points_pub = node.create_publisher(PointCloud2, f"{pre}points", SENSOR_QOS)
        self.collision_pub = node.create_publisher(String, f"{pre}collision", EVENT_QOS)
        self.odom_travelled = 0.0  # m the published odometry moved: its pose covariance grows with it
        self.odom_last: tuple[float, float] | None = None
        cmd_sub = node.create_subscription(Twist, f"{pre}cmd_vel", self._on_cmd, COMMAND_QOS)
        goal_sub = node.create_subscription(PoseStamped, f"{pre}goal_pose", self._on_goal, COMMAND_QOS)
        # lockstep stream names: the resolved topic names without the leading "/" ("scan" at the root,
        # "robot1/scan" under robot1), the names the participants join on (ros_nodes/lockstep.py)
        self.keys = {name: stream_name(sub.topic_name) for name, sub in (
            ("scan", self.scan_pub), ("odom", self.odom_pub), ("points", self.points_pub), ("cmd_vel", cmd_sub),
            ("goal_pose", goal_sub))}
        self.cmd_owner: str | None = None  # lockstep: the participant whose acks command this robot
        self.node = node
        self.cmd = np.zeros(2)
        self.cmd_time = -math.inf
        self.in_contact = False
        self.last_contact = -math.inf
        self.collision_count = 0

    # warnings are throttled (rclpy, per call site): a bad publisher must not flood the log
    def _on_cmd(self, msg: Twist) -> None:
        if self.node.lockstep_commands(self):  # the lockstep controller's ack carries the command for each step
            return
        try:
            v, w = twist_to_vw(msg)
        except ConversionError as exc:
            self.node.get_logger().warning(f"ignoring non-finite /cmd_vel for '{self.ns}' ({exc}); keeping last "
                                           "command", throttle_duration_sec=1.0)
            return
        self.cmd = np.array([v, w])
        self.cmd_time = self.node.sim.sim_time

    def _on_goal(self, msg: PoseStamped) -> None:
        # lockstep: the next step names this goal, so every node applies it at the same step
        self.node._keys[self.keys["goal_pose"]] = stamp_key(msg.header.stamp.sec, msg.header.stamp.nanosec)
        world = self.node.world
        log = self.node.get_logger()
        try:
            x, y = pose_stamped_to_xy(msg)
        except ConversionError as exc:
            log.warning(f"goal ignored: {exc}", throttle_duration_sec=1.0)
            return
        xmin, ymin, xmax, ymax = world.bounds
        if not (xmin <= x <= xmax and ymin <= y <= ymax):
            log.warning(f"goal ({x:.2f}, {y:.2f}) is outside world '{world.name}' bounds {world.bounds}",
                        throttle_duration_sec=1.0)
        elif world.clearance(np.array([[x, y]]))[0] < self.node.config.robot.radius:
            log.warning(f"goal ({x:.2f}, {y:.2f}) is inside or too close to an obstacle of '{world.name}'",
                        throttle_duration_sec=1.0)


class SimNode(Node):
    """PyBullet AGV simulation behind standard ROS topics."""

    def __init__(self) -> None:
        super().__init__("sim_node")
        # the world, robots, physics and lockstep set-up are built once: read-only; the pacing and the publishing
        # rates, read on every step, stay live
        self.config: SimConfig = declare_config(self, SimConfig, live=SIM_LIVE)
        cfg = self.config
        names = list(cfg.robots) or [""]
        if len({n.strip("/") for n in names}) != len(names):
            from toponav.config import ConfigError

            raise ConfigError("robots", f"robot namespaces must be unique, got {names}")
        self.world = self._load_world(cfg.world, cfg.seed)
        self.sim = self._make_sim(self.world, cfg, len(names))
        self.robots = [_RobotIO(self, ns) for ns in names]
        self._starts = self.sim.start_poses()
        # /clock is global by ROS convention (every node's time source subscribes /clock), and so is the lockstep
        # protocol (STEP_TOPIC, ACK_TOPIC, STATUS_TOPIC) the sim runs as the clock source of all its nodes
        self.clock_pub = self.create_publisher(ClockMsg, "/clock", CLOCK_PUB_QOS)
        self.world_pub = self.create_publisher(String, "world_info", LATCHED_QOS)
        self.status_pub = self.create_publisher(String, STATUS_TOPIC, LATCHED_QOS)
        first = self.robots[0].ns
        self.goal_pub = (self.create_publisher(PoseStamped, f"{first}/goal_pose" if first else "goal_pose",
                                               COMMAND_QOS) if cfg.send_goal else None)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.tf = TransformBroadcaster(self) if TransformBroadcaster is not None else None
        self.paused = False
        self._next_scan = self._next_odom = self._next_points = 0.0
        self._wall = Clock(clock_type=ClockType.STEADY_TIME)  # the sim is the clock source: step on wall time
        self._wall0 = time.monotonic()
        self._sim0 = 0.0
        self._rtf = cfg.real_time_factor
        self.rtf_meter = RtfMeter()
        self._last_status = -math.inf
        self._keys: dict[str, int] = {}  # lockstep: stream -> key of its newest message
        self.barrier: StepBarrier | None = None
        if cfg.lockstep:
            self._setup_lockstep(cfg, names)
            period = 0.05 if cfg.real_time_factor == 0 else min(cfg.step_period / cfg.real_time_factor / 4, 0.02)
            self.create_timer(period, self._on_lockstep_timer, clock=self._wall)
        else:
            self.create_timer(0.005 if cfg.real_time_factor == 0 else min(cfg.tick / cfg.real_time_factor, 0.02),
                              self._on_timer, clock=self._wall)
        if not cfg.headless:
            self.get_logger().warning("headless:=false: no GUI in this build (PyBullet runs in DIRECT mode)")
        self._publish_world()
        self._publish_clock()
        mode = (f"lockstep ({', '.join(cfg.lockstep_nodes)}; step {cfg.step_period} s)" if cfg.lockstep
                else "free-running")
        self.get_logger().info(f"sim ready: world '{self.world.name}', rtf {cfg.real_time_factor}, {mode}, "
                               f"physics {cfg.physics_rate} Hz, lidar {cfg.lidar.beams} beams")

    # -------------------------------------------------------------------------------- lockstep
    def _setup_lockstep(self, cfg: SimConfig, names: list[str]) -> None:
        from toponav.config import ConfigError

        ratio = cfg.step_period / cfg.tick
        if abs(ratio - round(ratio)) > 1e-6:
            raise ConfigError("step_period", f"must be a multiple of tick ({cfg.tick} s), got {cfg.step_period}")
        self._ticks_per_step = max(1, round(ratio))
        try:
            self.barrier = StepBarrier([self._participant(n) for n in cfg.lockstep_nodes if n], cfg.lockstep_timeout,
                                       cfg.lockstep_startup_timeout,
                                       observers=[self._participant(RECORDER)] if cfg.lockstep_recorder else [])
        except ValueError as exc:
            raise ConfigError("lockstep_timeout", str(exc)) from None
        self._outputs: dict[str, int] = {}  # node outputs as named by the acks so far
        self._inputs: dict[str, int] = {}  # topic -> how many participants said they join on it
        self._counted: set[str] = set()  # nodes whose hello inputs are in _inputs
        self._step_pub = self.create_publisher(String, STEP_TOPIC, LOCKSTEP_STEP_QOS)
        self.create_subscription(String, ACK_TOPIC, self._on_ack, LOCKSTEP_ACK_QOS)
        self._step = HELLO
        self._step_wall = time.monotonic()

    def _participant(self, name: str) -> str:
        """A ``lockstep_nodes`` entry as the participant names itself (its fully qualified name without the
        leading "/"): relative names are in the sim's namespace (``topo_mapper`` of a sim in /robot1 is
        ``robot1/topo_mapper``), absolute ones as given."""
        if name.startswith("/"):
            return name.strip("/")
        ns = self.get_namespace().strip("/")
        return f"{ns}/{name}" if ns else name

    def lockstep_commands(self, robot: _RobotIO) -> bool:
        """True while a live lockstep participant drives ``robot`` through its acks."""
        return self.barrier is not None and robot.cmd_owner in self.barrier.active

    def _commanded(self, ack: AckMsg) -> _RobotIO | None:
        """The robot an ack's command is for: the one whose cmd_vel the ack's outputs name (each robot's
        controller publishes its own); with one robot, that one."""
        for robot in self.robots:
            if robot.keys["cmd_vel"] in ack.outputs:
                return robot
        return self.robots[0] if len(self.robots) == 1 else None

    def _on_ack(self, msg: String) -> None:
        b = self.barrier
        try:
            ack = AckMsg.from_json(msg.data)
        except (ValueError, KeyError, TypeError) as exc:
            self.get_logger().warning(f"ignoring a malformed lockstep ack: {exc}", throttle_duration_sec=5.0)
            return
        if ack.node not in b.members:
            return
        if ack.step == HELLO:
            if ack.node not in self._counted:  # once per node (an observer's hello may have to come again)
                self._counted.add(ack.node)
                for topic in ack.inputs:
                    self._inputs[topic] = self._inputs.get(topic, 0) + 1
            if b.hello(ack.node):
                self.get_logger().info(f"lockstep: '{ack.node}' is back (hello); re-admitted to the barrier")
                self._publish_status(force=True)
            return
        if ack.step != b.step:
            return  # an ack of an older step (from a node that was late): nothing to do
        if b.ack(ack.node, ack.step):
            self.get_logger().info(f"lockstep: '{ack.node}' is back (acked step {ack.step}); re-admitted")
            self._publish_status(force=True)
        self._outputs.update(ack.outputs)
        if ack.late:
            self.get_logger().warning(f"lockstep: '{ack.node}' ran step {ack.step} without {', '.join(ack.late)} "
                                      "(not received in time)", throttle_duration_sec=5.0)
        robot = self._commanded(ack) if ack.cmd is not None else None
        if robot is not None and all(math.isfinite(c) for c in ack.cmd):
            robot.cmd = np.array(ack.cmd)
            robot.cmd_time = self.sim.sim_time
            robot.cmd_owner = ack.node
        elif ack.cmd is not None and robot is None:
            self.get_logger().warning(f"lockstep: '{ack.node}' sent a command for none of the robots (its outputs "
                                      f"name no robot's cmd_vel: {sorted(ack.outputs)})", throttle_duration_sec=5.0)
        if b.complete and not self.paused and self._paced():
            self._advance()

    def _matched(self) -> bool:
        """Every participant receives the steps, and the sensor topics they join on are matched, so the
        first steps' messages are not lost to DDS discovery still in progress."""
        b = self.barrier
        if self._step_pub.get_subscription_count() < len(b.seen):
            return False
        robots = [p for r in self.robots for p in (r.scan_pub, r.odom_pub)]
        pubs = {p.topic_name: p for p in (*robots, self.goal_pub)
                if p is not None}  # resolved names, as the participants' hellos give them
        return all(pub.get_subscription_count() >= self._inputs.get(topic, 0) for topic, pub in pubs.items())

    def _on_lockstep_timer(self) -> None:
        b = self.barrier
        now = time.monotonic()
        if not b.started:
            waited = now - self._step_wall
            if len(b.seen) < len(b.members) and waited < b.startup_timeout:
                self._publish_status()
                return
            if not self._matched() and waited < b.startup_timeout:
                return
            missing = b.try_start(now) if waited >= b.startup_timeout else b.try_start(self._step_wall)
            if missing is None:
                return
            if missing:
                self.get_logger().error(f"lockstep: no hello from {', '.join(missing)} within "
                                        f"{b.startup_timeout:.0f} s; stepping without them (reported hung)")
            self._start_lockstep()
            return
        if self.paused:
            self._publish_status()
            return
        late = b.overdue(now)
        if late:
            self.get_logger().error(
                f"lockstep: {', '.join(late)} did not ack step {b.step} (t={self.sim.sim_time:.2f} s) within "
                f"{b.timeout:.1f} s wall: reported hung in {STATUS_TOPIC} and dropped from the barrier"
                + ("; the robot stops (cmd_timeout)" if any(r.cmd_owner in late for r in self.robots) else ""))
            self._publish_status(force=True)
        if b.complete and self._paced():
            self._advance()
        self._publish_status()

    def _start_lockstep(self) -> None:
        """Step 0: the sensors at t0 (and the goal, with send_goal), then the first step message."""
        t = self.sim.sim_time
        self._next_scan = self._next_odom = self._next_points = t
        self._publish_due(t)
        if self.goal_pub is not None:
            self._send_goal(t)
        self._publish_clock()
        self._sim0, self._wall0 = t, time.monotonic()
        self.rtf_meter.reset()
        self._begin_step()
        observing = sorted(self.barrier.seen & set(self.barrier.observers))
        self.get_logger().info(f"lockstep started with {', '.join(sorted(self.barrier.active)) or 'no nodes'}"
                               + (f" (observed by {', '.join(observing)})" if observing else ""))

    def _paced(self) -> bool:
        """With real_time_factor > 0 the next step waits until wall time has caught up (an upper bound)."""
        rtf = self.config.real_time_factor
        if rtf <= 0:
            return True
        if rtf != self._rtf:
            self._rtf = rtf
            self._sim0, self._wall0 = self.sim.sim_time, time.monotonic()
        due = self._wall0 + (self.sim.sim_time + self.config.step_period - self._sim0) / rtf
        now = time.monotonic()
        if now - due > 1.0:  # cannot keep up: do not accumulate a lag to catch up later
            self._sim0, self._wall0 = self.sim.sim_time, now
        return now >= due

    def _advance(self) -> None:
        for _ in range(self._ticks_per_step):
            self._tick(clock=False)
        self._publish_clock()
        self._begin_step()

    def _begin_step(self) -> None:
        b = self.barrier
        t = self.sim.sim_time
        self._step += 1
        wall = time.monotonic()
        self._step_wall = wall
        self.rtf_meter.sample(t, wall)
        latest = {**self._outputs, **self._keys}
        b.begin(self._step, wall)
        self._step_pub.publish(String(data=StepMsg(self._step, stamp_key(*_sec_nsec(t)), latest).to_json()))

    def _send_goal(self, t: float) -> None:
        gx, gy = self.world.goal[0], self.world.goal[1]
        msg = make_pose_stamped(gx, gy, 0.0, "map", sec_to_stamp(t))
        self.goal_pub.publish(msg)
        self._keys[self.robots[0].keys["goal_pose"]] = stamp_key(msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.get_logger().info(f"goal ({gx:.2f}, {gy:.2f}) sent on /goal_pose at t={t:.2f} s (send_goal)")

    def _publish_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_PERIOD:
            return
        self._last_status = now
        m = self.rtf_meter
        data: dict[str, Any] = {
            "lockstep": self.barrier is not None, "stamp": round(self.sim.sim_time, 6), "paused": self.paused,
            "rtf": _num(m.recent), "rtf_overall": _num(m.overall), "rtf_cap": self.config.real_time_factor,
        }
        b = self.barrier
        if b is not None:
            data.update(step=b.step, started=b.started, step_period=self.config.step_period,
                        participants=list(b.participants), active=sorted(b.active), waiting_for=sorted(b.pending),
                        hung=sorted(b.hung), hung_reasons=dict(b.hung), timeout=b.timeout)
        self.status_pub.publish(String(data=json.dumps(data)))
        if math.isfinite(m.recent):  # one line per RTF_LOG_PERIOD wall s, the first after a whole period
            self.get_logger().info(f"achieved real-time factor {m.recent:.2f} (last {m.window:.0f} s wall), "
                                   f"{m.overall:.2f} overall; t={self.sim.sim_time:.1f} s",
                                   throttle_duration_sec=RTF_LOG_PERIOD, skip_first=True)

    # ------------------------------------------------------------------------------------ setup
    def _load_world(self, spec: str, seed: int) -> World:
        try:
            return make_world(spec, seed, self.config.robot.radius)
        except WorldError as exc:
            from toponav.config import ConfigError

            raise ConfigError("world", str(exc)) from None

    def _make_sim(self, world: World, cfg: SimConfig, num_robots: int) -> AgvSim:
        cam = None
        if cfg.camera.enabled:
            cam = CameraParams(width=cfg.camera.width, height=cfg.camera.height, fov_deg=cfg.camera.fov_deg,
                               far=cfg.camera.far)
        try:
            sim = AgvSim(world, cfg.robot, cfg.lidar, physics_rate=cfg.physics_rate, control_dt=cfg.tick,
                         seed=cfg.seed, camera=cam, num_robots=num_robots)
        except ValueError as exc:  # e.g. no room for that many robots at the start
            from toponav.config import ConfigError

            raise ConfigError("robots", str(exc)) from None
        self._odom_offset(sim)
        return sim

    def _odom_offset(self, sim: AgvSim) -> None:
        if not self.config.odom_at_start_pose:
            for i in range(sim.num_robots):
                sim.state(i).odom_pose = np.zeros(3)
                sim.state(i).wheel_odom_pose = np.zeros(3)

    # -------------------------------------------------------------------------------- services
    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        cfg = self.config
        try:
            world = make_world(cfg.world, cfg.seed, cfg.robot.radius)
        except WorldError as exc:
            response.success = False
            response.message = str(exc)
            self.get_logger().error(f"reset refused: {exc}")
            return response
        if world != self.world:
            self.world = world
            try:
                self.sim.load_world(world, seed=cfg.seed)
            except ValueError as exc:
                response.success = False
                response.message = str(exc)
                self.get_logger().error(f"reset refused: {exc}")
                return response
        else:
            self.sim.reset(seed=cfg.seed)
        self._starts = self.sim.start_poses()
        self._odom_offset(self.sim)
        self._sim0 = self.sim.sim_time
        self._wall0 = time.monotonic()
        self._next_scan = self._next_odom = self._next_points = 0.0
        self.rtf_meter.reset()
        for r in self.robots:
            r.cmd[:] = 0.0
            r.cmd_time = -math.inf
            r.in_contact = False
            r.last_contact = -math.inf
            r.odom_travelled, r.odom_last = 0.0, None
        if self.barrier is not None and self.barrier.started:
            self._publish_due(self.sim.sim_time)  # sensors at the new t0, on the step grid again
        self._publish_world()
        self._publish_clock()
        response.success = True
        response.message = f"reset to world '{world.name}' (seed {cfg.seed})"
        self.get_logger().info(response.message)
        return response

    def _on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.paused = bool(request.data)
        if not self.paused:  # resume without a burst of catch-up steps
            self._sim0 = self.sim.sim_time
            self._wall0 = time.monotonic()
            if self.barrier is not None:  # the pause is not the nodes' delay: the step's deadline restarts
                self.barrier.began = self._wall0
        response.success = True
        response.message = "paused" if self.paused else "running"
        return response

    # ------------------------------------------------------------------------------------ loop
    def _on_timer(self) -> None:
        if self.paused:
            self._publish_clock()
            self._publish_status()
            return
        cfg = self.config
        if cfg.real_time_factor != self._rtf:  # changed live (ros2 param set): restart the pacing from now
            self._rtf = cfg.real_time_factor
            self._sim0, self._wall0 = self.sim.sim_time, time.monotonic()
        if cfg.real_time_factor > 0:
            target = self._sim0 + (time.monotonic() - self._wall0) * cfg.real_time_factor
            ticks = min(MAX_TICKS_PER_CALLBACK, max(0, round((target - self.sim.sim_time) / cfg.tick)))
            if ticks == MAX_TICKS_PER_CALLBACK:  # cannot keep up: do not accumulate an ever-growing lag
                self._sim0, self._wall0 = self.sim.sim_time + ticks * cfg.tick, time.monotonic()
        else:
            ticks = 10
        for _ in range(ticks):
            self._tick()
        self.rtf_meter.sample(self.sim.sim_time, time.monotonic())
        self._publish_status()

    def _tick(self, clock: bool = True) -> None:
        """One physics tick; ``clock`` publishes /clock after it (lockstep publishes one per step instead:
        every node with use_sim_time takes a callback per /clock message)."""
        cfg = self.config
        sim = self.sim
        for robot in self.robots:
            if sim.sim_time - robot.cmd_time > cfg.cmd_timeout + 1e-9:
                robot.cmd[:] = 0.0
        sim.step(np.array([r.cmd for r in self.robots]), cfg.tick)
        t = sim.sim_time
        if clock:
            self._publish_clock()
        for i, robot in enumerate(self.robots):
            self._report_collision(i, robot, t)
        self._publish_due(t)

    def _publish_due(self, t: float) -> None:
        cfg = self.config
        due_odom, due_scan = t + 1e-9 >= self._next_odom, t + 1e-9 >= self._next_scan
        due_points = cfg.camera.enabled and t + 1e-9 >= self._next_points
        if due_odom:
            self._next_odom = t + 1.0 / cfg.odom_rate
        if due_scan:
            self._next_scan = t + 1.0 / cfg.scan_rate
        if due_points:
            self._next_points = t + 1.0 / cfg.camera.rate
        for i, robot in enumerate(self.robots):
            if due_odom:
                self._publish_odom(i, robot, t)
            if due_scan:
                self._publish_scan(i, robot, t)
            if due_points:
                self._publish_points(i, robot, t)

    def _report_collision(self, i: int, robot: _RobotIO, t: float) -> None:
        state = self.sim.state(i)
        if state.collided and not robot.in_contact:
            robot.collision_count += 1
            ev = state.collisions[0]
            robot.collision_pub.publish(String(data=json.dumps({
                "stamp": round(t, 6), "robot": robot.ns, "count": robot.collision_count, "obstacle": ev.obstacle,
                "position": [round(v, 4) for v in ev.position], "depth": round(ev.depth, 5),
                "pose": [round(v, 4) for v in ev.robot_pose], "world": self.world.name,
            })))
            self.get_logger().warning(f"'{robot.ns}': collision #{robot.collision_count} with {ev.obstacle} "
                                      f"at t={t:.2f}s")
        if state.collided:
            robot.last_contact = t
        # one event per contact episode: a robot pressed against an obstacle touches and separates every few
        # ticks (distance around 0), which must not count as hundreds of collisions
        robot.in_contact = t - robot.last_contact < CONTACT_RELEASE

    # --------------------------------------------------------------------------------- publish
    def _publish_clock(self) -> None:
        self.clock_pub.publish(ClockMsg(clock=sec_to_stamp(self.sim.sim_time)))

    def _publish_world(self) -> None:
        w = self.world
        data = json.dumps({
            "name": w.name, "family": w.family, "seed": w.seed, "bounds": list(w.bounds), "start": list(w.start),
            "goal": list(w.goal), "frame_id": "map",
            "robots": [{"namespace": r.ns, "start": list(pose)} for r, pose in zip(self.robots, self._starts,
                                                                                   strict=True)],
        })
        self.world_pub.publish(String(data=data))
        # lockstep: the planner takes its boundary from it
        self._keys[stream_name(self.world_pub.topic_name)] = payload_key(data)

    def _publish_scan(self, i: int, robot: _RobotIO, t: float) -> None:
        lid = self.config.lidar
        msg = make_laserscan(self.sim.scan(i), self.sim._angles, lid.range_min, lid.range_max,
                             robot.frame("base_scan"), sec_to_stamp(t), scan_time=1.0 / self.config.scan_rate)
        robot.scan_pub.publish(msg)
        self._keys[robot.keys["scan"]] = stamp_key(msg.header.stamp.sec, msg.header.stamp.nanosec)

    def _publish_odom(self, i: int, robot: _RobotIO, t: float) -> None:
        state = self.sim.state(i)
        stamp = sec_to_stamp(t)
        x, y, yaw = state.odom_pose if self.config.odometry == "wheels" else self.sim.robot_pose(i)
        if robot.odom_last is not None:
            robot.odom_travelled += math.hypot(x - robot.odom_last[0], y - robot.odom_last[1])
        robot.odom_last = (x, y)
        # dead reckoning's uncertainty grows with the distance driven: 3 % in position, 0.02 rad per metre in yaw
        # (the drift docs/simulation.md measures), from a 1 mm / 1 mrad floor; the true pose gets the floor
        d = robot.odom_travelled if self.config.odometry == "wheels" else 0.0
        odom = make_odometry(x, y, yaw, state.odom_twist[0], state.odom_twist[1], robot.frame("odom"),
                             robot.frame("base_link"), stamp, var_xy=(1e-3 + 0.03 * d) ** 2,
                             var_yaw=(1e-3 + 0.02 * d) ** 2)
        robot.odom_pub.publish(odom)
        self._keys[robot.keys["odom"]] = stamp_key(stamp.sec, stamp.nanosec)
        gx, gy, gyaw = self.sim.robot_pose(i)
        robot.gt_pub.publish(make_pose_stamped(gx, gy, gyaw, "map", stamp))
        wx, wy, wyaw = state.wheel_odom_pose
        robot.wheel_odom_pub.publish(make_odometry(wx, wy, wyaw, state.odom_twist[0], state.odom_twist[1],
                                                   robot.frame("odom"), robot.frame("base_link"), stamp))
        if self.tf is not None:  # pragma: no cover - tf2_ros not installed here
            tf = TransformStamped()
            tf.header = odom.header
            tf.child_frame_id = odom.child_frame_id
            tf.transform.translation.x, tf.transform.translation.y = float(x), float(y)
            tf.transform.rotation = odom.pose.pose.orientation
            self.tf.sendTransform(tf)

    def _publish_points(self, i: int, robot: _RobotIO, t: float) -> None:
        msg = xyz_to_pointcloud2(self.sim.points(i), robot.frame("base_link"), sec_to_stamp(t))
        robot.points_pub.publish(msg)
        self._keys[robot.keys["points"]] = stamp_key(msg.header.stamp.sec, msg.header.stamp.nanosec)

    def close(self) -> None:
        self.sim.close()


def main(args=None) -> int:
    return run_node(SimNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

"""``hodat_controller``: the low-level HODAT controller node (safety > sub-goal > goal).

Subscribes /scan (LaserScan), /odom (Odometry), /subgoal (PoseStamped) and, with ``goal_fallback``,
/goal_pose; publishes /cmd_vel (Twist) at ``rate`` Hz on the node clock (use_sim_time honoured) and a
JSON status on ``~/status`` (std_msgs/String: source, planner, safety outcome, distance, ttc, clearance).

Zero velocity whenever /scan or /odom is older than its timeout, the sub-goal is reached or judged
unreachable, or there is no target. ``mode`` picks the local planner: ``learned`` (PPO policy),
``dwa`` or ``safety_only``; a missing or corrupt checkpoint logs the reason and falls back to DWA.
With ``local_plan.enabled`` (default) the local planner steers at a carrot on a path planned to the
sub-goal over a rolling grid of lidar hits, so a sub-goal behind a shelf corner is driven around.
In learned mode DWA also takes over for ``fallback_hold`` s when the robot has made no progress toward
the goal (the sub-goal without one) for ``fallback_after`` s (logged; ``planner`` in the status says who drives).
The controller drives on odometry; sub-goals and goals in ``map`` (the planner's frame) are brought into
``odom`` through ``map <- odom`` from the corrected poses on ``pose`` (PoseWithCovarianceStamped: the mapper's,
or AMCL's remapped onto it), and move with it when it changes; until one arrives map and odom coincide.
``odom`` targets are used as they are; a ``base_link`` target is anchored with the pose at reception.
Topic names are relative, so a namespaced launch (one controller per robot) picks up that robot's topics.
With ``lockstep: true`` (the simulated stack's default) the controller computes one command per sim step
from the scan, odometry and sub-goal the step names (ros_nodes/lockstep.py), judges staleness on the
messages' stamps, and acks the step with the command it published.
"""

from __future__ import annotations

import json
import math

import numpy as np
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String

from toponav import config as cfgmod
from toponav.control.config import HodatConfig
from toponav.control.hodat import HodatController
from toponav.localisation.frames import MapFromOdom
from toponav.lockstep import StepMsg, Ticker
from toponav.ros_nodes import common
from toponav.ros_nodes.convert import (
    ConversionError,
    laserscan_range_limits,
    laserscan_to_arrays,
    make_twist,
    odometry_to_pose,
    odometry_to_twist,
    pose_stamped_to_xy,
    pose_with_covariance_to_pose,
    stamp_to_sec,
)
from toponav.ros_nodes.lockstep import LockstepClient, Stream, lockstep_enabled


class HodatControllerNode(Node):
    def __init__(self) -> None:
        super().__init__("hodat_controller")
        # the controller core is rebuilt from the config on the next tick after a change, so every setting is
        # live except goal_fallback, which decides at start whether /goal_pose is subscribed
        live = [n for n in cfgmod.flatten(HodatConfig()) if n != "goal_fallback"]
        self.config: HodatConfig = common.declare_config(self, HodatConfig, live=live,
                                                   on_change=common.on_rate_change(self, lambda: self._tick()))
        self._applied: HodatConfig | None = None
        self.controller: HodatController | None = None
        self._build_controller()

        self.scan: tuple[np.ndarray, np.ndarray, float, float] | None = None  # ranges, angles, range_min, max
        self.scan_time: Time | None = None
        self.scan_stamp: Time | None = None  # header stamp: when the scan was taken (None: unstamped)
        self._scan_seq = self._scan_used = 0  # new scans go into the controller's obstacle memory once
        self.pose: tuple[float, float, float] | None = None
        self.vel = np.zeros(2)
        self.odom_time: Time | None = None
        self.odom_stamp: Time | None = None
        # targets come in map (the planner's frame); the controller drives on odometry: map <- odom from the
        # localiser's corrected poses (identity until one arrives: map and odom start together)
        self.frames = MapFromOdom()
        self._targets_map: dict[str, np.ndarray] = {}  # "subgoal" / "goal" as received in map
        self._last_tick: Time | None = None
        self._last_status = ""

        self._cmd = (0.0, 0.0)
        self.e_stop = common.EStop(self, lambda: self._publish(np.zeros(2)))  # true holds /cmd_vel at zero
        self.cmd_pub = self.create_publisher(Twist, "cmd_vel", common.COMMAND_QOS)
        self.status_pub = self.create_publisher(String, "~/status", 10)
        streams = [Stream("subgoal", "subgoal", PoseStamped, common.COMMAND_QOS, self._on_subgoal)]
        if self.config.goal_fallback:
            streams.append(Stream("goal_pose", "goal_pose", PoseStamped, common.COMMAND_QOS, self._on_goal,
                                  wait_publisher=False))
        streams += [Stream("odom", "odom", Odometry, common.SENSOR_QOS, self._on_odom),
                    # joined only once the mapper's publisher is matched (it advertises `pose` even with the
                    # correction off): joining earlier lost its first poses and stalled steps 1-2 for 8 s each
                    # (bench stack, map:office)
                    Stream("pose", "pose", PoseWithCovarianceStamped, common.SENSOR_QOS, self._on_pose),
                    Stream("scan", "scan", LaserScan, common.SENSOR_QOS, self._on_scan)]
        on, input_timeout = lockstep_enabled(self)
        self.lockstep: LockstepClient | None = None
        if on:
            self._ticker = Ticker(1.0 / self.config.rate)
            self._last_step_stamp: int | None = None
            self.lockstep = LockstepClient(self, streams, self._lockstep_needs, self._lockstep_step, input_timeout)
        else:
            for st in streams:
                self.create_subscription(st.msg_type, st.topic, st.callback, st.qos)
            # a callback with a parameter is handed a TimerInfo by rclpy's EventsExecutor: _tick's dt must not
            # receive it
            self.timer = common.periodic(self, self.config.rate, lambda: self._tick())
        self.get_logger().info(f"hodat_controller up: planner={self.controller.planner}, rate={self.config.rate} Hz, "
                               f"scan/odom timeout {self.config.scan_timeout}/{self.config.odom_timeout} s")

    # -- setup --------------------------------------------------------------------------------------
    def _build_controller(self) -> None:
        """(Re)build the core from ``self.config``; learned mode loads the policy or falls back to DWA."""
        cfg = self.config
        policy = None
        if cfg.mode == "learned":
            try:
                from toponav.control.learned import LearnedPolicy
                from toponav.models.checkpoint import CheckpointError
            except ImportError as exc:  # torch missing on a deployment machine
                self.get_logger().error(f"learned mode unavailable ({exc}); falling back to DWA")
            else:
                try:
                    policy = LearnedPolicy.load(cfg.checkpoint or None)
                    self.get_logger().info(f"loaded avoidance policy from {cfg.checkpoint or 'the shipped checkpoint'}")
                except CheckpointError as exc:
                    self.get_logger().error(f"cannot use the learned policy: {exc}; falling back to DWA")
        old = self.controller
        self.controller = HodatController(cfg, policy)
        self._last_planner = self.controller.planner  # for logging the learned policy's DWA fallback
        if old is not None:  # keep targets across a live mode switch
            self.controller.set_subgoal(old.subgoal)
            self.controller.set_goal(old.goal)
            self.controller.prev_cmd = old.prev_cmd
        self._applied = cfg

    # -- callbacks ----------------------------------------------------------------------------------
    # warnings are throttled by rclpy (2 s per call site): a bad publisher must not flood the log
    def _on_scan(self, msg: LaserScan) -> None:
        try:
            ranges, angles, _ = laserscan_to_arrays(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring a malformed /scan: {exc}", throttle_duration_sec=2.0)
            return
        rmin, rmax = laserscan_range_limits(msg, self.config.scan.range_max)
        self.scan = (ranges, angles, rmin, rmax)
        self.scan_time = self._received(msg)
        stamp = Time.from_msg(msg.header.stamp, clock_type=self.scan_time.clock_type)
        self.scan_stamp = stamp if stamp.nanoseconds > 0 else None
        self._scan_seq += 1

    def _on_odom(self, msg: Odometry) -> None:
        try:
            x, y, yaw, _ = odometry_to_pose(msg)
            vel = odometry_to_twist(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /odom: {exc}", throttle_duration_sec=2.0)
            return
        self.pose = (x, y, yaw)
        self.vel = np.array(vel)
        self.frames.add_odom(stamp_to_sec(msg.header.stamp), np.array(self.pose))
        self.odom_time = self._received(msg)
        stamp = Time.from_msg(msg.header.stamp, clock_type=self.odom_time.clock_type)
        self.odom_stamp = stamp if stamp.nanoseconds > 0 else None

    def _on_pose(self, msg: PoseWithCovarianceStamped) -> None:
        """A corrected pose: refresh map <- odom and move the targets held in odom with it."""
        try:
            x, y, yaw, t = pose_with_covariance_to_pose(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /pose: {exc}", throttle_duration_sec=2.0)
            return
        old = self.frames.transform.copy()
        if not self.frames.add_map_pose(t, np.array([x, y, yaw])):
            return
        if self.frames.moved_from(old):
            for what, xy in self._targets_map.items():
                self._set_target(what, xy)

    def _set_target(self, what: str, xy_map: np.ndarray) -> np.ndarray:
        xy = self.frames.to_odom(np.array([xy_map[0], xy_map[1], 0.0]))[:2]
        (self.controller.set_subgoal if what == "subgoal" else self.controller.set_goal)(xy)
        return xy

    def _received(self, msg) -> Time:
        """When a message counts as received: its stamp in lockstep (the same in every run), else now."""
        if self.lockstep is not None:
            return Time.from_msg(msg.header.stamp)
        return self.get_clock().now()

    def _now(self) -> Time:
        return self.lockstep.now if self.lockstep is not None else self.get_clock().now()

    # -- lockstep -----------------------------------------------------------------------------------
    def _lockstep_needs(self, step: StepMsg) -> tuple[str, ...]:
        self._ticking = self._ticker.due(step.stamp)
        return ("subgoal", "goal_pose", "odom", "pose", "scan") if self._ticking else ()

    def _lockstep_step(self, step: StepMsg) -> tuple[dict[str, int], tuple[float, float] | None]:
        if not self._ticking:
            return {}, None
        # a step longer than the controller period (step_period 0.1 s, rate 20 Hz) holds the command longer
        dt = 1.0 / self.config.rate
        if self._last_step_stamp is not None and step.stamp - self._last_step_stamp > 0:
            dt = min(max(dt, (step.stamp - self._last_step_stamp) * 1e-9), 0.5)
        self._last_step_stamp = step.stamp
        self._tick(dt)
        return {"cmd_vel": step.stamp}, self._cmd

    def _target_xy(self, msg: PoseStamped, what: str) -> np.ndarray | None:
        try:
            x, y = pose_stamped_to_xy(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring a {what}: {exc}", throttle_duration_sec=2.0)
            return None
        frame = msg.header.frame_id.lstrip("/")
        if frame in ("base_link", "base_footprint"):
            if self.pose is None:
                self.get_logger().warning(f"{what} in {frame} before any /odom: ignored", throttle_duration_sec=2.0)
                return None
            px, py, yaw = self.pose
            xy = np.array([px + x * math.cos(yaw) - y * math.sin(yaw), py + x * math.sin(yaw) + y * math.cos(yaw)])
            return self.frames.to_map(np.array([xy[0], xy[1], 0.0]))[:2]
        if frame == "odom":
            return self.frames.to_map(np.array([x, y, 0.0]))[:2]
        return np.array([x, y])  # map (or unnamed: the planner's frame)

    def _on_subgoal(self, msg: PoseStamped) -> None:
        xy = self._target_xy(msg, "sub-goal")
        if xy is not None:
            old = self.controller.subgoal
            self._targets_map["subgoal"] = xy
            new = self._set_target("subgoal", xy)
            if old is None or np.hypot(*(new - old)) > 1e-3:
                self.get_logger().info(f"new sub-goal ({xy[0]:.2f}, {xy[1]:.2f})")

    def _on_goal(self, msg: PoseStamped) -> None:
        xy = self._target_xy(msg, "goal")
        if xy is not None:
            self._targets_map["goal"] = xy
            self._set_target("goal", xy)

    # -- control loop -------------------------------------------------------------------------------
    def _tick(self, dt: float | None = None) -> None:
        """One control cycle; ``dt`` is the time the command will hold (default the configured period)."""
        if self.config is not self._applied:
            self.get_logger().info(f"parameters changed: rebuilding the controller (mode={self.config.mode})")
            self._build_controller()
        now = self._now()
        if self._last_tick is not None and now < self._last_tick:
            self.get_logger().warning("clock jumped backwards: dropping sensor data until new messages arrive")
            self.scan_time = self.odom_time = None
            self.scan = self.pose = None
            if self.controller.local is not None:
                self.controller.local.reset()  # the hits were seen on the old timeline (sim reset, bag loop)
            if self.controller.memory is not None:
                self.controller.memory.reset()
        self._last_tick = now
        if self.e_stop.engaged:
            self.controller.prev_cmd = np.zeros(2)  # the robot is stopped: accelerate from rest when released
            self._publish(np.zeros(2))
            self._status({"source": "e_stop", "planner": self.controller.planner})
            return
        stale = self._stale(now)
        if stale:
            self._publish(np.zeros(2))
            self._status({"source": "stale", "reason": stale, "planner": self.controller.planner})
            self.get_logger().warning(f"stopping: {stale}", throttle_duration_sec=2.0)
            return
        ranges, angles, rmin, rmax = self.scan
        was_reached, was_unreachable = self.controller.reached, self.controller.unreachable
        decision = self.controller.step(self.pose, self.vel, ranges, angles, now.nanoseconds * 1e-9,
                                        dt or 1.0 / self.config.rate, rmin, rmax,
                                        scan_age=self._age(now, self.scan_stamp, self.scan_time, "/scan"),
                                        scan_new=self._scan_seq != self._scan_used,
                                        odom_age=self._age(now, self.odom_stamp, self.odom_time, "/odom"))
        self._scan_used = self._scan_seq
        self._publish(decision.cmd)
        if self.controller.reached and not was_reached:
            self.get_logger().info("sub-goal reached: holding zero velocity")
        if self.controller.unreachable and not was_unreachable:
            self.get_logger().warning(
                f"sub-goal unreachable: no {self.config.progress_min} m progress for {self.config.progress_timeout} s;"
                + (f" stopping, trying it again in {self.config.retry_after} s unless a new sub-goal arrives"
                   if self.config.retry_after > 0 else " stopping until a new sub-goal arrives"))
        if decision.planner != self._last_planner and self.controller.planner == "learned" and decision.source in (
                "subgoal", "goal", "safety"):
            if decision.planner == "dwa":
                self.get_logger().info(
                    f"learned policy: no {self.config.progress_min} m progress for {self.config.fallback_after} s;"
                    f" DWA drives for {self.config.fallback_hold} s")
            elif self._last_planner == "dwa":
                self.get_logger().info("learned policy drives again")
            self._last_planner = decision.planner
        if decision.safety == "blind":
            self.get_logger().warning("scan too invalid (NaN) or too sparse to see the path: stopping",
                                      throttle_duration_sec=2.0)
        elif decision.safety == "stale":
            self.get_logger().warning(f"/scan taken more than {self.config.scan_timeout} s ago: stopping",
                                      throttle_duration_sec=2.0)
        self._status({"source": decision.source, "planner": decision.planner, "safety": decision.safety,
                      "distance": _num(decision.distance), "ttc": _num(decision.ttc),
                      "clearance": _num(decision.clearance)})

    def _stale(self, now: Time) -> str:
        if self.scan is None or self.scan_time is None:
            return "no /scan received"
        if self.pose is None or self.odom_time is None:
            return "no /odom received"
        scan_age = (now - self.scan_time).nanoseconds * 1e-9
        odom_age = (now - self.odom_time).nanoseconds * 1e-9
        if scan_age > self.config.scan_timeout:
            return f"/scan is {scan_age:.2f} s old (timeout {self.config.scan_timeout} s)"
        if odom_age > self.config.odom_timeout:
            return f"/odom is {odom_age:.2f} s old (timeout {self.config.odom_timeout} s)"
        return ""

    def _age(self, now: Time, stamp: Time | None, received: Time, topic: str) -> float:
        """Seconds since a message's data was taken: from its header stamp, else from its arrival. A stamp from
        the future (another clock) falls back to the arrival time, logged."""
        arrival = (now - received).nanoseconds * 1e-9
        if stamp is None:
            return arrival
        age = (now - stamp).nanoseconds * 1e-9
        if age < -0.1:
            self.get_logger().warning(f"{topic} stamped {-age:.2f} s in the future: using its arrival time",
                                      throttle_duration_sec=2.0)
            return arrival
        return max(age, arrival)

    def _publish(self, cmd: np.ndarray) -> None:
        if self.e_stop.engaged:
            cmd = np.zeros(2)
        msg = make_twist(cmd[0], cmd[1])
        self.cmd_pub.publish(msg)
        self._cmd = (msg.linear.x, msg.angular.z)

    def _status(self, data: dict) -> None:
        text = json.dumps(data)
        self.status_pub.publish(String(data=text))
        key = (data.get("source"), data.get("safety"))
        if key != self._last_status:
            self._last_status = key
            self.get_logger().debug(f"status: {text}")


def _num(x: float) -> float | None:
    return round(float(x), 3) if math.isfinite(x) else None


def main(args=None) -> int:
    return common.run_node(lambda: HodatControllerNode(), args)


if __name__ == "__main__":
    raise SystemExit(main())

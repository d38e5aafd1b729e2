"""goal_controller: /goal_pose -> /cmd_vel with a proportional heading law and a scan-based stop.

The temporary / fallback controller of the stack (toponav.goal_seeking holds the law). Subscribes
/odom (pose; the odom frame is taken as the map frame, true for the sim without drift), /scan and
/goal_pose (PoseStamped); publishes /cmd_vel (Twist) at ``rate`` Hz on the node clock, zero when
there is no goal, the goal is reached, or odometry/scan is stale.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import LaserScan

from toponav.goal_seeking import GoalSeekConfig, goal_seek
from toponav.ros_nodes import common
from toponav.ros_nodes.convert import (
    ConversionError,
    laserscan_to_arrays,
    make_twist,
    odometry_to_pose,
    pose_stamped_to_xy,
)


class GoalController(Node):
    def __init__(self) -> None:
        super().__init__("goal_controller")
        # every setting is read on each tick, so all are live; a rate change re-creates the timer
        self.config: GoalSeekConfig = common.declare_config(self, GoalSeekConfig,
                                                     on_change=common.on_rate_change(self, self.on_timer))
        self.pose: tuple[float, float, float] | None = None
        self.pose_time = None
        self.goal: tuple[float, float] | None = None
        self.ranges: np.ndarray | None = None
        self.angles: np.ndarray | None = None
        self.scan_time = None
        self.last_status = ""
        self.blocked_sign = 0.0
        self.pub = self.create_publisher(Twist, "cmd_vel", common.COMMAND_QOS)
        self.e_stop = common.EStop(self, lambda: self.pub.publish(Twist()))  # true holds /cmd_vel at zero
        self.create_subscription(Odometry, "odom", self.on_odom, common.SENSOR_QOS)
        self.create_subscription(LaserScan, "scan", self.on_scan, common.SENSOR_QOS)
        self.create_subscription(PoseStamped, "goal_pose", self.on_goal, common.COMMAND_QOS)
        self.timer = common.periodic(self, self.config.rate, self.on_timer)

    def on_odom(self, msg: Odometry) -> None:
        try:
            x, y, yaw, _ = odometry_to_pose(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /odom: {exc}", throttle_duration_sec=5.0)
            return
        self.pose = (x, y, yaw)
        self.pose_time = self.get_clock().now()

    def on_scan(self, msg: LaserScan) -> None:
        try:
            self.ranges, self.angles, _ = laserscan_to_arrays(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /scan: {exc}", throttle_duration_sec=5.0)
            return
        self.scan_time = self.get_clock().now()

    def on_goal(self, msg: PoseStamped) -> None:
        try:
            goal = pose_stamped_to_xy(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"ignoring /goal_pose: {exc}", throttle_duration_sec=5.0)
            return
        self.goal = goal
        self.get_logger().info(f"new goal ({goal[0]:.2f}, {goal[1]:.2f}) in frame '{msg.header.frame_id}'")

    def _fresh(self, stamp) -> bool:
        if stamp is None:
            return False
        age = (self.get_clock().now() - stamp).nanoseconds * 1e-9
        return -0.5 < age <= self.config.stale_timeout  # a backwards time jump resets freshness

    def on_timer(self) -> None:
        if self.e_stop.engaged:
            self.pub.publish(make_twist(0.0, 0.0))
            return
        v = w = 0.0
        if self.goal is not None and self.pose is not None and self._fresh(self.pose_time):
            scan_ok = self._fresh(self.scan_time)
            out = goal_seek(self.pose, self.goal, self.ranges if scan_ok else None,
                            self.angles if scan_ok else None, self.config)
            if not scan_ok and out.v > 0.0:
                out = type(out)(0.0, out.w, "blocked")  # never drive blind
            if out.status == "blocked":
                # keep turning the way we started while blocked, instead of dithering left/right
                if self.blocked_sign == 0.0:
                    self.blocked_sign = 1.0 if out.w >= 0 else -1.0
                out = type(out)(0.0, self.blocked_sign * abs(out.w), out.status)
            else:
                self.blocked_sign = 0.0
            v, w = out.v, out.w
            if out.status != self.last_status:
                self.get_logger().info(f"status: {out.status}")
                self.last_status = out.status
        self.pub.publish(make_twist(v, w))


def main() -> None:
    raise SystemExit(common.run_node(GoalController))


if __name__ == "__main__":
    main()

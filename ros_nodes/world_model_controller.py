"""``world_model_controller``: drives the arm with the learned world model (MPPI in latent space).

Subscribes /joint_states (JointState), /object_pose and /target_pose (PoseStamped, table frame);
publishes trajectory_msgs/JointTrajectory on ``command_topic`` at ``rate_hz`` (node clock, so
use_sim_time follows the simulator) and diagnostic_msgs/DiagnosticArray on /world_model/status
with the planning time of every step, the cube-target distance and the reason for any hold.

Bad input never moves the arm: wrong joint names or lengths, NaN, a target outside the workspace,
stale data or an unreadable checkpoint give one clear log line and an ERROR/WARN status, and the
arm is held at the last good joint positions (a one-point trajectory to where it is).
"""

from __future__ import annotations

import contextlib

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from toponav.manipulation import kinematics as kin
from toponav.manipulation.controller import ControllerConfig, InputError, WorldModelController, parse_joint_state
from toponav.models.checkpoint import CheckpointError
from toponav.ros_nodes.common import COMMAND_QOS, EVENT_QOS, LATCHED_QOS, SENSOR_QOS, declare_config, run_node
from toponav.ros_nodes.convert import make_joint_trajectory, position_to_array

STATUS_NAME = "world_model_controller"


class WorldModelControllerNode(Node):
    def __init__(self) -> None:
        super().__init__("world_model_controller")
        self.declare_parameter("command_topic", "arm_controller/joint_trajectory")
        # the controller (model, planner, mode) is built once: only the staleness limit is read live
        self.config: ControllerConfig = declare_config(self, ControllerConfig, live=("stale_timeout",))
        topic = str(self.get_parameter("command_topic").value)
        self.cmd_pub = self.create_publisher(JointTrajectory, topic, COMMAND_QOS)
        self.status_pub = self.create_publisher(DiagnosticArray, "world_model/status", EVENT_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_subscription(PoseStamped, "object_pose", self._on_object, SENSOR_QOS)
        self.create_subscription(PoseStamped, "target_pose", self._on_target, LATCHED_QOS)
        self.joints: tuple[list[str], list[float], Time] | None = None
        self.object: tuple[np.ndarray, Time] | None = None
        self.target: np.ndarray | None = None
        self.hold_q: np.ndarray | None = None
        self.steps = 0
        self.controller: WorldModelController | None = None
        self.load_error = ""
        try:
            self.controller = WorldModelController(self.config)
            self.get_logger().info(f"world model from {self.controller.path} "
                                   f"(action dim {self.controller.action_dim}, mode {self.config.mode}); "
                                   f"commands on {topic}")
        except CheckpointError as exc:
            self.load_error = str(exc)
            self.get_logger().error(f"{exc}; the arm will be held still")
        self.timer = self.create_timer(1.0 / self.config.rate_hz, self._tick)

    # ----- inputs -------------------------------------------------------------------------
    def _on_joints(self, msg: JointState) -> None:
        self.joints = (list(msg.name), list(msg.position), self.get_clock().now())
        with contextlib.suppress(InputError):  # the last good arm posture is where a hold keeps the arm
            self.hold_q, _ = parse_joint_state(list(msg.name), list(msg.position))

    # poses are not checked here: the controller core refuses a non-finite one with an InputError that names it
    def _on_object(self, msg: PoseStamped) -> None:
        self.object = (position_to_array(msg.pose), self.get_clock().now())

    def _on_target(self, msg: PoseStamped) -> None:
        self.target = position_to_array(msg.pose)

    # ----- loop ---------------------------------------------------------------------------
    def _tick(self) -> None:
        now = self.get_clock().now()
        if self.controller is None:
            self._hold(DiagnosticStatus.ERROR, self.load_error)
            return
        reason = self._missing(now)
        if reason:
            self._hold(DiagnosticStatus.WARN, reason)
            return
        names, positions, _ = self.joints
        try:
            cmd = self.controller.step(names, positions, self.object[0], self.target)
        except InputError as exc:
            self.get_logger().error(f"bad input: {exc}; holding the arm", throttle_duration_sec=2.0)
            self._hold(DiagnosticStatus.ERROR, str(exc))
            return
        self._publish(cmd.joint_names, cmd.positions)
        self.steps += 1
        level = DiagnosticStatus.OK
        self._status(level, "target reached" if cmd.success else "pushing toward the target",
                     plan_ms=f"{cmd.plan_ms:.2f}", distance=f"{cmd.distance:.4f}", success=str(cmd.success),
                     steps=str(self.steps), mode=self.config.mode)

    def _missing(self, now: Time) -> str:
        stale = self.config.stale_timeout
        if self.joints is None:
            return "waiting for /joint_states"
        if self.object is None:
            return "waiting for /object_pose"
        if self.target is None:
            return "waiting for /target_pose"
        if (now - self.joints[2]).nanoseconds * 1e-9 > stale:
            return f"/joint_states older than {stale} s"
        if (now - self.object[1]).nanoseconds * 1e-9 > stale:
            return f"/object_pose older than {stale} s"
        return ""

    def _hold(self, level: int, message: str) -> None:
        if self.hold_q is not None:
            self._publish(kin.ARM_JOINTS, self.hold_q)
        self._status(level, message + ("; holding the arm" if self.hold_q is not None else ""),
                     steps=str(self.steps))

    def _publish(self, names, positions) -> None:
        self.cmd_pub.publish(make_joint_trajectory(names, positions, 1.0 / self.config.rate_hz,
                                                   self.get_clock().now().to_msg()))

    def _status(self, level: int, message: str, **values: str) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        st = DiagnosticStatus(level=level, name=STATUS_NAME, message=message, hardware_id="panda")
        st.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        arr.status = [st]
        self.status_pub.publish(arr)


def main(args=None) -> int:
    return run_node(WorldModelControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

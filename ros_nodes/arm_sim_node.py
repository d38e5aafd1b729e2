"""``arm_sim_node``: the PyBullet Panda arm on ROS 2, publishing what a real arm driver would.

Publishes /clock (the node is the time source), /joint_states (sensor_msgs/JointState),
/object_pose (PoseStamped, frame ``world`` = table frame) and latches the task's goal on
/target_pose (so a controller has a target without anything else running). Subscribes
``command_topic`` (trajectory_msgs/JointTrajectory) and follows it by linear interpolation of
its points over their time_from_start, on sim time. Services: ~/reset (std_srvs/Trigger: next
episode of the task, new cube and goal), ~/pause (std_srvs/SetBool).
A trajectory with unknown joint names, wrong lengths, NaN/inf or positions outside the joint
limits is refused with one log line and the arm holds its last command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from toponav.config import param
from toponav.manipulation import kinematics as kin
from toponav.manipulation.obs import BASE_POSITION
from toponav.ros_nodes.common import CLOCK_PUB_QOS, COMMAND_QOS, LATCHED_QOS, STATE_QOS, declare_config, run_node
from toponav.ros_nodes.convert import (
    duration_to_sec,
    make_joint_state,
    make_pose_3d,
    position_to_array,
    sec_to_stamp,
)
from toponav.sim.arm.scene import ArmScene, SceneConfig
from toponav.sim.arm.tasks import make_sampler

ALL_JOINTS = kin.ARM_JOINTS + kin.FINGER_JOINTS
LIMITS_LOW = np.concatenate([kin.LOWER, [0.0, 0.0]])
LIMITS_HIGH = np.concatenate([kin.UPPER, [0.04, 0.04]])


@dataclass
class ArmSimConfig:
    """Parameters of the arm simulator node."""

    task: str = param("push", "task whose cube/goal layout is sampled", choices=("push", "pickplace"))
    seed: int = param(0, "episode seed (each ~/reset uses the next one)")
    real_time_factor: float = param(1.0, "sim seconds per wall second", min=0.05, max=50.0)
    command_topic: str = param("arm_controller/joint_trajectory", "JointTrajectory command topic")
    publish_goal: bool = param(True, "latch the sampled goal on /target_pose")
    frame_id: str = param("world", "frame of /object_pose and /target_pose (the table frame)")
    headless: bool = param(True, "PyBullet DIRECT mode; false opens the PyBullet GUI window (needs a display)")
    scene: SceneConfig = field(default_factory=SceneConfig)


class ArmSimNode(Node):
    def __init__(self) -> None:
        super().__init__("arm_sim_node")
        if self.has_parameter("use_sim_time") and self.get_parameter("use_sim_time").value:
            self.get_logger().warn("use_sim_time is ignored: this node is the clock source")
            self.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, False)])
        self.config: ArmSimConfig = declare_config(self, ArmSimConfig, live=("frame_id",))  # the rest: at start
        cfg = self.config
        self.scene = ArmScene(cfg.scene, gui=not cfg.headless)
        self.sampler = make_sampler(cfg.task)
        self.episode = 0
        self.paused = False
        self.sim_time = 0.0
        self.trajectory: list[tuple[float, np.ndarray]] = []  # (sim time, 9 joint targets)
        self.clock_pub = self.create_publisher(Clock, "/clock", CLOCK_PUB_QOS)
        self.joint_pub = self.create_publisher(JointState, "joint_states", STATE_QOS)
        self.object_pub = self.create_publisher(PoseStamped, "object_pose", STATE_QOS)
        self.goal_pub = self.create_publisher(PoseStamped, "target_pose", LATCHED_QOS)
        self.create_subscription(JointTrajectory, cfg.command_topic, self._on_trajectory, COMMAND_QOS)
        self.create_subscription(PoseStamped, "target_pose", self._on_target, LATCHED_QOS)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self._reset_episode()
        period = cfg.scene.control_dt / cfg.real_time_factor
        self.timer = self.create_timer(period, self._tick)
        self.get_logger().info(f"arm sim: task {cfg.task}, seed {cfg.seed}, control dt {cfg.scene.control_dt:.3f} s, "
                               f"commands on {cfg.command_topic}")

    # ----- episode ------------------------------------------------------------------------
    def _reset_episode(self) -> None:
        rng = np.random.default_rng(self.config.seed + self.episode)
        obj, yaw, goal = self.sampler.sample(rng)
        width = 0.0 if self.config.task == "push" else 0.08
        q = kin.solve_ik(np.array([0.0, 0.0, 0.12]) - BASE_POSITION)
        self.scene.reset(q, width, obj, yaw, goal)
        self.goal = goal
        self.trajectory = []
        if self.config.publish_goal:
            self.goal_pub.publish(self._pose(goal, np.array([0.0, 0.0, 0.0, 1.0])))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.episode += 1
        self._reset_episode()
        response.success = True
        response.message = f"episode {self.episode}: goal {np.round(self.goal, 3).tolist()}"
        return response

    def _on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.paused = bool(request.data)
        response.success = True
        response.message = "paused" if self.paused else "running"
        return response

    # ----- commands -----------------------------------------------------------------------
    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            self.trajectory = self._parse(msg)
        except ValueError as exc:
            self.get_logger().error(f"refused arm command: {exc}; holding the last command",
                                    throttle_duration_sec=1.0)

    def _parse(self, msg: JointTrajectory) -> list[tuple[float, np.ndarray]]:
        names = list(msg.joint_names)
        unknown = [n for n in names if n not in ALL_JOINTS]
        if unknown or not names:
            raise ValueError(f"unknown joint names {unknown or names}; valid: {list(ALL_JOINTS)}")
        if len(set(names)) != len(names):
            raise ValueError("repeated joint names")
        if not msg.points:
            raise ValueError("trajectory has no points")
        idx = [ALL_JOINTS.index(n) for n in names]
        current = np.concatenate([self.scene.q_target, [self.scene.width_target / 2.0] * 2])
        out: list[tuple[float, np.ndarray]] = []
        last_t = -1.0
        for k, pt in enumerate(msg.points):
            pos = np.asarray(pt.positions, dtype=float)
            if pos.shape != (len(names),):
                raise ValueError(f"point {k} has {pos.shape[0]} positions for {len(names)} joints")
            if not np.all(np.isfinite(pos)):
                raise ValueError(f"point {k} holds NaN/inf")
            full = current.copy()
            full[idx] = pos
            if np.any(full < LIMITS_LOW - 1e-3) or np.any(full > LIMITS_HIGH + 1e-3):
                raise ValueError(f"point {k} is outside the joint limits")
            t = duration_to_sec(pt.time_from_start)
            if t < last_t:
                raise ValueError("time_from_start must not decrease")
            last_t = t
            out.append((self.sim_time + t, np.clip(full, LIMITS_LOW, LIMITS_HIGH)))
        return [(self.sim_time, current), *out]

    def _on_target(self, msg: PoseStamped) -> None:
        goal = position_to_array(msg.pose)
        if np.all(np.isfinite(goal)):
            self.scene.set_goal(goal)

    def _desired(self, t: float) -> np.ndarray | None:
        """Joint targets of the current trajectory at sim time ``t`` (linear between points)."""
        if not self.trajectory:
            return None
        times = [tp for tp, _ in self.trajectory]
        if t >= times[-1]:
            return self.trajectory[-1][1]
        k = int(np.searchsorted(times, t, side="right"))
        (t0, p0), (t1, p1) = self.trajectory[k - 1], self.trajectory[k]
        w = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        return p0 + w * (p1 - p0)

    # ----- loop ---------------------------------------------------------------------------
    def _tick(self) -> None:
        if not self.paused:
            # The motors get the setpoint the trajectory reaches at the end of this control step.
            target = self._desired(self.sim_time + self.config.scene.control_dt)
            if target is not None:
                self.scene.command(target[:7], float(target[7] + target[8]))
            self.scene.step()
            self.sim_time += self.config.scene.control_dt
        stamp = sec_to_stamp(self.sim_time)
        self.clock_pub.publish(Clock(clock=stamp))
        q, qd, fingers = self.scene.joint_state()
        self.joint_pub.publish(make_joint_state(ALL_JOINTS, [*q, *fingers], [*qd, 0.0, 0.0], stamp))
        pos, quat = self.scene.object_pose()
        self.object_pub.publish(self._pose(pos, quat))

    def _pose(self, pos: np.ndarray, quat: np.ndarray) -> PoseStamped:
        msg = PoseStamped(pose=make_pose_3d(pos, quat))
        msg.header.stamp = sec_to_stamp(self.sim_time)
        msg.header.frame_id = self.config.frame_id
        return msg

    def close(self) -> None:
        self.scene.close()


def main(args=None) -> int:
    return run_node(ArmSimNode, args)


if __name__ == "__main__":
    raise SystemExit(main())

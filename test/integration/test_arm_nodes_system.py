"""arm_sim_node + world_model_controller as real processes on a private, loopback-only domain."""

from __future__ import annotations

import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from toponav.manipulation import kinematics as kin
from toponav.models.checkpoint import default_checkpoint
from toponav.ros_nodes.common import EVENT_QOS, LATCHED_QOS, SENSOR_QOS
from toponav.ros_nodes.probe import Probe
from toponav.testing import NodeProcess, wait_for

pytestmark = pytest.mark.system

SIM = "toponav.ros_nodes.arm_sim_node"
CTRL = "toponav.ros_nodes.world_model_controller"


def _xyz(msg: PoseStamped) -> np.ndarray:
    p = msg.pose.position
    return np.array([p.x, p.y, p.z])


def _statuses(probe: Probe) -> list:
    return [m.status[0] for m in probe.all("/world_model/status")]


@pytest.mark.skipif(not default_checkpoint("world_model_push").is_file(), reason="shipped checkpoint missing")
def test_controller_pushes_cube_toward_target(domain_id: int) -> None:
    with Probe(domain_id) as probe:
        probe.subscribe("/object_pose", PoseStamped, SENSOR_QOS)
        probe.subscribe("/target_pose", PoseStamped, LATCHED_QOS)
        probe.subscribe("/world_model/status", DiagnosticArray, EVENT_QOS)
        # Seed 1: a layout the shipped model solves in the gym env too (it solves ~65% of layouts;
        # e.g. seeds 3, 5, 7 and 10 it does not), so this checks the ROS path, not the model's luck.
        sim = NodeProcess(SIM, domain_id, params={"task": "push", "seed": 1})
        ctrl = NodeProcess(CTRL, domain_id, params={"use_sim_time": True})
        try:
            assert probe.wait("/target_pose", 1, timeout=30.0), sim.output()
            assert probe.wait("/object_pose", 5, timeout=30.0), sim.output()
            target = _xyz(probe.last("/target_pose"))
            start = _xyz(probe.all("/object_pose")[0])
            d0 = float(np.linalg.norm(start - target))

            def closer() -> bool:
                d = np.linalg.norm(_xyz(probe.last("/object_pose")) - target)
                return d < max(0.05, d0 - 0.03)  # reached, or at least 3 cm closer

            moved = wait_for(closer, timeout=60.0, interval=0.2)
            d1 = float(np.linalg.norm(_xyz(probe.last("/object_pose")) - target))
            last = [(s.level, s.message, [(kv.key, kv.value) for kv in s.values]) for s in _statuses(probe)[-3:]]
            assert moved, f"cube {d0:.3f} -> {d1:.3f} m from target; last status {last}\n{ctrl.output()[-2000:]}"
            assert wait_for(lambda: any(s.level == DiagnosticStatus.OK for s in _statuses(probe)), 10.0), ctrl.output()
            ok = [s for s in _statuses(probe) if s.level == DiagnosticStatus.OK]
            plan_ms = [float(dict((kv.key, kv.value) for kv in s.values)["plan_ms"]) for s in ok]
            assert 0.0 < np.median(plan_ms) < 1000.0
            assert sim.alive() and ctrl.alive()
        finally:
            assert ctrl.stop() == 0, ctrl.log_path.read_text()[-3000:]
            assert sim.stop() == 0, sim.log_path.read_text()[-3000:]


def _joint_state(names, positions) -> JointState:
    msg = JointState()
    msg.name = list(names)
    msg.position = [float(p) for p in positions]
    return msg


def _pose(xyz) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = "world"
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, xyz)
    msg.pose.orientation.w = 1.0
    return msg


def test_bad_inputs_hold_the_arm_with_clear_status(domain_id: int, tmp_path) -> None:
    """No sim: the probe plays the arm, sends bad joint states / targets; a corrupt checkpoint is refused."""
    from toponav.models.world_model import WorldModel, WorldModelConfig, save_world_model

    good = save_world_model(tmp_path / "wm.pt", WorldModel(WorldModelConfig()))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[:300])
    names = kin.ARM_JOINTS + kin.FINGER_JOINTS
    home = [*kin.HOME.tolist(), 0.0, 0.0]
    with Probe(domain_id) as probe:
        probe.subscribe("/world_model/status", DiagnosticArray, EVENT_QOS)
        probe.subscribe("/arm_controller/joint_trajectory", JointTrajectory, 10)
        ctrl = NodeProcess(CTRL, domain_id, params={"checkpoint": str(good), "rate_hz": 10.0,
                                                     "stale_timeout": 5.0})
        try:
            def send(joint_names, positions, target):
                probe.publish("/joint_states", _joint_state(joint_names, positions), SENSOR_QOS)
                probe.publish("/object_pose", _pose([0.0, 0.0, 0.02]), SENSOR_QOS)
                probe.publish("/target_pose", _pose(target), LATCHED_QOS)

            def status_says(text: str) -> bool:
                return any(text in s.message for s in _statuses(probe))

            # Wrong joint names (and lengths): ERROR status naming the problem, no motion commanded.
            assert wait_for(lambda: (send(["a", "b"], [0.0], [0.1, 0.0, 0.02]) or status_says("2 names but 1")),
                            timeout=30.0), ctrl.output()
            assert probe.count("/arm_controller/joint_trajectory") == 0
            # A valid posture first (remembered), then a target outside the workspace: held at that posture.
            assert wait_for(lambda: (send(names, home, [0.1, 0.0, 0.02]) or probe.count(
                "/arm_controller/joint_trajectory") > 0), timeout=30.0), ctrl.output()
            assert wait_for(lambda: (send(names, home, [3.0, 0.0, 0.02]) or status_says("outside the arm workspace")),
                            timeout=30.0), ctrl.output()
            n = probe.count("/arm_controller/joint_trajectory")
            assert wait_for(lambda: probe.count("/arm_controller/joint_trajectory") > n + 1, timeout=10.0)
            hold = probe.last("/arm_controller/joint_trajectory")
            assert list(hold.joint_names) == list(kin.ARM_JOINTS)
            assert np.allclose(hold.points[0].positions, kin.HOME, atol=1e-6)
            errors = [s for s in _statuses(probe) if "outside" in s.message]
            assert errors and all(s.level == DiagnosticStatus.ERROR for s in errors)
            assert ctrl.alive()
            time.sleep(0.5)  # see below
        finally:
            assert ctrl.stop() == 0, ctrl.log_path.read_text()[-3000:]

        # Corrupt checkpoint: the node starts, says why, and only ever holds the arm.
        probe.messages.clear()
        ctrl = NodeProcess(CTRL, domain_id, params={"checkpoint": str(corrupt), "rate_hz": 10.0})
        try:
            assert wait_for(lambda: (send(names, home, [0.1, 0.0, 0.02]) or status_says("cannot be read")),
                            timeout=30.0), ctrl.output()
            assert "corrupt.pt" in ctrl.output()
            for msg in probe.all("/arm_controller/joint_trajectory"):
                assert np.allclose(msg.points[0].positions, kin.HOME, atol=1e-6)
            assert ctrl.alive()
            # Let in-flight messages land before SIGINT: rclpy can raise from take_message when one
            # arrives during shutdown (seen once in six runs; a runner issue, reported to the lead).
            time.sleep(0.5)
        finally:
            assert ctrl.stop() == 0, ctrl.log_path.read_text()[-3000:]


def test_arm_sim_executes_trajectories_and_refuses_bad_ones(domain_id: int) -> None:
    from builtin_interfaces.msg import Duration
    from rosgraph_msgs.msg import Clock
    from trajectory_msgs.msg import JointTrajectoryPoint

    from toponav.ros_nodes.common import CLOCK_QOS

    with Probe(domain_id) as probe:
        probe.subscribe("/joint_states", JointState, SENSOR_QOS)
        probe.subscribe("/clock", Clock, CLOCK_QOS)
        sim = NodeProcess(SIM, domain_id, params={"seed": 1})
        try:
            assert probe.wait("/joint_states", 3, timeout=30.0), sim.output()
            q0 = np.array(probe.last("/joint_states").position)
            assert list(probe.last("/joint_states").name) == list(kin.ARM_JOINTS + kin.FINGER_JOINTS)

            def traj(names, positions) -> JointTrajectory:
                msg = JointTrajectory()
                msg.joint_names = list(names)
                pt = JointTrajectoryPoint()
                pt.positions = [float(p) for p in positions]
                pt.time_from_start = Duration(sec=0, nanosec=500_000_000)
                msg.points = [pt]
                return msg

            probe.publish("/arm_controller/joint_trajectory", traj(["panda_joint1"], [q0[0] + 0.3]))
            assert wait_for(lambda: abs(probe.last("/joint_states").position[0] - (q0[0] + 0.3)) < 0.01, 20.0)
            q1 = np.array(probe.last("/joint_states").position)
            assert np.allclose(q1[1:7], q0[1:7], atol=0.01)  # the other joints held
            for bad in (traj(["panda_joint1", "elbow"], [0.0, 0.0]), traj(["panda_joint1"], [np.nan]),
                        traj(["panda_joint4"], [1.0]), traj(["panda_joint1", "panda_joint2"], [0.0])):
                probe.publish("/arm_controller/joint_trajectory", bad)
                time.sleep(1.1)  # the refusal log is throttled to one line per second
            n = probe.count("/joint_states")
            assert wait_for(lambda: probe.count("/joint_states") > n + 10, 20.0)
            assert np.allclose(np.array(probe.last("/joint_states").position)[:7], q1[:7], atol=0.01)
            assert probe.count("/clock") > 0
            out = sim.output()
            for text in ("unknown joint names ['elbow']", "NaN", "joint limits", "1 positions for 2 joints"):
                assert text in out, out
            assert sim.alive()
        finally:
            assert sim.stop() == 0, sim.log_path.read_text()[-3000:]

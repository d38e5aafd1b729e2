"""arm_sim_node + world_model_controller as real processes on a private, loopback-only domain."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from toponav.manipulation import kinematics as kin
from toponav.manipulation.controller import default_checkpoint
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


@pytest.mark.skipif(not default_checkpoint().is_file(), reason="shipped checkpoint missing")
def test_controller_pushes_cube_toward_target(domain_id: int) -> None:
    with Probe(domain_id) as probe:
        probe.subscribe("/object_pose", PoseStamped, SENSOR_QOS)
        probe.subscribe("/target_pose", PoseStamped, LATCHED_QOS)
        probe.subscribe("/world_model/status", DiagnosticArray, EVENT_QOS)
        sim = NodeProcess(SIM, domain_id, params={"task": "push", "seed": 3})
        ctrl = NodeProcess(CTRL, domain_id, params={"use_sim_time": True})
        try:
            assert probe.wait("/target_pose", 1, timeout=30.0), sim.output()
            assert probe.wait("/object_pose", 5, timeout=30.0), sim.output()
            target = _xyz(probe.last("/target_pose"))
            start = _xyz(probe.all("/object_pose")[0])
            d0 = float(np.linalg.norm(start - target))

            def closer() -> bool:
                d = np.linalg.norm(_xyz(probe.last("/object_pose")) - target)
                return d < min(0.05, d0 - 0.03)

            moved = wait_for(closer, timeout=60.0, interval=0.2)
            d1 = float(np.linalg.norm(_xyz(probe.last("/object_pose")) - target))
            ok = [s for s in _statuses(probe) if s.level == DiagnosticStatus.OK]
            assert moved, f"cube {d0:.3f} -> {d1:.3f} m from target\n{ctrl.output()[-2000:]}"
            assert ok, ctrl.output()
            plan_ms = [float(dict((kv.key, kv.value) for kv in s.values)["plan_ms"]) for s in ok]
            assert 0.0 < np.median(plan_ms) < 1000.0
            assert sim.alive() and ctrl.alive()
        finally:
            assert ctrl.stop() == 0
            assert sim.stop() == 0


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
        finally:
            assert ctrl.stop() == 0

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
        finally:
            assert ctrl.stop() == 0

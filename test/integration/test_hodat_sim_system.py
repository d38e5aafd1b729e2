"""System test: hodat_controller drives the live sim_node robot to a sub-goal around obstacles (real processes).

sim_node (PyBullet, publishing /clock, /scan, /odom, /collision) and hodat_controller (use_sim_time) run as
separate processes on a private loopback domain; the test only publishes the sub-goal and watches
/ground_truth/pose and /collision.
"""

from __future__ import annotations

import math
import time

import pytest

from toponav.testing import NodeProcess
from toponav.worlds import World

pytestmark = [pytest.mark.system, pytest.mark.slow]

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("pybullet")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from toponav.ros_nodes.common import EVENT_QOS, SENSOR_QOS  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402

# Start (1.5, 3) facing +x; the straight line to the sub-goal (7, 3) is blocked by a 1 m pillar and a
# small tree stands behind it on one side, so the robot must leave the line and come back.
WORLD = World(name="detour", family="test", seed=0, bounds=(0.0, 0.0, 9.0, 6.0), start=(1.5, 3.0, 0.0),
              goal=(7.0, 3.0), circles=((4.2, 3.0, 0.5), (5.9, 1.8, 0.2)))
SUBGOAL = (7.0, 3.0)


@pytest.mark.parametrize("mode", ["learned", "dwa"])
def test_controller_drives_sim_robot_around_obstacles(domain_id: int, tmp_path, mode: str) -> None:
    world_file = tmp_path / "detour.json"
    WORLD.save(world_file)
    sim = NodeProcess("toponav.ros_nodes.sim_node", domain_id,
                      # true-pose odometry: this test is about avoidance; wheel-odometry drift (up to a few
                      # tenths of a metre on this detour) is covered by the sim and mapper tests
                      params={"world": str(world_file), "real_time_factor": 2.0, "lidar.beams": 128,
                              "odometry": "ground_truth"})
    ctrl = NodeProcess("toponav.ros_nodes.hodat_controller", domain_id,
                       # fallback off: the learned run must be the policy's own driving, not DWA's
                       params={"use_sim_time": True, "mode": mode, "goal_tolerance": 0.3, "fallback_after": 0.0})
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/collision", String, EVENT_QOS)
            probe.subscribe("/ground_truth/pose", PoseStamped, SENSOR_QOS)
            assert probe.wait("/ground_truth/pose", 1, timeout=40), sim.output()
            goal = PoseStamped()
            goal.header.frame_id = "odom"
            goal.pose.position.x, goal.pose.position.y = SUBGOAL
            goal.pose.orientation.w = 1.0
            deadline = time.monotonic() + 60.0
            reached = False
            min_y_dev = 0.0
            while time.monotonic() < deadline:
                probe.publish("/subgoal", goal)  # re-sent: the controller may still be loading
                p = probe.last("/ground_truth/pose").pose.position
                min_y_dev = max(min_y_dev, abs(p.y - 3.0))
                if math.hypot(p.x - SUBGOAL[0], p.y - SUBGOAL[1]) < 0.45:
                    reached = True
                    break
                time.sleep(0.25)
            assert reached, f"did not reach the sub-goal; last pose ({p.x:.2f}, {p.y:.2f})\n{ctrl.output()[-3000:]}"
            assert probe.count("/collision") == 0, [m.data for m in probe.all("/collision")]
            assert min_y_dev > 0.5  # it really went around the pillar
            assert f"planner={mode}" in ctrl.output(), ctrl.output()
    finally:
        assert ctrl.stop() == 0, ctrl.output()
        sim.stop()

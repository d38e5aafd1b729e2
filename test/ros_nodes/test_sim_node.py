"""System tests: the real sim_node process on a private loopback domain, observed through DDS."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from toponav.testing import NodeProcess, wait_for
from toponav.worlds import World

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import LaserScan, PointCloud2  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402

from toponav.ros_nodes.common import CLOCK_QOS, EVENT_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402

pytestmark = pytest.mark.system
MODULE = "toponav.ros_nodes.sim_node"

# Robot at (2, 5) facing +x; a 0.5 m pillar centred 3 m ahead, walls 2 m behind and 5 m to the sides.
KNOWN = World(name="known", family="test", seed=0, bounds=(0, 0, 12, 10), start=(2, 5, 0), goal=(9, 5),
              circles=((5.0, 5.0, 0.5),))


def _t(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _call(probe: Probe, srv_type, name: str, request, timeout: float = 10.0):
    client = probe.node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), f"service {name} not available"
    future = client.call_async(request)
    assert wait_for(future.done, timeout), f"service {name} did not answer"
    return future.result()


@pytest.fixture
def world_file(tmp_path):
    path = tmp_path / "known.json"
    KNOWN.save(path)
    return str(path)


def test_sim_node_topics_commands_bad_input_and_shutdown(domain_id: int, world_file: str) -> None:
    params = {"world": world_file, "real_time_factor": 4.0, "scan_rate": 10.0, "odom_rate": 20.0,
              "lidar.beams": 8, "lidar.range_max": 6.0, "camera.enabled": True, "camera.width": 16,
              "camera.height": 12, "lidar.noise_std": 0.0, "lidar.noise_range": 0.0}  # exact known geometry
    node = NodeProcess(MODULE, domain_id, params=params)
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/clock", Clock, CLOCK_QOS)
            probe.subscribe("/scan", LaserScan, SENSOR_QOS)
            probe.subscribe("/odom", Odometry, SENSOR_QOS)
            probe.subscribe("/ground_truth/pose", PoseStamped, SENSOR_QOS)
            probe.subscribe("/points", PointCloud2, SENSOR_QOS)
            probe.subscribe("/world_info", String, LATCHED_QOS)
            probe.subscribe("/collision", String, EVENT_QOS)
            assert probe.wait("/scan", 2, timeout=30), node.output()
            for topic in ("/clock", "/odom", "/ground_truth/pose"):
                assert probe.wait(topic, 1, timeout=10), topic

            # /clock advances faster than wall time (rtf 4)
            c0, w0 = _t(probe.last("/clock").clock), time.monotonic()
            time.sleep(1.0)
            c1, w1 = _t(probe.last("/clock").clock), time.monotonic()
            assert c1 - c0 > 1.2 * (w1 - w0)  # rtf 4 asked; margin for a loaded CI machine

            # /scan: header, angles and ranges match the known geometry
            scan = probe.last("/scan")
            assert scan.header.frame_id == "base_scan"
            assert len(scan.ranges) == 8
            assert scan.angle_min == pytest.approx(-math.pi)
            assert scan.angle_increment == pytest.approx(2 * math.pi / 8)
            assert scan.angle_max == pytest.approx(scan.angle_min + 7 * scan.angle_increment)
            assert (scan.range_min, scan.range_max) == pytest.approx((0.05, 6.0))
            r = np.asarray(scan.ranges)
            # beams: -pi (wall at x=0: 2 m), -pi/2 (wall y=0: 5 m), 0 (pillar: 3 - 0.5 = 2.5 m), +pi/2 (5 m)
            assert r[0] == pytest.approx(2.0, abs=0.02)
            assert r[2] == pytest.approx(5.0, abs=0.02)
            assert r[4] == pytest.approx(2.5, abs=0.02)
            assert r[6] == pytest.approx(5.0, abs=0.02)
            assert r[1] == pytest.approx(2 * math.sqrt(2), abs=0.02)  # diagonal to the wall behind
            assert r[7] == pytest.approx(2 * math.sqrt(2), abs=0.02)
            assert math.isinf(r[3]) and math.isinf(r[5])  # 5 sqrt(2) m to the side walls: beyond 6 m -> inf

            assert probe.wait("/world_info", 1, timeout=10)  # latched: may arrive after the sensor streams
            info = json.loads(probe.last("/world_info").data)
            assert info["name"] == "known" and info["goal"] == [9.0, 5.0]
            assert probe.wait("/points", 1, timeout=10)
            assert probe.last("/points").width > 20

            # /odom moves the way /cmd_vel says: turn left in place, then drive
            odom0 = probe.last("/odom")
            assert odom0.header.frame_id == "odom" and odom0.child_frame_id == "base_link"
            def yaw_of(msg: Odometry) -> float:
                return 2 * math.atan2(msg.pose.pose.orientation.z, msg.pose.pose.orientation.w)

            def drive(cmd: Twist, done, timeout: float = 15.0) -> bool:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    probe.publish("/cmd_vel", cmd)
                    if done(probe.last("/odom")):
                        return True
                    time.sleep(0.05)
                return False

            cmd = Twist()
            cmd.angular.z = 1.0
            assert drive(cmd, lambda o: yaw_of(o) > 0.8), yaw_of(probe.last("/odom"))
            odom = probe.last("/odom")
            assert abs(odom.pose.pose.position.x - 2.0) < 0.1  # turned in place
            assert odom.twist.twist.angular.z > 0.5
            cmd = Twist()
            cmd.linear.x = 0.5
            assert drive(cmd, lambda o: math.hypot(o.pose.pose.position.x - 2.0, o.pose.pose.position.y - 5.0) > 0.3)
            odom = probe.last("/odom")
            assert odom.twist.twist.linear.x > 0.2
            gt = probe.last("/ground_truth/pose")
            assert gt.header.frame_id == "map"
            assert gt.pose.position.y > 5.1  # moved left after the turn

            # cmd timeout: no new command -> the robot stops
            time.sleep(1.0)
            assert abs(probe.last("/odom").twist.twist.linear.x) < 0.05

            # NaN / inf commands: warned, ignored, sim keeps publishing
            bad = Twist()
            bad.linear.x = float("nan")
            bad.angular.z = float("inf")
            probe.publish("/cmd_vel", bad)
            n = probe.count("/scan")
            assert probe.wait("/scan", n + 3, timeout=10)
            assert node.alive()
            assert wait_for(lambda: "non-finite /cmd_vel" in node.output(), 5)

            # a goal outside the world: warning, no crash
            goal = PoseStamped()
            goal.header.frame_id = "map"
            goal.pose.position.x = 100.0
            probe.publish("/goal_pose", goal)
            assert probe.wait_for_subscribers("/goal_pose", timeout=5)
            probe.publish("/goal_pose", goal)
            assert wait_for(lambda: "outside world" in node.output(), 5)

            # pause stops /clock, reset puts the robot back at the start
            assert _call(probe, SetBool, "/sim_node/pause", SetBool.Request(data=True)).success
            time.sleep(0.3)
            p0 = _t(probe.last("/clock").clock)
            time.sleep(0.5)
            assert _t(probe.last("/clock").clock) == pytest.approx(p0)
            assert _call(probe, SetBool, "/sim_node/pause", SetBool.Request(data=False)).success
            assert _call(probe, Trigger, "/sim_node/reset", Trigger.Request()).success
            time.sleep(0.5)
            gt = probe.last("/ground_truth/pose")
            assert gt.pose.position.x == pytest.approx(2.0, abs=0.05)
            assert gt.pose.position.y == pytest.approx(5.0, abs=0.05)
            assert node.alive()
    finally:
        code = node.stop()
    assert code == 0, node.output()


def test_sim_node_reports_collisions(domain_id: int, world_file: str) -> None:
    node = NodeProcess(MODULE, domain_id, params={"world": world_file, "real_time_factor": 5.0})
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/collision", String, EVENT_QOS)
            probe.subscribe("/scan", LaserScan, SENSOR_QOS)
            assert probe.wait("/scan", 1, timeout=30), node.output()
            cmd = Twist()
            cmd.linear.x = 1.0
            deadline = time.monotonic() + 10
            while probe.count("/collision") == 0 and time.monotonic() < deadline:
                probe.publish("/cmd_vel", cmd)
                time.sleep(0.05)
            assert probe.count("/collision") >= 1, node.output()
            event = json.loads(probe.last("/collision").data)
            assert event["obstacle"] == "circle:0" and event["count"] == 1
            assert event["position"][0] == pytest.approx(4.5, abs=0.05)
    finally:
        assert node.stop() == 0


def test_sim_node_refuses_an_unknown_world(domain_id: int) -> None:
    node = NodeProcess(MODULE, domain_id, params={"world": "jungle"})
    assert node.proc.wait(60) == 2
    out = node.output()
    node.stop()
    assert "parameter 'world'" in out and "warehouse" in out and "barn:<index 0..299>" in out


def test_sim_node_runs_several_namespaced_robots(domain_id: int) -> None:
    params = {"world": "empty", "robots": ["robot1", "robot2"], "real_time_factor": 4.0, "lidar.beams": 16}
    node = NodeProcess(MODULE, domain_id, params=params)
    try:
        with Probe(domain_id) as probe:
            for ns in ("robot1", "robot2"):
                probe.subscribe(f"/{ns}/scan", LaserScan, SENSOR_QOS)
                probe.subscribe(f"/{ns}/odom", Odometry, SENSOR_QOS)
            probe.subscribe("/world_info", String, LATCHED_QOS)
            assert probe.wait("/robot2/odom", 2, timeout=30), node.output()
            assert probe.wait("/robot1/scan", 1, timeout=10)
            assert probe.wait("/robot1/odom", 1, timeout=10)
            assert probe.wait("/world_info", 1, timeout=10)  # latched: may arrive after the sensor streams
            info = json.loads(probe.last("/world_info").data)
            starts = {r["namespace"]: r["start"] for r in info["robots"]}
            assert starts["robot1"] == [1.0, 5.0, 0.0] and starts["robot2"] != starts["robot1"]
            odom2 = probe.last("/robot2/odom")
            assert odom2.header.frame_id == "robot2/odom" and odom2.child_frame_id == "robot2/base_link"
            assert odom2.pose.pose.position.x == pytest.approx(starts["robot2"][0], abs=0.05)
            assert probe.last("/robot1/scan").header.frame_id == "robot1/base_scan"
            cmd = Twist()
            cmd.linear.x = 0.5
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                probe.publish("/robot2/cmd_vel", cmd)
                if probe.last("/robot2/odom").pose.pose.position.x - starts["robot2"][0] > 0.3:
                    break
                time.sleep(0.05)
            moved2 = probe.last("/robot2/odom").pose.pose.position.x - starts["robot2"][0]
            moved1 = probe.last("/robot1/odom").pose.pose.position.x - starts["robot1"][0]
            assert moved2 > 0.3 and abs(moved1) < 0.02  # only the commanded robot moves
    finally:
        assert node.stop() == 0, node.output()

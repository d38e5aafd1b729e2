"""Replay through launch/bag_replay.launch.xml (not only through the player): the topics the launch file names
arrive, with the QoS a ROS user's tools ask for, and the others in the bag are left out.

Under real ``ros2 launch`` this file once replayed nothing: its ``topics`` list went through ``value-sep``,
which real launch_xml applies to the raw text ``$(var topics)`` (one element), so the player matched no topic.
The launcher now splits the same way (test/launching/test_grammar.py) and the file passes a YAML list.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from toponav.bags import TYPESTORE, BagWriter
from toponav.launching import Launcher, find_package_share, parse_launch_file
from toponav.testing import wait_for

pytestmark = [pytest.mark.system, pytest.mark.slow]

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402

from toponav.ros_nodes.probe import Probe  # noqa: E402

T = TYPESTORE.types


def _synthetic_bag(path: Path, steps: int = 50) -> list[int]:
    """5 s at 10 Hz of /scan, /odom, /ground_truth/pose and /cmd_vel, the robot driving along x."""
    H, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    Pt, Q, P = T["geometry_msgs/msg/Point"], T["geometry_msgs/msg/Quaternion"], T["geometry_msgs/msg/Pose"]
    V3, Tw = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Twist"]
    stamps = [100 * 10**9 + i * 100_000_000 for i in range(steps)]
    with BagWriter(path) as w:
        for topic, typ in (("/scan", "sensor_msgs/msg/LaserScan"), ("/odom", "nav_msgs/msg/Odometry"),
                           ("/ground_truth/pose", "geometry_msgs/msg/PoseStamped"),
                           ("/cmd_vel", "geometry_msgs/msg/Twist")):
            w.add_topic(topic, typ)
        for i, s in enumerate(stamps):
            head = lambda frame, s=s: H(Time(*divmod(s, 10**9)), frame)  # noqa: E731
            pose = P(Pt(0.1 * i, 0.0, 0.0), Q(0.0, 0.0, 0.0, 1.0))
            scan = T["sensor_msgs/msg/LaserScan"](
                head("base_scan"), -np.pi, np.pi - np.pi / 180, np.pi / 180, 0.0, 0.1, 0.1, 8.0,
                np.full(360, 3.0, dtype=np.float32), np.zeros(0, dtype=np.float32))
            twist = Tw(V3(0.5, 0.0, 0.0), V3(0.0, 0.0, 0.0))
            odom = T["nav_msgs/msg/Odometry"](
                head("odom"), "base_link", T["geometry_msgs/msg/PoseWithCovariance"](pose, np.zeros(36)),
                T["geometry_msgs/msg/TwistWithCovariance"](twist, np.zeros(36)))
            for topic, msg, typ in (("/scan", scan, "sensor_msgs/msg/LaserScan"),
                                    ("/odom", odom, "nav_msgs/msg/Odometry"),
                                    ("/ground_truth/pose", T["geometry_msgs/msg/PoseStamped"](head("map"), pose),
                                     "geometry_msgs/msg/PoseStamped"),
                                    ("/cmd_vel", twist, "geometry_msgs/msg/Twist")):
                w.write(topic, s, bytes(TYPESTORE.serialize_cdr(msg, typ)))
    return stamps


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def test_bag_replay_launch_file_replays_its_topics(tmp_path: Path, domain_id: int) -> None:
    stamps = _synthetic_bag(tmp_path / "bag")
    desc = parse_launch_file(find_package_share("toponav") / "launch" / "bag_replay.launch.xml",
                             {"bag": str(tmp_path / "bag")})
    out = io.StringIO()
    launcher = Launcher(desc, domain_id=domain_id, log_dir=tmp_path / "logs", stream=out)
    with Probe(domain_id) as probe:
        probe.subscribe("/scan", LaserScan, qos_profile_sensor_data)
        for topic, typ in (("/odom", Odometry), ("/ground_truth/pose", PoseStamped), ("/cmd_vel", Twist)):
            probe.subscribe(topic, typ, 10)  # rclpy's default profile
        try:
            launcher.start()
            # the player ends the launch (on_exit="shutdown", code 0) when the bag is done
            assert wait_for(lambda: not launcher.poll(), timeout=120), out.getvalue()[-3000:]
        finally:
            launcher.shutdown()
        assert launcher.exit_code == 0 and "bag_player" in launcher.reason, out.getvalue()[-3000:]
        for topic in ("/scan", "/odom", "/ground_truth/pose"):
            got = [_stamp(m) for m in probe.all(topic)]
            # the player starts 0.5 s after it is up and the probe may be discovered only seconds later on a
            # busy machine: the first messages can be missed, the rest arrive in order
            assert len(got) >= 10, (topic, len(got), out.getvalue()[-3000:])
            assert got == sorted(got) and set(got) <= set(stamps), topic
            assert topic == "/scan" or got[-1] == stamps[-1], topic  # reliable ones: nothing lost once matched
        assert probe.count("/cmd_vel") == 0, "the launch file's topic list leaves /cmd_vel out"
    assert ", 3 topics," in out.getvalue()  # the launch file names 4; the bag has no /goal_pose

"""The message builders and readers every node shares (ros_nodes/convert.py), without a running graph:
builders and readers are inverses, and bad input is refused with a reason, the same way for every node."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, Twist
from sensor_msgs.msg import LaserScan

from toponav.ros_nodes.convert import (
    ConversionError,
    duration_to_sec,
    laserscan_range_limits,
    laserscan_to_arrays,
    make_joint_trajectory,
    make_laserscan,
    make_odometry,
    make_pose_3d,
    make_pose_stamped,
    make_pose_with_covariance,
    make_twist,
    message_class,
    ns_to_stamp,
    odometry_to_pose,
    odometry_to_twist,
    pointcloud2_to_xyz,
    pose_stamped_to_xy,
    pose_to_xyyaw,
    pose_with_covariance_to_pose,
    position_to_array,
    sec_to_duration,
    sec_to_stamp,
    stamp_to_sec,
    twist_to_vw,
    xyz_to_pointcloud2,
)


def test_stamps_round_to_the_nanosecond_and_never_go_negative():
    t = 0.0
    for _ in range(100):
        t += 0.01  # 0.9999999999999999: must be 1 s, not 0 s 999999999 ns (the sim's clock)
    assert (sec_to_stamp(t).sec, sec_to_stamp(t).nanosec) == (1, 0)
    assert (sec_to_stamp(12.3).sec, sec_to_stamp(12.3).nanosec) == (12, 300_000_000)
    assert (sec_to_stamp(-1.0).sec, sec_to_stamp(-1.0).nanosec) == (0, 0)
    s = ns_to_stamp(5_000_000_001)
    assert (s.sec, s.nanosec) == (5, 1) and stamp_to_sec(s) == pytest.approx(5.000000001)
    for ns in (0, 1, 999_999_999, 10**9, 123_456_789_012):
        s = sec_to_stamp(ns * 1e-9)
        assert s.sec * 10**9 + s.nanosec == ns
    assert duration_to_sec(sec_to_duration(2.25)) == 2.25


def test_laserscan_round_trip_and_range_limits():
    angles = -math.pi + 2 * math.pi / 8 * np.arange(8)
    ranges = np.array([1.0, 2.0, np.inf, np.nan, 0.5, 3.0, 4.0, 5.0])
    msg = make_laserscan(ranges, angles, 0.05, 8.0, "base_scan", sec_to_stamp(1.5), scan_time=0.1)
    assert msg.header.frame_id == "base_scan" and stamp_to_sec(msg.header.stamp) == 1.5
    r, a, warnings = laserscan_to_arrays(msg)
    np.testing.assert_allclose(a, angles, atol=1e-6)
    np.testing.assert_array_equal(r, ranges.astype(np.float32))
    assert warnings == []
    assert laserscan_range_limits(msg, 10.0) == pytest.approx((0.05, 8.0))
    bad = LaserScan(ranges=[1.0, 2.0], angle_min=0.0, angle_max=0.0, angle_increment=0.0,
                    range_min=-1.0, range_max=0.0)
    assert laserscan_range_limits(bad, 10.0) == (0.0, 10.0)  # unset range_max: the caller's default
    assert laserscan_range_limits(bad) == (0.0, math.inf)
    with pytest.raises(ConversionError, match="angle fields unusable"):
        laserscan_to_arrays(bad)


def test_odometry_round_trip_and_refusals():
    msg = make_odometry(1.0, -2.0, 0.5, 0.3, -0.1, "odom", "base_link", sec_to_stamp(2.0), var_xy=0.01,
                        var_yaw=0.02)
    assert odometry_to_pose(msg) == pytest.approx((1.0, -2.0, 0.5, 2.0))
    assert odometry_to_twist(msg) == pytest.approx((0.3, -0.1))
    assert msg.child_frame_id == "base_link" and msg.pose.covariance[7] == 0.01 and msg.twist.covariance[35] == 0.02
    msg.twist.twist.angular.z = math.nan
    with pytest.raises(ConversionError, match="non-finite twist"):
        odometry_to_twist(msg)
    msg.pose.pose.orientation.z = msg.pose.pose.orientation.w = 0.0
    with pytest.raises(ConversionError, match="zero quaternion"):
        odometry_to_pose(msg)


def test_corrected_pose_round_trip_and_refusals():
    """The mapper's `pose`: x, y, yaw covariance in the 6x6 layout's x, y, yaw cells; NaN or a zero quaternion
    refused with the reason (the planner and controller log it and keep their last map <- odom)."""
    cov = np.array([[0.01, 0.002, 0.0], [0.002, 0.02, 0.0], [0.0, 0.0, 0.003]])
    msg = make_pose_with_covariance(2.0, -1.0, 0.7, cov, "map", sec_to_stamp(3.5))
    assert msg.header.frame_id == "map"
    assert pose_with_covariance_to_pose(msg) == pytest.approx((2.0, -1.0, 0.7, 3.5))
    full = np.asarray(msg.pose.covariance).reshape(6, 6)
    np.testing.assert_allclose(full[np.ix_([0, 1, 5], [0, 1, 5])], cov)
    assert full[2, 2] == full[3, 3] == full[4, 4] == 0.0
    msg.pose.pose.position.x = math.nan
    with pytest.raises(ConversionError, match="PoseWithCovarianceStamped has non-finite"):
        pose_with_covariance_to_pose(msg)
    msg.pose.pose.position.x = 0.0
    msg.pose.pose.orientation.z = msg.pose.pose.orientation.w = 0.0
    with pytest.raises(ConversionError, match="zero quaternion"):
        pose_with_covariance_to_pose(msg)


def test_twist_and_target_pose():
    assert twist_to_vw(make_twist(0.4, -0.2)) == (0.4, -0.2)
    bad = Twist()
    bad.linear.x = math.inf
    with pytest.raises(ConversionError, match="not finite"):
        twist_to_vw(bad)
    goal = make_pose_stamped(3.0, 4.0, math.pi / 2, "map", sec_to_stamp(1.0))
    assert pose_stamped_to_xy(goal) == (3.0, 4.0)
    assert pose_to_xyyaw(goal.pose) == pytest.approx((3.0, 4.0, math.pi / 2))
    nan_goal = PoseStamped()
    nan_goal.pose.position.x = math.nan
    with pytest.raises(ConversionError, match="not finite"):
        pose_stamped_to_xy(nan_goal)


def test_arm_messages():
    pose = make_pose_3d([0.1, 0.2, 0.3], [0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(position_to_array(pose), [0.1, 0.2, 0.3])
    traj = make_joint_trajectory(["a", "b"], [0.5, 1.0], 0.1, sec_to_stamp(0.0))
    assert list(traj.joint_names) == ["a", "b"] and list(traj.points[0].positions) == [0.5, 1.0]
    assert duration_to_sec(traj.points[0].time_from_start) == pytest.approx(0.1)


def test_pointcloud_round_trip_and_message_class():
    xyz = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    msg = xyz_to_pointcloud2(xyz, "base_link", sec_to_stamp(0.5))
    np.testing.assert_array_equal(pointcloud2_to_xyz(msg), xyz)
    assert message_class("geometry_msgs/msg/Twist") is Twist
    with pytest.raises(ImportError):
        message_class("no_such_pkg/msg/Thing")

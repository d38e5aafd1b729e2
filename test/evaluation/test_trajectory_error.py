"""Trajectory error (APE / RPE by evo) on synthetic MCAP bags with hand-computed answers; the corrected pose
``pose`` present or missing; bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from toponav.bags import TYPESTORE, BagWriter
from toponav.evaluation import fastcdr
from toponav.evaluation.trajectory_error import (
    TrajectoryError,
    TrajectoryErrorConfig,
    evaluate_bag,
    read_trajectories,
    trajectory_error,
)

T = TYPESTORE.types
STEP = 0.05  # s between ground-truth / odometry messages (the sim's 20 Hz)
SPEED = 1.0  # m/s along +x: 30 m in 30 s


def ser(msg, typename: str) -> bytes:
    return bytes(TYPESTORE.serialize_cdr(msg, typename))


def header(t: float, frame: str):
    sec = math.floor(t)
    return T["std_msgs/msg/Header"](T["builtin_interfaces/msg/Time"](sec, round((t - sec) * 1e9)), frame)


def pose(x: float, y: float, yaw: float, z: float = 0.0):
    q = T["geometry_msgs/msg/Quaternion"](0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2))
    return T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](x, y, z), q)


def gt_msg(t: float, x: float, y: float, yaw: float, z: float = 0.0) -> bytes:
    return ser(T["geometry_msgs/msg/PoseStamped"](header(t, "map"), pose(x, y, yaw, z)),
               "geometry_msgs/msg/PoseStamped")


def odom_msg(t: float, x: float, y: float, yaw: float) -> bytes:
    V3 = T["geometry_msgs/msg/Vector3"]
    tw = T["geometry_msgs/msg/TwistWithCovariance"](T["geometry_msgs/msg/Twist"](V3(SPEED, 0.0, 0.0),
                                                                                 V3(0.0, 0.0, 0.0)), np.zeros(36))
    return ser(T["nav_msgs/msg/Odometry"](header(t, "odom"), "base_link",
                                          T["geometry_msgs/msg/PoseWithCovariance"](pose(x, y, yaw), np.zeros(36)), tw),
               "nav_msgs/msg/Odometry")


def corrected_msg(t: float, x: float, y: float, yaw: float) -> bytes:
    cov = np.diag([0.01, 0.01, 0.0, 0.0, 0.0, 0.003]).ravel()
    return ser(T["geometry_msgs/msg/PoseWithCovarianceStamped"](
        header(t, "map"), T["geometry_msgs/msg/PoseWithCovariance"](pose(x, y, yaw), cov)),
        "geometry_msgs/msg/PoseWithCovarianceStamped")


def write_bag(path: Path, *, corrected: bool = True, namespace: str = "", ground_truth: bool = True,
              nan_odom_at: int | None = None) -> np.ndarray:
    """30 m straight along +x at 1 m/s from (2, 3), on terrain rising 1 m (ground truth's z); wheel odometry
    overshoots by 10 % (a wheel-radius error), the corrected pose (``pose``, at 10 Hz on the scan stamps) sits
    5 cm to the left. Returns the distances from the start at the ground-truth stamps."""
    n = round(30.0 / (SPEED * STEP)) + 1
    t = 100.0 + STEP * np.arange(n)
    d = SPEED * STEP * np.arange(n)
    pre = namespace.rstrip("/")
    custom = {"toponav.namespace": namespace} if namespace else None
    with BagWriter(path, custom_data=custom) as w:
        topics = [("/odom", "nav_msgs/msg/Odometry")]
        if ground_truth:
            topics.append(("/ground_truth/pose", "geometry_msgs/msg/PoseStamped"))
        if corrected:
            topics.append(("/pose", "geometry_msgs/msg/PoseWithCovarianceStamped"))
        for topic, typ in topics:
            w.add_topic(pre + topic, typ)
        for k in range(n):
            ns = round(t[k] * 1e9)
            if ground_truth:
                w.write(pre + "/ground_truth/pose", ns, gt_msg(t[k], 2.0 + d[k], 3.0, 0.0, z=d[k] / 30.0))
            x_odom = math.nan if k == nan_odom_at else 2.0 + 1.1 * d[k]
            w.write(pre + "/odom", ns, odom_msg(t[k], x_odom, 3.0, 0.0))
            if corrected and k % 2 == 0:
                w.write(pre + "/pose", ns, corrected_msg(t[k], 2.0 + d[k], 3.05, 0.0))
    return d


def test_pose_with_covariance_reader_matches_rosbags() -> None:
    buf = corrected_msg(12.5, 1.5, -2.0, 0.7)
    t, x, y, _z, _qx, _qy, qz, qw = fastcdr.pose_with_covariance_stamped(buf)
    ref = TYPESTORE.deserialize_cdr(buf, "geometry_msgs/msg/PoseWithCovarianceStamped")
    assert (t, x, y) == pytest.approx((12.5, 1.5, -2.0))
    assert (qz, qw) == pytest.approx((ref.pose.pose.orientation.z, ref.pose.pose.orientation.w))
    with pytest.raises(fastcdr.CdrError):
        fastcdr.pose_with_covariance_stamped(buf[:-8])  # covariance cut short


def test_errors_of_odometry_and_corrected_pose(tmp_path: Path) -> None:
    d = write_bag(tmp_path / "bag")
    res = evaluate_bag(tmp_path / "bag", tmp_path / "tum")
    odom, corr = res.estimates["odom"], res.estimates["pose"]
    assert res.path_length == pytest.approx(30.0, abs=1e-6)  # planar: the 1 m climb is not path
    # 10 % overshoot: the error at distance d is 0.1 d, RMSE over the matched poses; no alignment
    assert odom.ape_rmse == pytest.approx(0.1 * math.sqrt(np.mean(d ** 2)), rel=1e-6)
    assert odom.start_error == pytest.approx(0.0, abs=1e-9) and odom.matched == len(d)
    # every 10 m of ground-truth path, odometry says 11 m: 1 m per 10 m, on every pose that starts a segment
    assert odom.rpe_rmse == pytest.approx(1.0, abs=0.01) and odom.rpe_segments > 300
    # the corrected pose: a constant 5 cm offset, no drift; at 10 Hz, half the ground-truth stamps matched
    assert corr.ape_rmse == pytest.approx(0.05, abs=1e-6) and corr.matched == (len(d) + 1) // 2
    assert corr.rpe_rmse == pytest.approx(0.0, abs=1e-6)
    assert set(res.missing) == {"wheel_odom"}  # the sim's raw-wheels topic is not in this bag: n/a, not 0
    assert "not recorded" in res.missing["wheel_odom"] and res.ape("wheel_odom") is None
    assert res.ape("odom") / res.ape("pose") > 10
    # the TUM files are planar (z = 0), the ones evo read
    gt = np.loadtxt(res.tum["ground_truth"])
    assert gt.shape == (len(d), 8) and np.all(gt[:, 3] == 0.0) and gt[0, 1] == pytest.approx(2.0)
    assert set(res.tum) == {"ground_truth", "odom", "pose"}


def test_missing_corrected_pose_is_reported_not_zero(tmp_path: Path) -> None:
    write_bag(tmp_path / "bag", corrected=False)
    res = evaluate_bag(tmp_path / "bag", tmp_path / "tum")
    assert res.estimates["pose"] is None and res.ape("pose") is None
    assert "pose" in res.missing["pose"] and "not recorded" in res.missing["pose"]
    assert res.estimates["odom"] is not None and res.ape("odom") > 0.5


def test_namespace_nan_poses_and_no_ground_truth(tmp_path: Path) -> None:
    write_bag(tmp_path / "ns", namespace="/robot1", nan_odom_at=5)
    trajs = read_trajectories(tmp_path / "ns")
    assert set(trajs.trajectories) == {"ground_truth", "odom", "pose"}
    assert len(trajs.trajectories["odom"].t) == len(trajs.trajectories["ground_truth"].t) - 1
    assert any("non-finite" in w for w in trajs.warnings)
    write_bag(tmp_path / "nogt", ground_truth=False)
    with pytest.raises(TrajectoryError, match="no ground truth"):
        evaluate_bag(tmp_path / "nogt", tmp_path / "tum2")


def test_short_runs_and_unmatched_stamps(tmp_path: Path) -> None:
    ref, est, far = tmp_path / "ref.tum", tmp_path / "est.tum", tmp_path / "far.tum"
    t = np.arange(50) * 0.1
    rows = np.c_[t, 0.1 * np.arange(50), np.zeros((50, 5)), np.ones(50)]  # 4.9 m: shorter than one segment
    np.savetxt(ref, rows)
    np.savetxt(est, rows + np.r_[0, 0, 0.2, 0, 0, 0, 0, 0])
    np.savetxt(far, rows + np.r_[1000.0, 0, 0, 0, 0, 0, 0, 0])  # stamps nowhere near
    stats = trajectory_error(ref, est, TrajectoryErrorConfig())
    assert stats.ape_rmse == pytest.approx(0.2) and stats.rpe_rmse is None and "no RPE" in stats.note
    with pytest.raises(TrajectoryError, match="no pose matches"):
        trajectory_error(ref, far)


def test_bench_row_from_a_bag_with_and_without_the_corrected_pose(tmp_path: Path) -> None:
    """bench localisation's row and verdict read what evaluate_bag writes (the keys agree)."""
    from toponav.experiments import bench_localisation as bl
    from toponav.experiments.bench_stack import WorldCase

    case = WorldCase("warehouse", 1_000_000, "warehouse-1000000")
    write_bag(tmp_path / "with")
    row = bl.run_row(case, {"reached": True}, [{"reached": True}], evaluate_bag(tmp_path / "with", tmp_path / "a")
                     .to_dict())
    assert row["distance"] == pytest.approx(30.0) and row["ape_pose"] == pytest.approx(0.05)
    assert row["ratio"] == pytest.approx(row["ape_odom"] / 0.05) and row["rpe_odom"] == pytest.approx(1.0, abs=0.01)
    assert bl.verdict([row], long_run=25.0)["passed"] is True
    write_bag(tmp_path / "without", corrected=False)
    row = bl.run_row(case, {}, [], evaluate_bag(tmp_path / "without", tmp_path / "b").to_dict())
    assert row["ape_pose"] is None and row["ratio"] is None and row["ape_odom"] > 0.5
    assert bl.verdict([row], long_run=25.0)["passed"] is None

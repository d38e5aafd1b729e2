"""Message <-> core conversions shared by every node (one place, tested without a running graph).

Everything here takes or returns plain numpy / tuples on the core side, and never raises on odd
sensor data without saying what was wrong: :class:`ConversionError` carries a message for the log.
A node catches it, logs it (throttled) and keeps the last good value, so every node rejects the same
inputs for the same reasons: a scan with unusable angle fields, odometry or a twist with non-finite
values or a zero quaternion, a target pose that is not finite.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, PoseStamped, PoseWithCovarianceStamped, Quaternion, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
from sensor_msgs.msg import JointState, LaserScan, PointCloud2, PointField
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from toponav.geometry import quaternion_to_yaw, yaw_to_quaternion

#: A scan whose angle fields disagree with its beam count by more than this (rad) is reported.
ANGLE_TOLERANCE = 1e-3


class ConversionError(ValueError):
    """A message cannot be converted; the text says why (for the node's log)."""


def stamp_to_sec(stamp: Time) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def ns_to_stamp(ns: int) -> Time:
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def sec_to_stamp(t: float) -> Time:
    """Seconds (clamped at 0) to a stamp rounded to the nanosecond: ticks summed in floating point give
    0.9999999999 s for a hundred 0.01 s ticks, which must become 1 s 0 ns, not 0 s 999999999 ns (or 0 s 0 ns)."""
    return ns_to_stamp(round(max(0.0, float(t)) * 1e9))


def message_class(msgtype: str) -> Any:
    """``pkg/msg/Type`` -> the rclpy message class (ImportError/AttributeError when not installed)."""
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def duration_to_sec(d: Duration) -> float:
    return float(d.sec) + float(d.nanosec) * 1e-9


def sec_to_duration(t: float) -> Duration:
    """Seconds (>= 0) to a Duration, the fraction truncated to the nanosecond."""
    return Duration(sec=int(t), nanosec=int((t % 1.0) * 1e9))


def laserscan_to_arrays(msg: LaserScan) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """LaserScan -> (ranges, angles, warnings). Ranges keep NaN/inf (the core's cleaner handles them).

    Angles follow the message convention ``angle_min + i * angle_increment``. Inconsistent angle fields
    are repaired when possible (warning), else ConversionError: a zero / non-finite increment with more
    than one beam, non-finite angle_min, or no beams at all.
    """
    ranges = np.asarray(msg.ranges, dtype=np.float64)
    n = ranges.size
    warnings: list[str] = []
    if n == 0:
        raise ConversionError("LaserScan has no ranges")
    amin, amax, inc = float(msg.angle_min), float(msg.angle_max), float(msg.angle_increment)
    if not math.isfinite(amin):
        raise ConversionError(f"LaserScan angle_min is {amin}")
    if n > 1 and (not math.isfinite(inc) or inc == 0.0):
        if math.isfinite(amax) and amax != amin:
            inc = (amax - amin) / (n - 1)
            warnings.append(f"LaserScan angle_increment was {msg.angle_increment}: derived {inc:.6f} from angle_max")
        else:
            raise ConversionError(
                f"LaserScan angle fields unusable: angle_min={amin}, angle_max={amax}, increment={msg.angle_increment}")
    elif math.isfinite(amax) and n > 1:
        # REP: angle_max = angle_min + (n-1)*inc; a full-circle scan may also end one step short of 2*pi
        expected = amin + (n - 1) * inc
        if abs(expected - amax) > max(ANGLE_TOLERANCE, abs(inc) * 1.01):
            warnings.append(f"LaserScan angle_max {amax:.4f} disagrees with angle_min + (n-1)*increment = "
                            f"{expected:.4f} for {n} beams: using angle_min + i*increment")
    if abs(inc) * max(n - 1, 0) > 2 * math.pi + 1e-3:
        warnings.append(f"LaserScan covers {abs(inc) * (n - 1):.2f} rad (> 2*pi) with {n} beams")
    angles = amin + inc * np.arange(n, dtype=np.float64)
    return ranges, angles, warnings


def laserscan_range_limits(msg: LaserScan, default_max: float = math.inf) -> tuple[float, float]:
    """(range_min, range_max) of a scan; an unset or invalid range_max (0, negative, NaN, inf) is
    ``default_max``, an invalid range_min (negative, NaN) is 0."""
    rmax = float(msg.range_max)
    rmin = float(msg.range_min)
    return (rmin if math.isfinite(rmin) and rmin >= 0 else 0.0,
            rmax if math.isfinite(rmax) and rmax > 0 else float(default_max))


def _checked_pose(pose: Pose, what: str) -> tuple[float, float, float]:
    p, q = pose.position, pose.orientation
    values = (p.x, p.y, q.x, q.y, q.z, q.w)
    if not all(math.isfinite(v) for v in values):
        raise ConversionError(f"{what} has non-finite pose values {values}")
    if q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w < 1e-12:
        raise ConversionError(f"{what} orientation is a zero quaternion")
    return float(p.x), float(p.y), quaternion_to_yaw(q.x, q.y, q.z, q.w)


def odometry_to_pose(msg: Odometry) -> tuple[float, float, float, float]:
    """Odometry -> (x, y, yaw, stamp_sec). ConversionError on non-finite values or a zero quaternion."""
    return (*_checked_pose(msg.pose.pose, "Odometry"), stamp_to_sec(msg.header.stamp))


def pose_with_covariance_to_pose(msg: PoseWithCovarianceStamped) -> tuple[float, float, float, float]:
    """A localiser's pose (ours on ``pose``, AMCL's ``amcl_pose``) -> (x, y, yaw, stamp_sec); ConversionError
    on non-finite values or a zero quaternion."""
    return (*_checked_pose(msg.pose.pose, "PoseWithCovarianceStamped"), stamp_to_sec(msg.header.stamp))


def make_pose_with_covariance(x: float, y: float, yaw: float, cov: np.ndarray, frame_id: str,
                              stamp: Time) -> PoseWithCovarianceStamped:
    """A planar pose with its (3, 3) x, y, yaw covariance in the message's 6x6 (x, y, z, roll, pitch, yaw) layout;
    z, roll and pitch are fixed for a ground robot and carry 0, as AMCL writes them."""
    msg = PoseWithCovarianceStamped(header=Header(frame_id=frame_id, stamp=stamp))
    msg.pose.pose = make_pose(x, y, yaw)
    full = np.zeros((6, 6))
    idx = np.array([0, 1, 5])
    full[np.ix_(idx, idx)] = np.asarray(cov, dtype=np.float64).reshape(3, 3)
    msg.pose.covariance = full.ravel().tolist()
    return msg


def odometry_to_twist(msg: Odometry) -> tuple[float, float]:
    """Odometry -> (v, w): forward and yaw rate in the child frame; ConversionError when not finite."""
    v, w = float(msg.twist.twist.linear.x), float(msg.twist.twist.angular.z)
    if not (math.isfinite(v) and math.isfinite(w)):
        raise ConversionError(f"Odometry has a non-finite twist (v={v}, w={w})")
    return v, w


def twist_to_vw(msg: Twist) -> tuple[float, float]:
    """Twist -> (v, w) of a differential drive (linear.x, angular.z); ConversionError when not finite."""
    v, w = float(msg.linear.x), float(msg.angular.z)
    if not (math.isfinite(v) and math.isfinite(w)):
        raise ConversionError(f"Twist is not finite (v={v}, w={w})")
    return v, w


def make_twist(v: float, w: float) -> Twist:
    """(v, w) -> Twist (linear.x, angular.z; the rest zero)."""
    msg = Twist()
    msg.linear.x, msg.angular.z = float(v), float(w)
    return msg


def pose_stamped_to_xy(msg: PoseStamped) -> tuple[float, float]:
    """A target pose (goal, sub-goal) -> (x, y) in its header's frame; ConversionError when not finite."""
    x, y = float(msg.pose.position.x), float(msg.pose.position.y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ConversionError(f"pose ({x}, {y}) is not finite")
    return x, y


def position_to_array(pose: Pose) -> np.ndarray:
    """A pose's position as a (3,) float array, unchecked: for cores that validate it themselves and say why
    (the arm controller's InputError)."""
    p = pose.position
    return np.array([p.x, p.y, p.z], dtype=np.float64)


def quaternion_from_yaw(yaw: float) -> Quaternion:
    x, y, z, w = yaw_to_quaternion(float(yaw))
    return Quaternion(x=x, y=y, z=z, w=w)


def make_pose(x: float, y: float, yaw: float = 0.0, z: float = 0.0) -> Pose:
    return Pose(position=Point(x=float(x), y=float(y), z=float(z)), orientation=quaternion_from_yaw(yaw))


def make_pose_3d(position: Sequence[float], quaternion: Sequence[float]) -> Pose:
    """A pose from a position (x, y, z) and a quaternion (x, y, z, w), e.g. an object's pose in the arm scene."""
    (px, py, pz), (qx, qy, qz, qw) = position, quaternion
    return Pose(position=Point(x=float(px), y=float(py), z=float(pz)),
                orientation=Quaternion(x=float(qx), y=float(qy), z=float(qz), w=float(qw)))


def make_pose_stamped(x: float, y: float, yaw: float, frame_id: str, stamp: Time | None = None) -> PoseStamped:
    return PoseStamped(header=Header(frame_id=frame_id, stamp=stamp or Time()), pose=make_pose(x, y, yaw))


def pose_to_xyyaw(pose: Pose) -> tuple[float, float, float]:
    q = pose.orientation
    return float(pose.position.x), float(pose.position.y), quaternion_to_yaw(q.x, q.y, q.z, q.w)


_PF_DTYPES = {
    PointField.INT8: "i1", PointField.UINT8: "u1", PointField.INT16: "i2", PointField.UINT16: "u2",
    PointField.INT32: "i4", PointField.UINT32: "u4", PointField.FLOAT32: "f4", PointField.FLOAT64: "f8",
}


def pointcloud2_to_xyz(msg: PointCloud2) -> np.ndarray:
    """PointCloud2 -> (N, 3) float64 of finite x, y, z (any extra fields ignored)."""
    fields = {f.name: f for f in msg.fields}
    if not all(k in fields for k in ("x", "y", "z")):
        raise ConversionError(f"PointCloud2 lacks x/y/z fields (has {sorted(fields)})")
    n = int(msg.width) * int(msg.height)
    if n == 0:
        return np.zeros((0, 3))
    endian = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for k in ("x", "y", "z"):
        f = fields[k]
        if f.datatype not in _PF_DTYPES:
            raise ConversionError(f"PointCloud2 field {k} has unknown datatype {f.datatype}")
        names.append(k)
        formats.append(endian + _PF_DTYPES[f.datatype])
        offsets.append(f.offset)
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": int(msg.point_step)})
    data = bytes(msg.data)
    if len(data) < n * msg.point_step:
        raise ConversionError(f"PointCloud2 data has {len(data)} bytes, expected {n * msg.point_step}")
    rec = np.frombuffer(data, dtype=dtype, count=n)
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
    return xyz[np.isfinite(xyz).all(axis=1)]


def make_laserscan(ranges: np.ndarray, angles: np.ndarray, range_min: float, range_max: float, frame_id: str,
                   stamp: Time, scan_time: float = 0.0) -> LaserScan:
    """Beams (inf = no return, REP 117) at evenly spaced ``angles`` -> LaserScan, the inverse of
    :func:`laserscan_to_arrays`."""
    msg = LaserScan()
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    msg.angle_min = float(angles[0])
    msg.angle_max = float(angles[-1])
    msg.angle_increment = float(angles[1] - angles[0]) if len(angles) > 1 else 0.0
    msg.time_increment = 0.0
    msg.scan_time = float(scan_time)
    msg.range_min = float(range_min)
    msg.range_max = float(range_max)
    msg.ranges = np.asarray(ranges).astype(np.float32).tolist()
    return msg


def make_odometry(x: float, y: float, yaw: float, v: float, w: float, frame_id: str, child_frame_id: str,
                  stamp: Time, var_xy: float = 0.0, var_yaw: float = 0.0) -> Odometry:
    """A planar pose and twist -> Odometry; ``var_xy`` / ``var_yaw`` go on the covariance diagonals (x, y, yaw
    of the pose; x, yaw of the twist), the inverse of :func:`odometry_to_pose` / :func:`odometry_to_twist`."""
    odom = Odometry()
    odom.header = Header(stamp=stamp, frame_id=frame_id)
    odom.child_frame_id = child_frame_id
    odom.pose.pose = make_pose(x, y, yaw)
    odom.twist.twist.linear.x = float(v)
    odom.twist.twist.angular.z = float(w)
    odom.pose.covariance[0] = odom.pose.covariance[7] = var_xy
    odom.pose.covariance[35] = var_yaw
    odom.twist.covariance[0] = var_xy
    odom.twist.covariance[35] = var_yaw
    return odom


def xyz_to_pointcloud2(xyz: np.ndarray, frame_id: str, stamp: Time) -> PointCloud2:
    """(N, 3) points -> an unorganised, dense float32 PointCloud2 (x, y, z), the inverse of
    :func:`pointcloud2_to_xyz`."""
    pts = np.ascontiguousarray(xyz, dtype=np.float32)
    msg = PointCloud2()
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    msg.height, msg.width = 1, len(pts)
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    msg.is_bigendian = False
    msg.point_step, msg.row_step = 12, 12 * len(pts)
    msg.is_dense = True
    msg.data = pts.tobytes()
    return msg


def make_joint_state(names: Sequence[str], positions: Sequence[float], velocities: Sequence[float],
                     stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    msg.position = [float(v) for v in positions]
    msg.velocity = [float(v) for v in velocities]
    return msg


def make_joint_trajectory(names: Sequence[str], positions: Sequence[float], time_from_start: float,
                          stamp: Time) -> JointTrajectory:
    """A one-point trajectory: reach ``positions`` ``time_from_start`` seconds from now (an arm command)."""
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = list(names)
    point = JointTrajectoryPoint()
    point.positions = [float(p) for p in positions]
    point.time_from_start = sec_to_duration(time_from_start)
    msg.points = [point]
    return msg


def grid_to_occupancy_msg(values: np.ndarray, resolution: float, origin: tuple[float, float], frame_id: str,
                          stamp: Time | None = None) -> OccupancyGrid:
    """(H, W) int8 grid (-1 unknown, 0..100; row 0 = lowest y) -> nav_msgs/OccupancyGrid."""
    msg = OccupancyGrid()
    msg.header = Header(frame_id=frame_id, stamp=stamp or Time())
    h, w = values.shape
    msg.info.resolution = float(resolution)
    msg.info.width = int(w)
    msg.info.height = int(h)
    msg.info.origin = make_pose(origin[0], origin[1], 0.0)
    msg.info.map_load_time = msg.header.stamp
    msg.data = np.ascontiguousarray(values, dtype=np.int8).ravel().tolist()
    return msg


def occupancy_msg_to_grid(msg: OccupancyGrid) -> tuple[np.ndarray, tuple[float, float], float]:
    """nav_msgs/OccupancyGrid -> ((H, W) int8 values, origin (x, y), resolution), the inverse of
    :func:`grid_to_occupancy_msg`; raises ConversionError naming the fault (size mismatch, bad resolution or origin,
    a rotated origin, which this stack does not use)."""
    info = msg.info
    h, w, res = int(info.height), int(info.width), float(info.resolution)
    if not (math.isfinite(res) and res > 0):
        raise ConversionError(f"map resolution must be finite and > 0, got {res}")
    data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.int8) if len(msg.data) else np.zeros(0, np.int8)
    if h * w == 0 or data.size != h * w:
        raise ConversionError(f"map data has {data.size} cells for {w} x {h}")
    x, y, yaw = pose_to_xyyaw(info.origin)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ConversionError(f"map origin must be finite, got ({x}, {y})")
    if abs(yaw) > 1e-6:
        raise ConversionError(f"map origin is rotated by {yaw:.3f} rad; only axis-aligned maps are supported")
    return data.reshape(h, w), (x, y), res


def color(r: float, g: float, b: float, a: float = 1.0):
    from std_msgs.msg import ColorRGBA

    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(a))


def points(xy: Sequence[tuple[float, float]], z: float = 0.0) -> list[Point]:
    return [Point(x=float(x), y=float(y), z=float(z)) for x, y in xy]

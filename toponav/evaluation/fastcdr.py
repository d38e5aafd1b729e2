"""Direct CDR field readers for the few message types evaluation needs, at bag-reading speed.

A full rosbags deserialization builds every nested message object (~15 us for a LaserScan);
evaluation only needs a stamp, a pose, a twist or a range array, so these read the fields at
their CDR offsets (little-endian, XCDR1 as rclpy writes it: 4-byte encapsulation header, then
fields aligned to their size relative to the end of that header). Big-endian data and anything
malformed raise :class:`CdrError`; test/evaluation checks them against rosbags' deserializer.
"""

from __future__ import annotations

import struct

import numpy as np

_I = struct.Struct("<I")
_TIME = struct.Struct("<iI")
_HDR = struct.Struct("<iII")
_D7 = struct.Struct("<7d")
_D6 = struct.Struct("<6d")
_F7 = struct.Struct("<7f")


class CdrError(ValueError):
    """The bytes are not a little-endian CDR message of the expected type."""


def _check(buf: bytes) -> None:
    if len(buf) < 8 or buf[1] != 1:  # 0x0001 = CDR_LE
        raise CdrError("not little-endian CDR")


def _align(pos: int, n: int) -> int:
    return 4 + ((pos - 4 + n - 1) & ~(n - 1))


def _skip_string(buf: bytes, pos: int) -> int:
    pos = _align(pos, 4)
    (n,) = _I.unpack_from(buf, pos)
    end = pos + 4 + n
    if end > len(buf):
        raise CdrError("string runs past the end of the message")
    return end


def _header(buf: bytes) -> tuple[float, int]:
    """(stamp seconds, position after header). The frame_id length sits at the aligned offset 12."""
    if len(buf) < 16 or buf[1] != 1:
        raise CdrError("not little-endian CDR")
    sec, nsec, n = _HDR.unpack_from(buf, 4)
    end = 16 + n
    if end > len(buf):
        raise CdrError("string runs past the end of the message")
    return sec + nsec * 1e-9, end


def stamp_only(buf: bytes) -> float:
    """Header stamp (s) of any message starting with std_msgs/Header; also rosgraph_msgs/Clock."""
    _check(buf)
    sec, nsec = _TIME.unpack_from(buf, 4)
    return sec + nsec * 1e-9


def pose_stamped(buf: bytes) -> tuple[float, float, float, float, float, float, float, float]:
    """geometry_msgs/PoseStamped -> (t, x, y, z, qx, qy, qz, qw)."""
    t, pos = _header(buf)
    try:
        return (t, *_D7.unpack_from(buf, 4 + ((pos - 4 + 7) & ~7)))
    except struct.error as exc:
        raise CdrError(str(exc)) from None


def pose_with_covariance_stamped(buf: bytes) -> tuple[float, float, float, float, float, float, float, float]:
    """geometry_msgs/PoseWithCovarianceStamped -> (t, x, y, z, qx, qy, qz, qw), the covariance checked for length
    but not returned. The pose sits where PoseStamped has it (the covariance follows it)."""
    out = pose_stamped(buf)
    _, pos = _header(buf)
    if 4 + ((pos - 4 + 7) & ~7) + (7 + 36) * 8 > len(buf):
        raise CdrError("covariance runs past the end of the message")
    return out


def odometry(buf: bytes) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    """nav_msgs/Odometry -> (t, (x, y, z, qx, qy, qz, qw), (vx, vy, vz, wx, wy, wz))."""
    t, pos = _header(buf)
    pos = _skip_string(buf, pos)  # child_frame_id
    pos = _align(pos, 8)
    try:
        pose = _D7.unpack_from(buf, pos)
        twist = _D6.unpack_from(buf, pos + 7 * 8 + 36 * 8)
    except struct.error as exc:
        raise CdrError(str(exc)) from None
    return t, pose, twist


def twist(buf: bytes) -> tuple[float, float, float, float, float, float]:
    """geometry_msgs/Twist -> (vx, vy, vz, wx, wy, wz)."""
    _check(buf)
    try:
        return _D6.unpack_from(buf, 4)
    except struct.error as exc:
        raise CdrError(str(exc)) from None


def string(buf: bytes) -> str:
    """std_msgs/String -> str."""
    _check(buf)
    (n,) = _I.unpack_from(buf, 4)
    if 8 + n > len(buf) or n == 0:
        raise CdrError("bad string length")
    return buf[8 : 8 + n - 1].decode("utf-8", errors="replace")


def laser_scan(buf: bytes) -> tuple[float, float, float, float, float, np.ndarray]:
    """sensor_msgs/LaserScan -> (t, angle_min, angle_increment, range_min, range_max, ranges float32 view)."""
    t, pos = _header(buf)
    pos = _align(pos, 4)
    try:
        amin, _amax, ainc, _ti, _st, rmin, rmax = _F7.unpack_from(buf, pos)
        (n,) = _I.unpack_from(buf, pos + 28)
    except struct.error as exc:
        raise CdrError(str(exc)) from None
    start = pos + 32
    if start + 4 * n > len(buf):
        raise CdrError("ranges run past the end of the message")
    return t, amin, ainc, rmin, rmax, np.frombuffer(buf, dtype="<f4", count=n, offset=start)

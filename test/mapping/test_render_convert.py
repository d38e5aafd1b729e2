"""``toponav map show`` end to end, and the message conversions the node relies on (no running graph)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nav_msgs.msg import Odometry
from sensor_msgs.msg import LaserScan, PointCloud2, PointField

from toponav.cli import main as cli_main
from toponav.mapping.geojson import save_geojson
from toponav.ros_nodes.convert import (
    ConversionError,
    grid_to_occupancy_msg,
    laserscan_to_arrays,
    make_pose,
    occupancy_msg_to_grid,
    odometry_to_pose,
    pointcloud2_to_xyz,
    pose_to_xyyaw,
)


def test_map_show_writes_a_png(mapping_helpers, tmp_path, capsys):
    h = mapping_helpers
    tm, _ = h.drive(h.corridor_world(), h.polyline([(1.0, 1.5), (6.0, 1.5)]))
    graph = save_geojson(tm, tmp_path / "g.geojson")
    assert cli_main(["map", "show", str(graph), "--labels"]) == 0
    png = tmp_path / "g.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out
    (tmp_path / "bad.geojson").write_text("[]")
    assert cli_main(["map", "show", str(tmp_path / "bad.geojson")]) == 1
    assert "bad.geojson" in capsys.readouterr().err


def _scan(n: int, amin: float, amax: float, inc: float) -> LaserScan:
    msg = LaserScan()
    msg.angle_min, msg.angle_max, msg.angle_increment = amin, amax, inc
    msg.ranges = [1.0] * n
    return msg


def test_laserscan_angles_follow_the_message_and_repair_or_refuse():
    r, a, warn = laserscan_to_arrays(_scan(4, -1.0, 0.5, 0.5))
    np.testing.assert_allclose(a, [-1.0, -0.5, 0.0, 0.5])
    assert not warn and r.shape == (4,)
    # zero increment but a usable span: derived, with a warning
    _, a, warn = laserscan_to_arrays(_scan(5, 0.0, 1.0, 0.0))
    np.testing.assert_allclose(a, [0, 0.25, 0.5, 0.75, 1.0])
    assert warn and "derived" in warn[0]
    # angle_max disagreeing with the count: the increment wins, reported
    _, a, warn = laserscan_to_arrays(_scan(4, 0.0, 3.0, 0.1))
    np.testing.assert_allclose(a[-1], 0.3)
    assert warn and "disagrees" in warn[0]
    for bad in (_scan(3, float("nan"), 1.0, 0.1), _scan(3, 0.0, 0.0, 0.0), _scan(0, 0.0, 1.0, 0.1),
                _scan(3, 0.0, float("inf"), float("nan"))):
        with pytest.raises(ConversionError):
            laserscan_to_arrays(bad)


def test_odometry_and_pose_helpers():
    msg = Odometry()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 3, 500_000_000
    msg.pose.pose = make_pose(1.0, -2.0, 2.5)
    x, y, yaw, t = odometry_to_pose(msg)
    assert (x, y, t) == (1.0, -2.0, 3.5) and yaw == pytest.approx(2.5)
    assert pose_to_xyyaw(msg.pose.pose)[2] == pytest.approx(2.5)
    msg.pose.pose.orientation.w = 0.0
    msg.pose.pose.orientation.z = 0.0
    with pytest.raises(ConversionError, match="zero quaternion"):
        odometry_to_pose(msg)
    msg.pose.pose = make_pose(math.nan, 0.0, 0.0)
    with pytest.raises(ConversionError, match="non-finite"):
        odometry_to_pose(msg)


def test_pointcloud2_round_trip_drops_non_finite_points():
    pts = np.array([[1.0, 2.0, 3.0], [np.nan, 0.0, 0.0], [-1.0, 0.5, 0.25]], dtype=np.float32)
    msg = PointCloud2()
    msg.height, msg.width = 1, len(pts)
    msg.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, n in enumerate("xyz")]
    msg.point_step, msg.row_step = 16, 16 * len(pts)
    padded = np.zeros((len(pts), 4), dtype=np.float32)
    padded[:, :3] = pts
    msg.data = padded.tobytes()
    out = pointcloud2_to_xyz(msg)
    np.testing.assert_allclose(out, pts[[0, 2]])
    msg.fields = msg.fields[:2]
    with pytest.raises(ConversionError, match="x/y/z"):
        pointcloud2_to_xyz(msg)


def test_occupancy_grid_message_layout():
    vals = np.array([[-1, 0], [100, 0], [0, 0]], dtype=np.int8)
    msg = grid_to_occupancy_msg(vals, 0.1, (-1.0, 2.0), "odom")
    assert (msg.info.width, msg.info.height) == (2, 3)
    assert list(msg.data) == [-1, 0, 100, 0, 0, 0]
    assert msg.info.origin.position.x == -1.0 and msg.header.frame_id == "odom"


def test_occupancy_grid_message_round_trip_and_refusals():
    vals = np.array([[-1, 0], [100, 0], [0, 0]], dtype=np.int8)
    back, origin, res = occupancy_msg_to_grid(grid_to_occupancy_msg(vals, 0.1, (-1.0, 2.0), "odom"))
    assert np.array_equal(back, vals) and origin == (-1.0, 2.0) and res == pytest.approx(0.1)
    msg = grid_to_occupancy_msg(vals, 0.1, (0.0, 0.0), "odom")
    msg.info.width = 3
    with pytest.raises(ConversionError, match="6 cells for 3 x 3"):
        occupancy_msg_to_grid(msg)
    msg = grid_to_occupancy_msg(vals, 0.1, (0.0, 0.0), "odom")
    msg.info.resolution = float("nan")
    with pytest.raises(ConversionError, match="resolution"):
        occupancy_msg_to_grid(msg)
    msg = grid_to_occupancy_msg(vals, 0.1, (0.0, 0.0), "odom")
    msg.info.origin = make_pose(0.0, 0.0, 0.5)
    with pytest.raises(ConversionError, match="rotated"):
        occupancy_msg_to_grid(msg)

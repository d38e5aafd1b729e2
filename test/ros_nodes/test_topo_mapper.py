"""The topo_mapper node as a real process: topics, bad input, time jumps, save/load services."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseWithCovarianceStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from toponav.mapping.raycast import cast_scan
from toponav.ros_nodes.common import LATCHED_QOS, SENSOR_QOS
from toponav.ros_nodes.convert import make_pose, sec_to_stamp
from toponav.ros_nodes.probe import Probe
from toponav.testing import NodeProcess, wait_for

pytestmark = [pytest.mark.system]


def _scan(ranges: np.ndarray, t: float, angle_min: float = -math.pi, inc: float | None = None) -> LaserScan:
    msg = LaserScan()
    msg.header.frame_id = "base_scan"
    msg.header.stamp = sec_to_stamp(t)
    n = len(ranges)
    msg.angle_min = angle_min
    msg.angle_increment = 2 * math.pi / max(n, 1) if inc is None else inc
    msg.angle_max = angle_min + (n - 1) * msg.angle_increment
    msg.range_min, msg.range_max = 0.05, 8.0
    msg.ranges = [float(r) for r in ranges]
    return msg


def _odom(x: float, y: float, yaw: float, t: float) -> Odometry:
    msg = Odometry()
    msg.header.frame_id = "odom"
    msg.child_frame_id = "base_link"
    msg.header.stamp = sec_to_stamp(t)
    msg.pose.pose = make_pose(x, y, yaw)
    return msg


def _graphs(probe: Probe) -> list[dict]:
    return [json.loads(m.data) for m in probe.all("/topo_graph")]


def _settle(probe: Probe, quiet: float = 1.0, timeout: float = 15.0) -> None:
    """Wait until /topo_graph has been quiet for ``quiet`` s (the node caught up with its input)."""
    deadline = time.monotonic() + timeout
    count, since = probe.count("/topo_graph"), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if probe.count("/topo_graph") != count:
            count, since = probe.count("/topo_graph"), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def _call(probe: Probe, name: str, node: NodeProcess, timeout: float = 10.0) -> Trigger.Response:
    client = probe.node.create_client(Trigger, name)
    assert client.wait_for_service(timeout_sec=timeout), f"service {name} not available"
    future = client.call_async(Trigger.Request())
    assert wait_for(future.done, timeout), f"service {name} did not answer\n{node.output()}"
    return future.result()


def test_node_maps_synthetic_drive_survives_bad_input_and_saves(domain_id, mapping_helpers, tmp_path):
    h = mapping_helpers
    world = h.corridor_world()
    angles = -math.pi + 2 * math.pi / 360 * np.arange(360)
    graph_file = tmp_path / "graph.geojson"
    params = {"publish_period": 0.0, "map_period": 0.0, "graph_path": str(graph_file)}
    with NodeProcess("toponav.ros_nodes.topo_mapper", domain_id, params=params) as node, Probe(domain_id) as probe:
        probe.subscribe("/topo_graph", String, LATCHED_QOS)
        probe.subscribe("/topo_graph/markers", MarkerArray, LATCHED_QOS)
        probe.subscribe("/map", OccupancyGrid, LATCHED_QOS)
        probe.subscribe("/pose", PoseWithCovarianceStamped)  # default QoS: what ros2 topic echo asks for
        assert probe.wait("/topo_graph", 1, timeout=20.0), node.output()
        first = _graphs(probe)[0]
        assert first["schema_version"] == 1 and first["nodes"] == []
        probe.publish("/scan", _scan(np.full(360, 5.0), 0.0), SENSOR_QOS)
        probe.publish("/odom", _odom(0.0, 0.0, 0.0, 0.0), SENSOR_QOS)
        assert probe.wait_for_subscribers("/scan", 1, 10.0) and probe.wait_for_subscribers("/odom", 1, 10.0)

        t = 1.0
        # the drive, then three scans standing at its end (a scan that overtakes its odometry is held for it:
        # test_node_pairs_each_scan_with_the_odometry_of_its_stamp)
        drive = h.polyline([(1.0, 1.5), (9.0, 1.5)], step=0.2)
        for pose in [*drive, *[drive[-1]] * 3]:
            probe.publish("/odom", _odom(*pose, t), SENSOR_QOS)
            time.sleep(0.005)
            probe.publish("/scan", _scan(cast_scan(world, pose, angles, 8.0), t), SENSOR_QOS)
            time.sleep(0.02)
            t += 0.1
        t_last = t - 0.1
        assert wait_for(lambda: len([n for n in _graphs(probe)[-1]["nodes"] if n["kind"] == "place"]) >= 5, 10.0), \
            node.output()
        g = _graphs(probe)[-1]
        places = [n for n in g["nodes"] if n["kind"] == "place"]
        assert max(p["x"] for p in places) > 7.0 and g["explored_area"] > 20.0
        assert g["current_node"] in {p["id"] for p in places}
        assert probe.wait("/map", 1, 5.0) and probe.wait("/topo_graph/markers", 1, 5.0)
        grid = probe.last("/map")
        assert grid.header.frame_id == "map" and grid.info.width * grid.info.height == len(grid.data)
        # the corrected pose of every scan, in map, on the scan's stamp (the odometry here is exact)
        def last_pose():  # the corrected pose of the last scan (on its stamp), once it has arrived
            done = [m for m in probe.all("/pose")
                    if m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec >= t_last - 1e-6]
            return done[-1] if done else None

        assert wait_for(lambda: last_pose() is not None, 10.0), node.output()
        assert len(probe.all("/pose")) >= 20
        last = last_pose()
        assert last.header.frame_id == "map" and last.pose.covariance[0] > 0.0
        assert abs(last.pose.pose.position.x - 9.0) < 0.1 and abs(last.pose.pose.position.y - 1.5) < 0.1, \
            (last.pose.pose.position, node.output())
        assert {0, 100, -1} <= set(grid.data)
        ns = {m.ns for m in probe.last("/topo_graph/markers").markers}
        assert {"places", "edges_travel"} <= ns

        # bad input: NaN/inf/empty scans, broken angle fields, NaN odometry -> logged, node alive, map intact
        _settle(probe)
        n_before = _graphs(probe)[-1]["num_places"]
        pose = (9.0, 1.5, 0.0)
        probe.publish("/odom", _odom(*pose, t), SENSOR_QOS)
        bad = [_scan(np.full(360, np.nan), t), _scan(np.array([]), t), _scan(np.full(360, np.inf), t),
               _scan(np.full(360, 3.0), t, inc=0.0), _scan(np.full(360, 3.0), t, angle_min=float("nan"))]
        bad[3].angle_max = bad[3].angle_min  # zero increment and no span: unusable
        for msg in bad:
            probe.publish("/scan", msg, SENSOR_QOS)
            time.sleep(0.05)
        probe.publish("/odom", _odom(float("nan"), 0.0, 0.0, t + 0.05), SENSOR_QOS)
        _settle(probe)
        assert node.alive(), node.output()
        g = _graphs(probe)[-1]
        assert len([n for n in g["nodes"] if n["kind"] == "place"]) == n_before
        out = node.output()
        assert "no usable beams" in out and "/scan unusable" in out and "/odom ignored" in out

        # save, then a time jump back (sim reset) clears the map, then load restores it
        resp = _call(probe, "/topo_mapper/save", node)
        assert resp.success, resp.message
        assert graph_file.exists()
        probe.publish("/odom", _odom(1.0, 1.5, 0.0, 0.5), SENSOR_QOS)
        time.sleep(0.05)
        probe.publish("/scan", _scan(cast_scan(world, (1.0, 1.5, 0.0), angles, 8.0), 0.5), SENSOR_QOS)
        assert wait_for(lambda: _graphs(probe)[-1]["num_places"] == 1, 10.0), node.output()
        assert "time jumped back" in node.output()
        resp = _call(probe, "/topo_mapper/load", node)
        assert resp.success and "relocalising" in resp.message, resp.message
        assert wait_for(lambda: len([n for n in _graphs(probe)[-1]["nodes"] if n["kind"] == "place"]) == n_before,
                        10.0)
        # the loaded map's frame is found again from the next scan (odometry now reads 0.5 m off the truth)
        probe.publish("/odom", _odom(1.5, 1.5, 0.0, 0.6), SENSOR_QOS)
        time.sleep(0.05)
        probe.publish("/scan", _scan(cast_scan(world, (2.0, 1.5, 0.0), angles, 8.0), 0.6), SENSOR_QOS)
        assert wait_for(lambda: "relocalised in the saved map" in node.output(), 10.0), node.output()
        graph_file.write_text("{corrupt")
        resp = _call(probe, "/topo_mapper/load", node)
        assert not resp.success and "not valid JSON" in resp.message
        assert node.alive()
    assert node.proc.returncode == 0, node.log_path.read_text()


def test_node_pairs_each_scan_with_the_odometry_of_its_stamp(domain_id, mapping_helpers):
    """/scan and /odom have no order between them: a scan that arrives before the odometry of its stamp is held
    until that odometry comes (not paired with the sample before), a scan between two samples gets the pose
    interpolated between them, and a held scan whose odometry never comes is dropped with a message."""
    world = mapping_helpers.corridor_world()
    angles = -math.pi + 2 * math.pi / 360 * np.arange(360)

    def scan_at(x: float, t: float) -> LaserScan:
        return _scan(cast_scan(world, (x, 1.5, 0.0), angles, 8.0), t)

    def pose_at(t: float):
        got = [m for m in probe.all("/pose") if abs(m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec - t) < 1e-6]
        return got[-1].pose.pose.position.x if got else None

    with NodeProcess("toponav.ros_nodes.topo_mapper", domain_id) as node, Probe(domain_id) as probe:
        probe.subscribe("/pose", PoseWithCovarianceStamped)
        probe.subscribe("/topo_graph", String, LATCHED_QOS)
        assert probe.wait("/topo_graph", 1, timeout=20.0), node.output()
        probe.publish("/scan", scan_at(1.0, 0.0), SENSOR_QOS)  # no odometry near 0 s: skipped (makes the publisher)
        probe.publish("/odom", _odom(1.0, 1.5, 0.0, 1.0), SENSOR_QOS)
        assert probe.wait_for_subscribers("/scan", 1, 10.0) and probe.wait_for_subscribers("/odom", 1, 10.0)
        for _ in range(3):  # the odometry at 1.0 s is held by the node before the scans below
            probe.publish("/odom", _odom(1.0, 1.5, 0.0, 1.0), SENSOR_QOS)
            time.sleep(0.2)
        probe.publish("/scan", scan_at(1.0, 1.0), SENSOR_QOS)  # the first scan: the map starts here
        assert wait_for(lambda: pose_at(1.0) is not None, 10.0), node.output()
        # a scan 0.1 s later whose odometry has not arrived yet: held, not paired with the 1.0 s odometry
        probe.publish("/scan", scan_at(1.5, 1.1), SENSOR_QOS)
        time.sleep(1.0)
        assert pose_at(1.1) is None, "the scan was integrated before the odometry of its stamp"
        probe.publish("/odom", _odom(1.5, 1.5, 0.0, 1.1), SENSOR_QOS)
        assert wait_for(lambda: pose_at(1.1) is not None, 10.0), node.output()
        assert abs(pose_at(1.1) - 1.5) < 0.03
        # a scan between two odometry samples: the pose interpolated between them (1.5 m at 1.1 s, 2.0 m at 1.3 s)
        probe.publish("/odom", _odom(2.0, 1.5, 0.0, 1.3), SENSOR_QOS)
        time.sleep(0.2)
        probe.publish("/scan", scan_at(1.75, 1.2), SENSOR_QOS)
        assert wait_for(lambda: pose_at(1.2) is not None, 10.0), node.output()
        assert abs(pose_at(1.2) - 1.75) < 0.03
        # odometry stops: a held scan is dropped once scans max_odom_age newer have come, never paired with the
        # odometry of another time (1.4 s goes when the 1.7 s scan comes; 1.5 s is still held and its odometry,
        # when it comes, settles it alone: 1.4 s, had it been held, would now be interpolated and published)
        probe.publish("/scan", scan_at(2.0, 1.4), SENSOR_QOS)
        probe.publish("/scan", scan_at(2.0, 1.5), SENSOR_QOS)
        probe.publish("/scan", scan_at(2.0, 1.7), SENSOR_QOS)
        time.sleep(0.5)
        assert pose_at(1.4) is None and pose_at(1.5) is None
        probe.publish("/odom", _odom(2.0, 1.5, 0.0, 1.5), SENSOR_QOS)
        assert wait_for(lambda: pose_at(1.5) is not None, 10.0), node.output()
        time.sleep(0.3)
        assert pose_at(1.4) is None
        # a scan held when time jumps back (sim reset) belongs to the previous run: dropped, never integrated
        probe.publish("/odom", _odom(2.0, 1.5, 0.0, 0.2), SENSOR_QOS)
        probe.publish("/odom", _odom(2.0, 1.5, 0.0, 1.7), SENSOR_QOS)
        time.sleep(0.5)
        assert pose_at(1.7) is None
        assert node.alive()
    assert node.proc.returncode == 0, node.log_path.read_text()


def test_node_refuses_bad_parameters(domain_id):
    with NodeProcess("toponav.ros_nodes.topo_mapper", domain_id, params={"grid.resolution": -1.0}) as node:
        assert wait_for(lambda: not node.alive(), 20.0)
    assert node.proc.returncode == 2
    assert "grid.resolution" in node.log_path.read_text()


def test_time_stamp_helpers_round_trip():
    for t in (0.0, 1.5, 12345.999999999):
        stamp = sec_to_stamp(t)
        assert isinstance(stamp, Time)
        assert stamp.sec + stamp.nanosec * 1e-9 == pytest.approx(t, abs=1e-9)

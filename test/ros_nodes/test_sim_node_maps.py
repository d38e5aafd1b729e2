"""System test: the real sim_node process on a map_server map (a ``map.yaml`` path as its ``world``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toponav.testing import NodeProcess
from toponav.worlds.floorplan import FloorPlan

rclpy = pytest.importorskip("rclpy")

from sensor_msgs.msg import LaserScan  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from toponav.ros_nodes.common import LATCHED_QOS, SENSOR_QOS  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402

pytestmark = pytest.mark.system


def test_sim_node_serves_a_map_world_and_its_scans_see_the_walls(domain_id: int, tmp_path) -> None:
    # a 6 x 4 m room (walls 0.1 m inside the 0.05 m map) with the robot at its centre facing +x
    fp = FloorPlan(6.0, 4.0, 0.05)
    fp.floor(0.1, 0.1, 5.9, 3.9)
    path = fp.save(tmp_path)
    spec = f"{path}?start=3,2,0&goal=5,3"
    params = {"world": spec, "real_time_factor": 4.0, "lidar.beams": 8, "lidar.range_max": 8.0,
              "lidar.noise_std": 0.0, "lidar.noise_range": 0.0}  # exact wall distances
    node = NodeProcess("toponav.ros_nodes.sim_node", domain_id, params=params)
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/scan", LaserScan, SENSOR_QOS)
            probe.subscribe("/world_info", String, LATCHED_QOS)
            assert probe.wait("/scan", 2, timeout=60), node.output()
            assert probe.wait("/world_info", 1, timeout=10)
            info = json.loads(probe.last("/world_info").data)
            assert info["name"] == tmp_path.name
            scan = probe.last("/scan")
            ranges = np.asarray(scan.ranges)
            angles = scan.angle_min + scan.angle_increment * np.arange(len(ranges))
            ahead = int(np.argmin(np.abs(angles)))
            left = int(np.argmin(np.abs(angles - math.pi / 2)))
            assert ranges[ahead] == pytest.approx(2.9, abs=0.05)  # free to x = 5.9
            assert ranges[left] == pytest.approx(1.9, abs=0.05)  # free to y = 3.9
    finally:
        assert node.stop() == 0

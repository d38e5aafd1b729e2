"""System test: the real sim_node (PyBullet) and topo_mapper as processes; a Probe drives the robot.

The graph on /topo_graph must grow while the robot explores, its places must cover the path the robot
drove (in the mapper's odometry frame, with the sim's odometry drift on), and its explored area must
grow and stay within the world's free area.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, Twist
from nav_msgs.msg import OccupancyGrid, Odometry
from sensor_msgs.msg import LaserScan
from std_msgs.msg import String
from std_srvs.srv import Trigger

from toponav.mapping.geojson import load_geojson
from toponav.mapping.render import render
from toponav.ros_nodes.common import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from toponav.ros_nodes.probe import Probe
from toponav.testing import NodeProcess, wait_for
from toponav.worlds.model import World

pytestmark = [pytest.mark.system, pytest.mark.slow]

# 12 x 8 m room, start bottom-left facing +x; pillars and a wall stub to steer around
ROOM = World(name="mapper_room", family="test", seed=0, bounds=(0.0, 0.0, 12.0, 8.0), start=(1.0, 1.5, 0.0),
             goal=(11.0, 7.0), circles=((4.0, 4.5, 0.5), (8.0, 2.0, 0.4)), boxes=((8.0, 6.5, 0.2, 1.5, 0.0),))


def _wander(scan: LaserScan | None) -> Twist:
    """Reactive explorer: drive on while the front is clear, else turn towards the more open side."""
    cmd = Twist()
    if scan is None:
        return cmd
    r = np.nan_to_num(np.asarray(scan.ranges, dtype=float), nan=0.0, posinf=scan.range_max)
    a = scan.angle_min + scan.angle_increment * np.arange(len(r))
    front = r[np.abs(a) < 0.5]
    left, right = r[(a > 0.3) & (a < 1.6)], r[(a < -0.3) & (a > -1.6)]
    if front.size and front.min() > 1.0:
        cmd.linear.x = 0.6
        cmd.angular.z = 0.3 * float(np.sign(left.mean() - right.mean())) if left.size and right.size else 0.0
    else:
        cmd.angular.z = 1.0 if (left.mean() if left.size else 0) >= (right.mean() if right.size else 0) else -1.0
    return cmd


def test_graph_grows_and_covers_the_explored_area(domain_id, tmp_path):
    world_file = tmp_path / "room.json"
    ROOM.save(world_file)
    sim_params = {"world": str(world_file), "real_time_factor": 1.0, "scan_rate": 10.0, "odom_rate": 20.0,
                  "robot.odom_drift_v": 0.02, "robot.odom_drift_w": 0.02}
    graph_file = tmp_path / "live.geojson"
    mapper_params = {"use_sim_time": True, "publish_period": 0.5, "map_period": 1.0, "graph_path": str(graph_file)}
    sim = NodeProcess("toponav.ros_nodes.sim_node", domain_id, params=sim_params)
    mapper = NodeProcess("toponav.ros_nodes.topo_mapper", domain_id, params=mapper_params)
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/topo_graph", String, LATCHED_QOS)
            probe.subscribe("/map", OccupancyGrid, LATCHED_QOS)
            probe.subscribe("/scan", LaserScan, SENSOR_QOS)
            probe.subscribe("/odom", Odometry, SENSOR_QOS)
            probe.subscribe("/ground_truth/pose", PoseStamped, SENSOR_QOS)
            assert probe.wait("/scan", 1, timeout=40.0), sim.output()
            assert probe.wait("/topo_graph", 1, timeout=40.0), mapper.output()
            assert wait_for(lambda: json.loads(probe.last("/topo_graph").data)["num_places"] >= 1, 20.0), \
                mapper.output()
            t_end = time.monotonic() + 25.0
            while time.monotonic() < t_end and sim.alive() and mapper.alive():
                probe.publish("/cmd_vel", _wander(probe.last("/scan")), COMMAND_QOS)
                time.sleep(0.1)
            probe.publish("/cmd_vel", Twist(), COMMAND_QOS)
            time.sleep(1.5)  # last throttled graph
            assert sim.alive(), sim.output()
            assert mapper.alive(), mapper.output()

            graphs = [json.loads(m.data) for m in probe.all("/topo_graph")]
            places_over_time = [g["num_places"] for g in graphs]
            final = graphs[-1]
            assert final["schema_version"] == 1
            assert places_over_time[-1] >= 4, (places_over_time, mapper.output())
            assert max(places_over_time) == places_over_time[-1]  # grows, never cleared
            areas = [g["explored_area"] for g in graphs]
            free_area = float((ROOM.occupancy(0.1)[0] == 0).sum()) * 0.01
            assert areas[-1] > areas[0] and areas[-1] > 0.5 * free_area, (areas[0], areas[-1], free_area)
            assert areas[-1] <= 1.15 * free_area  # drift smears a little, but no phantom space

            # the places cover the driven path: they are in map, the corrected frame, so the true path (the
            # drifting odometry is the mapper's input, not its frame)
            places = np.array([(n["x"], n["y"]) for n in final["nodes"] if n["kind"] == "place"])
            truth = probe.all("/ground_truth/pose")
            path = np.array([(o.pose.position.x, o.pose.position.y) for o in truth])
            d = np.hypot(path[:, None, 0] - places[None, :, 0], path[:, None, 1] - places[None, :, 1]).min(axis=1)
            assert np.percentile(d, 95) < 2.0, f"path poorly covered: 95% within {np.percentile(d, 95):.2f} m"
            travelled = float(np.hypot(*np.diff(path, axis=0).T).sum())
            assert travelled > 4.0, f"the robot barely moved ({travelled:.1f} m)"
            # the place graph is connected and the planner queries work on the published JSON
            from toponav.mapping import TopoMap

            tm = TopoMap.from_json(final)
            ids = tm.place_nodes()
            costs = tm.costs_from(final["current_node"])
            assert all(math.isfinite(costs.get(i, math.inf)) for i in ids), "place graph is not connected"
            assert probe.wait("/map", 1, 5.0)
            # the live graph saves through the service and renders (toponav map show)
            client = probe.node.create_client(Trigger, "/topo_mapper/save")
            assert client.wait_for_service(timeout_sec=10.0)
            future = client.call_async(Trigger.Request())
            assert wait_for(future.done, 10.0) and future.result().success, mapper.output()
            png = render(load_geojson(graph_file), tmp_path / "live.png")
            assert png.stat().st_size > 10_000
            assert "Traceback" not in mapper.output()
    finally:
        mapper.stop()
        sim.stop()
    assert mapper.proc.returncode == 0, mapper.log_path.read_text()

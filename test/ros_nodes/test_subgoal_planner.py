"""System test: a real subgoal_planner process fed /topo_graph, /odom and /goal_pose from a Probe."""

from __future__ import annotations

import json
import math
import time

import pytest

from toponav.testing import NodeProcess, wait_for

pytestmark = [pytest.mark.system, pytest.mark.slow]


def _graph_json() -> str:
    # a(0,0) - b(2,0) - c(4,0) - frontier f(6,0); side frontier s(2,3) off b; a place near the goal d(4,4)
    nodes = [{"id": "a", "x": 0, "y": 0, "visits": 3}, {"id": "b", "x": 2, "y": 0, "visits": 1},
             {"id": "c", "x": 4, "y": 0, "visits": 1},
             {"id": "f", "x": 6, "y": 0, "frontier": True, "frontier_size": 3.0},
             {"id": "s", "x": 2, "y": 3, "frontier": True, "frontier_size": 0.5},
             {"id": "d", "x": 4, "y": 4, "visits": 1}]
    edges = [{"source": "a", "target": "b", "cost": 2.0}, {"source": "b", "target": "c", "cost": 2.0},
             {"source": "c", "target": "f", "cost": 2.0}, {"source": "b", "target": "s", "cost": 3.0},
             {"source": "c", "target": "d", "cost": 4.0}]
    return json.dumps({"schema_version": 1, "nodes": nodes, "edges": edges, "explored_area": 42.5})


def _status(msg) -> dict[str, str]:
    return {kv.key: kv.value for kv in msg.status[0].values}


def test_node_plans_subgoals_and_serves(domain_id: int, tmp_path) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Odometry, Path
    from std_msgs.msg import String
    from std_srvs.srv import SetBool, Trigger

    from toponav.ros_nodes.common import EVENT_QOS, LATCHED_QOS, SENSOR_QOS
    from toponav.ros_nodes.probe import Probe

    params = {"rate": 10.0, "planner.mode": "learned", "planner.checkpoint": str(tmp_path / "missing.pt")}
    with NodeProcess("toponav.ros_nodes.subgoal_planner", domain_id, params=params) as node, Probe(domain_id) as probe:
        probe.subscribe("/subgoal", PoseStamped)
        probe.subscribe("/plan", Path, LATCHED_QOS)
        probe.subscribe("/toponav/status", DiagnosticArray, EVENT_QOS)
        odom = Odometry()
        odom.header.frame_id = "odom"
        odom.pose.pose.orientation.w = 1.0

        def pump(x: float, y: float, seconds: float) -> None:
            end = time.monotonic() + seconds
            odom.pose.pose.position.x, odom.pose.pose.position.y = x, y
            while time.monotonic() < end:
                probe.publish("/odom", odom, SENSOR_QOS)
                time.sleep(0.05)

        # Status says it waits for odometry before anything arrives.
        assert probe.wait("/toponav/status", 1, timeout=30.0), node.output()
        assert "waiting for odometry" in probe.last("/toponav/status").status[0].message
        probe.publish("/topo_graph", String(data="{broken json"), LATCHED_QOS)
        assert wait_for(lambda: "ignoring malformed /topo_graph" in node.output(), 10.0), node.output()
        probe.publish("/topo_graph", String(data=_graph_json()), LATCHED_QOS)
        pump(float("nan"), 0.0, 0.3)
        assert wait_for(lambda: "non-finite pose" in node.output(), 5.0), node.output()
        pump(0.0, 0.0, 1.5)
        assert wait_for(lambda: probe.count("/subgoal") > 0, 10.0), node.output()
        sub = probe.last("/subgoal")
        assert sub.header.frame_id == "map"
        assert (sub.pose.position.x, sub.pose.position.y) == pytest.approx((2.0, 0.0))  # first leg toward f
        plan = probe.last("/plan")
        assert [(p.pose.position.x, p.pose.position.y) for p in plan.poses][-1] == pytest.approx((6.0, 0.0))
        st = _status(probe.last("/toponav/status"))
        assert st["state"] == "exploring" and st["mode"] == "heuristic (fallback)"
        assert st["graph_nodes"] == "6" and st["frontiers"] == "2" and st["coverage_m2"] == "42.50"
        out = node.output()
        assert "falling back to the heuristic scorer" in out and "does not exist" in out

        # A goal next to place d: navigating along the graph a-b-c-d, then to the goal.
        goal = PoseStamped()
        goal.header.frame_id = "map"
        goal.pose.position.x, goal.pose.position.y = 4.5, 4.5
        goal.pose.orientation.w = 1.0
        probe.publish("/goal_pose", goal)
        pump(0.0, 0.0, 1.0)
        assert wait_for(lambda: _status(probe.last("/toponav/status"))["state"] == "navigating", 5.0), node.output()
        pts = [(p.pose.position.x, p.pose.position.y) for p in probe.last("/plan").poses]
        assert pts[-1] == pytest.approx((4.5, 4.5)) and (4.0, 4.0) in [tuple(map(float, q)) for q in pts]
        pump(4.4, 4.4, 1.0)
        assert wait_for(lambda: _status(probe.last("/toponav/status"))["state"] == "done", 5.0)

        # Services: stop exploring, return home.
        home = probe.node.create_client(Trigger, "/subgoal_planner/return_home")
        explore = probe.node.create_client(SetBool, "/subgoal_planner/explore")
        assert home.wait_for_service(timeout_sec=10.0) and explore.wait_for_service(timeout_sec=10.0)
        fut = explore.call_async(SetBool.Request(data=False))
        assert wait_for(fut.done, 5.0) and fut.result().success
        fut = home.call_async(Trigger.Request())
        assert wait_for(fut.done, 5.0) and fut.result().success
        pump(4.4, 4.4, 1.0)
        assert wait_for(lambda: _status(probe.last("/toponav/status"))["task"] == "return_home", 5.0)
        pts = [(p.pose.position.x, p.pose.position.y) for p in probe.last("/plan").poses]
        assert math.hypot(pts[-1][0], pts[-1][1]) < 1e-6  # home = first odometry pose (0, 0)
        assert "returning home" in node.output()
    assert node.proc.returncode == 0


def test_node_refuses_bad_parameters(domain_id: int) -> None:
    node = NodeProcess("toponav.ros_nodes.subgoal_planner", domain_id, params={"planner.mode": "psychic"})
    try:
        assert wait_for(lambda: not node.alive(), 30.0), node.output()
    finally:
        code = node.stop()
    out = node.log_path.read_text()
    assert code == 2, out
    assert "planner.mode" in out and "refused to start" in out

"""Live stack: sim_node + topo_mapper + subgoal_planner as real processes; the planner works on the real
mapper's /topo_graph over DDS and publishes a frontier sub-goal in the graph's frame."""

from __future__ import annotations

import json

import pytest

from toponav.testing import NodeProcess, wait_for

pytestmark = [pytest.mark.system, pytest.mark.slow]


def test_planner_on_live_mapper_graph(domain_id: int) -> None:
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String

    from toponav.ros_nodes.common import EVENT_QOS, LATCHED_QOS
    from toponav.ros_nodes.probe import Probe

    with NodeProcess("toponav.ros_nodes.sim_node", domain_id, params={"world": "maze", "seed": 1000001}) as sim, \
            NodeProcess("toponav.ros_nodes.topo_mapper", domain_id) as mapper, \
            NodeProcess("toponav.ros_nodes.subgoal_planner", domain_id, params={"planner.mode": "learned"}) as node, \
            Probe(domain_id) as probe:
        probe.subscribe("/subgoal", PoseStamped)
        probe.subscribe("/toponav/status", DiagnosticArray, EVENT_QOS)
        probe.subscribe("/topo_graph", String, LATCHED_QOS)
        ok = wait_for(lambda: probe.count("/subgoal") > 0 and probe.count("/topo_graph") > 0, 90.0)
        assert ok, f"sim:\n{sim.output()[-2000:]}\nmapper:\n{mapper.output()[-2000:]}\nplanner:\n{node.output()}"
        graph = json.loads(probe.last("/topo_graph").data)
        frontiers = {(round(n["x"], 2), round(n["y"], 2)) for n in graph["nodes"] if n["frontier"]}
        assert frontiers, graph

        def planner_status() -> dict[str, str]:
            """The planner's latest status as key -> value ({} until the first one arrives: beside CPU hogs the
            first /subgoal can come before it, and the predicate must wait, not raise)."""
            msg = probe.last("/toponav/status")
            return {} if msg is None else {kv.key: kv.value for kv in msg.status[0].values}

        assert wait_for(lambda: planner_status().get("state") in ("exploring", "navigating"), 10.0), node.output()
        status = planner_status()
        assert status["mode"] == "learned" and int(status["graph_nodes"]) >= 2
        sub = probe.last("/subgoal")
        assert sub.header.frame_id == graph["frame_id"]
        assert "learned meta-controller loaded" in node.output()

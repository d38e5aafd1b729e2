"""The /topo_graph message module: what the mapper writes is what both readers read; faults are named."""

from __future__ import annotations

import json

import pytest

from toponav import topo_graph
from toponav.mapping import MapError, TopoMap
from toponav.planning.graph import GraphError, PlaceGraph


def _message() -> dict:
    nodes = [topo_graph.node_item(0, 0.0, 0.0, yaw=0.5, kind=topo_graph.PLACE, visits=3, frontier=False,
                                  first_seen=1.0, last_seen=2.0),
             topo_graph.node_item(1, 2.0, 0.0, kind=topo_graph.FRONTIER, visits=0, frontier=True, first_seen=2.0,
                                  last_seen=2.0, size=20, frontier_size=2.0)]
    edges = [topo_graph.edge_item(0, 1, length=2.5, cost=2.75, kind=topo_graph.FRONTIER, traversals=0,
                                  via=[[1.0, 0.5]], via_from=0)]
    return topo_graph.message({"frame_id": "odom", "stamp": 2.0, "current_node": 0}, nodes, edges)


def test_both_readers_read_what_the_writer_wrote() -> None:
    data = json.loads(json.dumps(_message()))
    tm = TopoMap.from_json(data)
    assert tm.frontier_nodes() == [1] and tm.current_node == 0 and tm.stamp == 2.0
    assert tm.graph.nodes[0]["visits"] == 3 and tm.graph.nodes[0]["last_seen"] == 2.0
    assert tm.graph.edges[0, 1]["via"] == [(1.0, 0.5)] and tm.graph.edges[0, 1]["length"] == 2.5
    g = PlaceGraph.from_json(json.dumps(data))
    assert g.nodes["1"].frontier and g.nodes["1"].frontier_size == 2.0 and g.adj["0"]["1"] == 2.75
    assert g.polyline(["1", "0"]) == [(2.0, 0.0), (1.0, 0.5), (0.0, 0.0)]
    assert PlaceGraph.from_json(g.to_json()).polyline(["1", "0"]) == g.polyline(["1", "0"])


@pytest.mark.parametrize(("change", "match"), [
    ({"schema_version": 2}, "schema_version"),
    ({"nodes": [{"x": 0, "y": 0}]}, "no id"),
    ({"edges": [{"u": 0, "v": 7, "cost": 1.0}]}, "missing node"),
    ({"nodes": "none"}, "lists"),
])
def test_faults_are_refused_by_both_readers(change: dict, match: str) -> None:
    bad = {**_message(), **change}
    with pytest.raises(MapError, match=match):
        TopoMap.from_json(bad)
    with pytest.raises(GraphError, match=match):
        PlaceGraph.from_json(bad)


def test_a_message_without_a_version_is_read_as_this_one() -> None:
    data = _message()
    del data["schema_version"]
    assert TopoMap.from_json(data).num_places == 1
    assert len(PlaceGraph.from_json(data)) == 2

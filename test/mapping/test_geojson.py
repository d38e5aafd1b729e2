"""GeoJSON save/load in the Nav2 route server layout: round trip, layout rules, corrupt files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toponav.mapping import FRONTIER, MapError, TopoMap
from toponav.mapping.geojson import from_geojson, load_geojson, save_geojson, to_geojson


@pytest.fixture
def explored(mapping_helpers):
    h = mapping_helpers
    tm, _ = h.drive(h.corridor_world(), h.polyline([(1.0, 1.5), (9.0, 1.5), (9.0, 2.2)]))
    tm, _ = h.drive(h.corridor_world(), h.polyline([(9.0, 2.2), (3.0, 1.5)]), tm=tm, t0=50.0)
    assert tm.frontier_nodes() and tm.num_places > 3
    return tm


def test_round_trip_keeps_graph_grid_and_queries(explored, tmp_path):
    tm = explored
    path = save_geojson(tm, tmp_path / "maps" / "graph.geojson")
    back = load_geojson(path)
    assert sorted(back.graph.nodes) == sorted(tm.graph.nodes)
    for n, d in tm.graph.nodes(data=True):
        b = back.graph.nodes[n]
        for key in ("x", "y", "yaw", "kind", "visits", "frontier", "first_seen", "last_seen"):
            assert b[key] == pytest.approx(d[key]) if isinstance(d[key], float) else b[key] == d[key], key
        if d.get("descriptor") is not None:
            np.testing.assert_allclose(b["descriptor"], d["descriptor"], atol=1e-5)
    assert {frozenset(e) for e in back.graph.edges} == {frozenset(e) for e in tm.graph.edges}
    for u, v, d in tm.graph.edges(data=True):
        assert back.graph.edges[u, v]["cost"] == pytest.approx(d["cost"])
        assert back.graph.edges[u, v]["kind"] == d["kind"]
    assert back.current_node == tm.current_node
    assert back.frontier_nodes() == tm.frontier_nodes()
    assert back.explored_area() == pytest.approx(tm.explored_area(), rel=1e-6)
    a, z = tm.place_nodes()[0], tm.frontier_nodes()[-1]
    assert back.shortest_path(a, z) == (tm.shortest_path(a, z)[0], pytest.approx(tm.shortest_path(a, z)[1]))
    # a loaded map keeps growing with fresh ids
    nid = back.add_place(100.0, 0.0)
    assert nid > max(tm.graph.nodes)


def test_layout_is_what_nav2_route_reads(explored):
    data = json.loads(json.dumps(to_geojson(explored)))
    assert data["type"] == "FeatureCollection"
    points = [f for f in data["features"] if f["geometry"]["type"] == "Point"]
    lines = [f for f in data["features"] if f["geometry"]["type"] == "LineString"]
    assert len(points) == explored.graph.number_of_nodes()
    assert len(lines) == 2 * explored.graph.number_of_edges()  # nav2 edges are directed
    ids = [f["properties"]["id"] for f in data["features"]]
    assert len(ids) == len(set(ids)), "ids must be unique over nodes and edges"
    assert all(isinstance(i, int) and i >= 0 for i in ids)
    node_ids = {f["properties"]["id"] for f in points}
    pairs = set()
    for f in lines:
        p = f["properties"]
        assert p["startid"] in node_ids and p["endid"] in node_ids
        assert isinstance(p["cost"], float) and p["cost"] > 0
        pairs.add((p["startid"], p["endid"]))
    assert all((e, s) in pairs for s, e in pairs)
    for f in points:
        assert f["properties"]["frame"] == "map"  # the corrected frame (localisation on by default)
        assert len(f["geometry"]["coordinates"]) == 2
        meta = f["properties"]["metadata"]
        # nav2 converts scalars, objects and arrays of scalars only
        for v in meta.values():
            assert isinstance(v, bool | int | float | str) or (isinstance(v, list) and all(
                isinstance(x, int | float) for x in v))
    assert any(f["properties"]["metadata"]["kind"] == FRONTIER for f in points)


def test_reads_a_plain_nav2_graph_without_our_extras():
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.0, 0.0]}, "properties": {"id": 0}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.0, 0.0]}, "properties": {"id": 1}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.0, 1.0]}, "properties": {"id": 2}},
        {"type": "Feature", "geometry": {"type": "MultiLineString"},
         "properties": {"id": 3, "startid": 0, "endid": 1, "cost": 10.0}},
        {"type": "Feature", "geometry": {"type": "MultiLineString"},
         "properties": {"id": 4, "startid": 1, "endid": 2, "cost": 0.0}},
    ]}
    tm = from_geojson(data)
    assert tm.num_places == 3
    path, cost = tm.shortest_path(0, 2)
    assert path == [0, 1, 2] and cost == pytest.approx(11.0)  # cost 0 = "use the length"


@pytest.mark.parametrize("text, match", [
    ("{not json", "not valid JSON"),
    ('{"type": "FeatureCollection"}', "features"),
    ('{"features": [{"geometry": {"type": "LineString"}, "properties": {"id": 1, "startid": 0, "endid": 2}}]}',
     "missing node"),
    ('{"features": [{"geometry": {"type": "Point", "coordinates": [0]}, "properties": {"id": 0}}]}', "malformed"),
    ('{"features": [{"geometry": {"type": "Point", "coordinates": [0, 1]}, "properties": {}}]}', "malformed"),
])
def test_corrupt_files_raise_map_error_naming_the_file(tmp_path, text, match):
    path = tmp_path / "bad.geojson"
    path.write_text(text)
    with pytest.raises(MapError, match=match) as err:
        load_geojson(path)
    assert "bad.geojson" in str(err.value)


def test_missing_file_raises_map_error(tmp_path):
    with pytest.raises(MapError, match="cannot read"):
        load_geojson(tmp_path / "nope.geojson")


def test_empty_map_round_trips(tmp_path):
    back = load_geojson(save_geojson(TopoMap(), tmp_path / "empty.geojson"))
    assert back.graph.number_of_nodes() == 0 and back.current_node is None
    save_geojson(TopoMap(), tmp_path / "e2.geojson")
    assert load_geojson(tmp_path / "e2.geojson").num_places == 0

"""TopoMap on scripted trajectories: node creation, localisation, revisits, edges, queries, JSON."""

from __future__ import annotations

import itertools
import json
import math

import networkx as nx
import numpy as np
import pytest

from toponav.mapping import FRONTIER, LOS, PLACE, SCHEMA_VERSION, TRAVEL, MapError, MapperConfig, TopoMap


def test_straight_drive_spaces_places_and_chains_travel_edges(mapping_helpers):
    h = mapping_helpers
    cfg = MapperConfig(node_distance=1.5)
    tm, results = h.drive(h.corridor_world(), h.polyline([(1.0, 1.5), (13.0, 1.5)]), cfg=cfg)
    places = tm.place_nodes()
    xs = sorted(tm.graph.nodes[p]["x"] for p in places)
    assert 7 <= len(places) <= 12, xs  # 12 m at 1.5 m spacing (+ novelty nodes at most a few)
    gaps = np.diff(xs)
    assert gaps.min() >= cfg.novelty_min_distance - 1e-6 and gaps.max() <= cfg.node_distance + 0.11
    # travel edges chain the places in driving order
    travel = nx.Graph([(u, v) for u, v, k in tm.graph.edges(data="kind") if k == TRAVEL])
    order = [r.node for r in results]
    seq = [n for i, n in enumerate(order) if i == 0 or n != order[i - 1]]
    assert seq == sorted(set(seq), key=seq.index)  # never went back
    assert all(travel.has_edge(a, b) for a, b in itertools.pairwise(seq))
    # every place was visited once, the current node is the last one created
    assert all(tm.graph.nodes[p]["visits"] == 1 for p in places)
    assert tm.current_node == seq[-1]
    # shortest path from first to last place follows the corridor, costs from the first place grow with x
    path, cost = tm.shortest_path(seq[0], seq[-1])
    assert path[0] == seq[0] and path[-1] == seq[-1]
    assert cost == pytest.approx(nx.shortest_path_length(tm.graph, seq[0], seq[-1], weight="cost"))
    costs = tm.costs_from(seq[0])
    assert costs[seq[0]] == 0.0
    assert [costs[n] for n in seq] == sorted(costs[n] for n in seq)


def test_driving_back_localises_to_existing_places(mapping_helpers):
    h = mapping_helpers
    world = h.corridor_world()
    tm, _ = h.drive(world, h.polyline([(1.0, 1.5), (10.0, 1.5)]))
    n_out = tm.num_places
    tm, back = h.drive(world, h.polyline([(10.0, 1.5), (1.0, 1.5)]), tm=tm, t0=100.0)
    assert tm.num_places == n_out, "driving back the same way must not duplicate places"
    assert not any(r.created for r in back)
    first = min(tm.place_nodes(), key=lambda p: tm.graph.nodes[p]["first_seen"])
    assert tm.current_node == first
    assert tm.graph.nodes[first]["visits"] == 2
    assert tm.graph.nodes[first]["last_seen"] >= 100.0
    # travelled edges were traversed twice
    assert max(d for _, _, d in tm.graph.edges(data="traversals")) >= 2


def test_line_of_sight_edges_only_through_free_space(mapping_helpers):
    h = mapping_helpers
    world = h.room_world()
    tm, _ = h.drive(world, h.polyline([(1.0, 1.0), (6.0, 1.0), (6.0, 7.0), (1.0, 7.0)]))
    los = [(u, v) for u, v, k in tm.graph.edges(data="kind") if k == LOS]
    assert los, "an open room must give line-of-sight shortcuts"
    for u, v in los:
        a, b = np.array(tm.position(u)), np.array(tm.position(v))
        pts = a + np.linspace(0, 1, 50)[:, None] * (b - a)
        assert world.clearance(pts).min() > 0.0, f"edge {u}-{v} crosses an obstacle"
    for u, v, d in tm.graph.edges(data=True):
        straight = math.dist(tm.position(u), tm.position(v))
        if d.get("via"):  # a frontier edge round a corner: its length is the way round
            assert d["kind"] == "frontier" and d["length"] >= straight - 1e-6
        else:
            assert d["length"] == pytest.approx(straight)
        assert d["cost"] >= d["length"] * min(tm.cfg.travel_cost_factor, tm.cfg.los_cost_factor) - 1e-9


def test_shortest_path_matches_networkx_and_handles_unreachable():
    rng = np.random.default_rng(3)
    tm = TopoMap()
    ids = [tm.add_place(*rng.uniform(0, 30, 2)) for _ in range(300)]
    xy = np.array([tm.position(i) for i in ids])
    for i, a in enumerate(ids):
        d = np.hypot(*(xy - xy[i]).T)
        for j in np.argsort(d)[1:4]:
            tm.add_edge(a, ids[j], LOS if j % 2 else TRAVEL)
    lonely = tm.add_place(100.0, 100.0)
    for _ in range(30):
        a, b = (int(v) for v in rng.choice(ids, 2, replace=False))
        path, cost = tm.shortest_path(a, b)
        if nx.has_path(tm.graph, a, b):
            assert cost == pytest.approx(nx.shortest_path_length(tm.graph, a, b, weight="cost"))
            assert sum(tm.graph.edges[p, q]["cost"] for p, q in itertools.pairwise(path)) == pytest.approx(cost)
        else:
            assert path == [] and cost == math.inf
    assert tm.shortest_path(ids[0], lonely) == ([], math.inf)
    assert lonely not in tm.costs_from(ids[0])
    with pytest.raises(MapError):
        tm.shortest_path(ids[0], 99999)
    # the cache is invalidated on change: a new bridge makes the lonely node reachable
    tm.add_edge(ids[0], lonely)
    assert tm.shortest_path(ids[0], lonely)[0] == [ids[0], lonely]


def test_json_round_trip_and_schema(mapping_helpers):
    h = mapping_helpers
    tm, _ = h.drive(h.corridor_world(), h.polyline([(1.0, 1.5), (6.0, 1.5), (6.0, 2.2)]))
    data = json.loads(json.dumps(tm.to_json()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["current_node"] == tm.current_node
    assert data["explored_area"] == pytest.approx(tm.explored_area(), abs=1e-3)
    assert {"id", "x", "y", "kind", "visits", "frontier", "first_seen", "last_seen"} <= set(data["nodes"][0])
    assert {"u", "v", "length", "cost", "kind"} <= set(data["edges"][0])
    assert "descriptor" not in data["nodes"][0]
    kinds = {n["kind"] for n in data["nodes"]}
    assert kinds == {PLACE, FRONTIER}
    back = TopoMap.from_json(data)
    assert sorted(back.graph.nodes) == sorted(tm.graph.nodes)
    assert {frozenset(e) for e in back.graph.edges} == {frozenset(e) for e in tm.graph.edges}
    assert back.frontier_nodes() == tm.frontier_nodes()
    a, b = tm.place_nodes()[0], tm.place_nodes()[-1]
    assert back.shortest_path(a, b)[1] == pytest.approx(tm.shortest_path(a, b)[1], abs=1e-3)
    with pytest.raises(MapError, match="schema_version"):
        TopoMap.from_json({**data, "schema_version": 99})
    with pytest.raises(MapError, match="missing node"):
        TopoMap.from_json({**data, "edges": [{"u": 0, "v": 12345, "cost": 1.0}]})


def test_merge_duplicates_folds_close_matching_places():
    tm = TopoMap()
    desc = np.ones(tm.descriptors.size, dtype=np.float32)
    a = tm.add_place(0.0, 0.0, stamp=1.0, descriptor=desc, visits=2)
    b = tm.add_place(0.3, 0.0, stamp=5.0, descriptor=desc, visits=1)
    c = tm.add_place(3.0, 0.0, stamp=6.0, descriptor=desc)
    tm.add_edge(b, c)
    assert tm.merge_duplicates() == [b]
    assert b not in tm.graph and tm.graph.has_edge(a, c)
    assert tm.graph.nodes[a]["visits"] == 3 and tm.graph.nodes[a]["last_seen"] == 5.0
    assert tm.nearest_place(0.3, 0.0) == a


def test_place_index_matches_brute_force_through_adds_and_removals():
    from toponav.mapping.index import PlaceIndex

    rng = np.random.default_rng(5)
    idx = PlaceIndex()
    truth: dict[int, tuple[float, float]] = {}
    for k in range(3000):
        x, y = rng.uniform(0, 50, 2)
        idx.add(k, x, y)
        truth[k] = (x, y)
        if k % 7 == 0 and truth:
            gone = int(rng.choice(list(truth)))
            idx.remove(gone)
            del truth[gone]
        if k % 250 == 249:
            q = rng.uniform(0, 50, 2)
            ids = np.array(list(truth))
            d = np.hypot(*(np.array([truth[i] for i in ids]) - q).T)
            expect = sorted(zip(d[d <= 3.0].tolist(), ids[d <= 3.0].tolist()))
            got = idx.query(q[0], q[1], 3.0)
            assert [n for _, n in got] == [n for _, n in expect]
            assert [n for _, n in idx.nearest(q[0], q[1], 5)] == [int(ids[j]) for j in np.argsort(d)[:5]]
    assert len(idx) == len(truth)


def test_shortest_path_exact_on_long_detours():
    """a and b 1 m apart, the only route a 60 m U-turn: the bounded searches must grow and stay exact."""
    tm = TopoMap()
    left = [tm.add_place(0.0, float(y)) for y in range(0, 31)]
    right = [tm.add_place(1.0, float(y)) for y in range(0, 31)]
    for chain in (left, right):
        for u, v in itertools.pairwise(chain):
            tm.add_edge(u, v, TRAVEL)
    tm.add_edge(left[-1], right[-1], LOS)
    path, cost = tm.shortest_path(left[0], right[0])
    assert path == [*left, *right[::-1]]
    assert cost == pytest.approx(60.0 + 1.0 * tm.cfg.los_cost_factor)
    assert cost == pytest.approx(nx.shortest_path_length(tm.graph, left[0], right[0], weight="cost"))

"""Candidate features and the heuristic score: each term pushes the choice the way it should."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toponav.planning import FEATURE_NAMES, GraphError, Place, PlaceGraph, ScoringWeights
from toponav.planning.candidates import build_candidates, heuristic_scores


def _graph(*nodes: tuple[str, float, float, int, bool, float], edges=()) -> PlaceGraph:
    g = PlaceGraph()
    for nid, x, y, visits, frontier, size in nodes:
        g.add_node(Place(nid, x, y, visits, frontier, size))
    for a, b in edges:
        g.add_edge(a, b)
    return g


def _best(g: PlaceGraph, goal=None, w=None, novelty=None, include_places=True) -> str:
    w = w or ScoringWeights()
    c = build_candidates(g, "a", (0.0, 0.0), goal, w, novelty, {"a"}, include_places=include_places)
    return c.ids[int(np.argmax(heuristic_scores(c.features, w)))]


def test_feature_vector_layout() -> None:
    g = _graph(("a", 0, 0, 3, False, 0), ("f", 3, 4, 0, True, 2.0), edges=[("a", "f")])
    c = build_candidates(g, "a", (0.0, 0.0), (6.0, 8.0), ScoringWeights(), {"f": 2.5}, {"a"})
    assert c.ids == ["f"] and c.features.shape == (1, len(FEATURE_NAMES))
    f = dict(zip(FEATURE_NAMES, c.features[0]))
    assert f["frontier"] == 1.0 and f["goal_known"] == 1.0
    assert f["path_cost"] == pytest.approx(0.5)  # 5 m / cost_scale 10
    assert f["goal_progress"] == pytest.approx(0.5)  # 10 m -> 5 m to the goal
    assert f["novelty"] == pytest.approx(0.5)  # 2.5 / novelty_scale 5
    assert f["frontier_size"] == pytest.approx(0.5)  # 2 m / gain_scale 4
    assert f["inv_sqrt_visits"] == pytest.approx(1.0)
    assert f["log_frontier_size"] == pytest.approx(np.log(3.0) / np.log(17.0))  # log(1 + 2 m) / log(17)
    assert f["place_density"] == pytest.approx(0.1)  # one place ("a", 5 m away) within density_radius 6 m


def test_crowded_frontier_loses_to_open_one_and_gain_is_sublinear() -> None:
    # Two equal frontiers at equal cost; many places around the west one (mapped territory).
    nodes = [("a", 0, 0, 1, False, 0), ("east", 3, 0, 0, True, 1.0), ("west", -3, 0, 0, True, 1.0)]
    nodes += [(f"p{i}", -4.0 - 0.3 * i, 0.5, 1, False, 0) for i in range(8)]
    g = _graph(*nodes, edges=[("a", "east"), ("a", "west")] + [("a", f"p{i}") for i in range(8)])
    assert _best(g, include_places=False) == "east"
    # log gain: a 4x larger frontier is worth a fixed detour, not 4x the detour.
    g = _graph(("a", 0, 0, 1, False, 0), ("near", 2, 0, 0, True, 2.0), ("big", -12, 0, 0, True, 8.0),
               edges=[("a", "near"), ("a", "big")])
    assert _best(g, include_places=False) == "near"
    g = _graph(("a", 0, 0, 1, False, 0), ("near", 2, 0, 0, True, 2.0), ("big", -4, 0, 0, True, 8.0),
               edges=[("a", "near"), ("a", "big")])
    assert _best(g, include_places=False) == "big"


def test_frontier_beats_visited_place_and_cost_matters() -> None:
    g = _graph(("a", 0, 0, 1, False, 0), ("p", 2, 0, 5, False, 0), ("f_near", 0, 2, 0, True, 1.0),
               ("f_far", 0, -12, 0, True, 1.0), edges=[("a", "p"), ("a", "f_near"), ("a", "f_far")])
    assert _best(g) == "f_near"


def test_less_visited_place_wins_without_frontiers() -> None:
    g = _graph(("a", 0, 0, 1, False, 0), ("p1", 2, 0, 9, False, 0), ("p2", -2, 0, 0, False, 0),
               edges=[("a", "p1"), ("a", "p2")])
    assert _best(g) == "p2"


def test_goal_progress_and_novelty_and_gain() -> None:
    g = _graph(("a", 0, 0, 1, False, 0), ("east", 3, 0, 0, True, 1.0), ("west", -3, 0, 0, True, 1.0),
               edges=[("a", "east"), ("a", "west")])
    assert _best(g, goal=(20.0, 0.0)) == "east"
    assert _best(g, goal=(-20.0, 0.0)) == "west"
    assert _best(g, novelty={"west": 5.0, "east": 0.1}) == "west"
    g.nodes["east"].frontier_size = 4.0
    assert _best(g) == "east"


def test_unreachable_nodes_are_not_candidates() -> None:
    g = _graph(("a", 0, 0, 1, False, 0), ("island", 1, 0, 0, True, 3.0))
    c = build_candidates(g, "a", (0.0, 0.0), None, ScoringWeights(), None, {"a"})
    assert len(c) == 0


def test_graph_json_round_trip_and_errors() -> None:
    g = _graph(("a", 0, 0, 1, False, 0), ("f", 1, 1, 0, True, 2.0), edges=[("a", "f")])
    g2 = PlaceGraph.from_json(json.dumps(g.to_json()))
    assert set(g2.nodes) == {"a", "f"} and g2.adj["a"]["f"] == pytest.approx(2**0.5)
    alt = {"nodes": [{"id": 1, "pos": [0, 0], "kind": "frontier"}, {"id": 2, "position": {"x": 1, "y": 0}}],
           "links": [{"u": 1, "v": 2, "weight": 4.0}]}
    g3 = PlaceGraph.from_json(alt)
    assert g3.nodes["1"].frontier and g3.adj["2"]["1"] == 4.0
    for bad in ("{not json", "[]", '{"nodes": [{"x": 1}] , "edges": []}',
                '{"nodes": [{"id": "a", "x": "nan?"}], "edges": []}',
                '{"nodes": [{"id": "a", "x": NaN, "y": 0}], "edges": []}',
                '{"nodes": [{"id": "a", "x": 0, "y": 0}], "edges": [{"source": "a", "target": "zz"}]}'):
        with pytest.raises(GraphError):
            PlaceGraph.from_json(bad)

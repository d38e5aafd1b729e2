"""The one shortest-path engine on graphs (toponav.graph_paths) and the planner's reproducible ties on it."""

from __future__ import annotations

import itertools
import math
import random

import networkx as nx
import numpy as np
import pytest

from toponav.graph_paths import GraphPaths
from toponav.planning.graph import Place, PlaceGraph


def _random_graph(seed: int, n: int = 300) -> tuple[nx.Graph, GraphPaths]:
    rng = random.Random(seed)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for i in range(n):
        for _ in range(2):
            j = rng.randrange(n)
            if j != i:
                g.add_edge(i, j, cost=rng.uniform(0.1, 3.0))
    e = np.array([(u, v, c) for u, v, c in g.edges(data="cost")])
    return g, GraphPaths(n, e[:, 0].astype(np.int64), e[:, 1].astype(np.int64), e[:, 2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_queries_match_networkx_with_and_without_a_cached_search(seed: int) -> None:
    g, paths = _random_graph(seed)
    rng = random.Random(seed)
    for _ in range(30):
        a, b = rng.randrange(len(g)), rng.randrange(len(g))
        path, cost = paths.shortest_path(a, b)  # bounded bidirectional search (no full search cached yet)
        if not nx.has_path(g, a, b):
            assert (path, cost) == ([], math.inf)
            continue
        assert cost == pytest.approx(nx.shortest_path_length(g, a, b, weight="cost"))
        assert path[0] == a and path[-1] == b
        assert sum(g.edges[p, q]["cost"] for p, q in itertools.pairwise(path)) == pytest.approx(cost)
        dist, _ = paths.from_source(a)  # now cached: the same query unwinds the full search
        assert paths.shortest_path(a, b)[1] == pytest.approx(cost) == pytest.approx(dist[b])


def test_full_searches_are_cached_up_to_a_limit() -> None:
    _, paths = _random_graph(3, 50)
    first = paths.from_source(0)
    assert paths.from_source(0) is first
    for s in range(1, GraphPaths.CACHED_SOURCES + 1):
        paths.from_source(s)
    assert paths.from_source(0) is not first  # the oldest was dropped


def test_planner_ties_follow_cost_then_id_and_the_order_nodes_were_reached() -> None:
    # a square with two equal ways from s to t: via "b" and via "a"; edges added so "b" is reached first
    g = PlaceGraph()
    for pid, x, y in (("s", 0, 0), ("b", 1, 0), ("a", 0, 1), ("t", 1, 1), ("z", 2, 1)):
        g.add_node(Place(pid, x, y))
    for u, v in (("s", "b"), ("s", "a"), ("b", "t"), ("a", "t"), ("t", "z")):
        g.add_edge(u, v, 1.0)
    dist, prev = g.dijkstra("s")
    assert list(dist) == ["s", "b", "a", "t", "z"]  # in the order first reached
    assert prev["t"] == "a"  # of the equal ways, the one through the node settled first (cost, then id)
    assert g.shortest_path("s", "z") == ["s", "a", "t", "z"]
    assert dist == {"s": 0.0, "b": 1.0, "a": 1.0, "t": 2.0, "z": 3.0}
    g.add_edge("b", "z", 0.5)  # an edit is seen by the next search
    assert g.dijkstra("s")[0]["z"] == 1.5
    assert g.dijkstra("nowhere") == ({"nowhere": 0.0}, {})

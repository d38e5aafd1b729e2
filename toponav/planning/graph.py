"""The planner's view of the topological map: places with visit counts and frontier flags, weighted edges.

The planner never touches the mapper's internals: it works from this small structure, built either from
the /topo_graph message the ``topo_mapper`` node publishes (:meth:`PlaceGraph.from_json`), from a live
``toponav.mapping.TopoMap`` (via its ``to_json()``), or directly by the fast exploration environment.
The message is read by :mod:`toponav.topo_graph` (tolerant of the spelling of optional fields, strict about
ids, finite x/y and edges between known nodes); its faults reach the planner as :class:`GraphError`.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toponav import topo_graph
from toponav.graph_paths import GraphPaths


class GraphError(ValueError):
    """A /topo_graph message or graph dict is malformed."""


@dataclass
class Place:
    """One node: a visited place or a frontier (boundary of the unknown)."""

    id: str
    x: float
    y: float
    visits: int = 0
    frontier: bool = False
    frontier_size: float = 0.0  # metres of frontier boundary (or unknown cells) this node stands for
    descriptor: np.ndarray | None = None  # local scan descriptor when the mapper provides one


@dataclass
class PlaceGraph:
    nodes: dict[str, Place] = field(default_factory=dict)
    adj: dict[str, dict[str, float]] = field(default_factory=dict)
    explored_area: float | None = None  # m^2 when the mapper reports it
    stamp: float | None = None
    frame_id: str = ""  # frame of node positions when the graph names one (the mapper works in "odom")
    #: (a, b) -> intermediate points from a to b, for edges that are no straight line (the mapper's frontier
    #: edges that go round a door frame); both directions are stored
    via: dict[tuple[str, str], list[tuple[float, float]]] = field(default_factory=dict)
    _version: int = field(default=0, repr=False, compare=False)  # bumped by every edit: the path engine's key
    _paths_cache: tuple[int, GraphPaths, dict[str, int]] | None = field(default=None, repr=False, compare=False)

    # -- construction -------------------------------------------------------------------------------
    def add_node(self, place: Place) -> None:
        self.nodes[place.id] = place
        self.adj.setdefault(place.id, {})
        self._version += 1

    def add_edge(self, a: str, b: str, cost: float | None = None,
                 via: list[tuple[float, float]] | None = None) -> None:
        """Add a->b (undirected); ``via`` are the points between a and b when the edge is no straight line."""
        if a not in self.nodes or b not in self.nodes:
            raise GraphError(f"edge {a!r}-{b!r} references an unknown node")
        if a == b:
            return
        if cost is None or not math.isfinite(cost) or cost < 0:
            pa, pb = self.nodes[a], self.nodes[b]
            cost = math.hypot(pa.x - pb.x, pa.y - pb.y)
        old = self.adj[a].get(b)
        if old is None or cost < old:
            self._version += 1
            self.adj[a][b] = float(cost)
            self.adj[b][a] = float(cost)
            if via:
                self.via[(a, b)] = list(via)
                self.via[(b, a)] = list(via)[::-1]
            else:
                self.via.pop((a, b), None)
                self.via.pop((b, a), None)

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any]) -> PlaceGraph:
        """Build the graph from a /topo_graph message (:func:`toponav.topo_graph.read`; node-link style accepted)."""
        try:
            msg = topo_graph.read(data)
        except topo_graph.TopoGraphError as exc:
            raise GraphError(str(exc)) from None
        g = cls()
        for n in msg.nodes:
            g.add_node(Place(id=str(n.id), x=n.x, y=n.y, visits=n.visits or 0, frontier=n.frontier,
                             frontier_size=n.frontier_size, descriptor=n.descriptor))
        for e in msg.edges:
            a, b = str(e.u), str(e.v)
            via = e.via
            if via and str(e.u if e.via_from is None else e.via_from) == b:
                via = via[::-1]  # stored from the other end
            g.add_edge(a, b, e.cost, via)
        g.explored_area = msg.explored_area
        g.stamp = msg.stamp
        g.frame_id = msg.frame_id
        return g

    # -- queries --------------------------------------------------------------------------------------
    def nearest(self, x: float, y: float, *, frontier: bool | None = None) -> str | None:
        best, best_d = None, math.inf
        for p in self.nodes.values():
            if frontier is not None and p.frontier != frontier:
                continue
            d = math.hypot(p.x - x, p.y - y)
            if d < best_d:
                best, best_d = p.id, d
        return best

    def dijkstra(self, source: str) -> tuple[dict[str, float], dict[str, str]]:
        """Path costs and predecessors from ``source`` to every reachable node.

        The costs come from :class:`toponav.graph_paths.GraphPaths` (scipy, C). Among equal-cost paths scipy's
        predecessor is arbitrary, and the planner needs a reproducible one (its sub-goal path) and a
        reproducible node order (its candidate order), so both are read off the costs by replaying the settle
        order of a heap Dijkstra over (cost, id) entries: a node enters the heap when a settled neighbour
        first lies on a cheapest path to it (its predecessor), and the costs are listed in the order the
        search first reached each node. That is what the planner's own heap Dijkstra gave before.
        """
        if not self.adj.get(source):
            return {source: 0.0}, {}
        paths, index = self._paths()
        cost = paths.from_source(index[source])[0].tolist()
        dist: dict[str, float] = {source: 0.0}
        prev: dict[str, str] = {}  # keys in the order the nodes were first reached, as dist
        queued = {source}  # nodes whose predecessor is final (every settled node among them)
        heap = [(0.0, source)]
        while heap:
            du, u = heapq.heappop(heap)
            for v, w in self.adj[u].items():
                if v in queued:
                    continue
                dv = dist.get(v)
                if dv is None:
                    dv = dist[v] = cost[index[v]]
                    prev[v] = u
                if du + w == dv:
                    prev[v] = u
                    queued.add(v)
                    heapq.heappush(heap, (dv, v))
        return dist, prev

    def _paths(self) -> tuple[GraphPaths, dict[str, int]]:
        """(path engine, id -> index) of this graph, rebuilt after it changed."""
        if self._paths_cache is None or self._paths_cache[0] != self._version:
            ids = list(self.adj)
            index = {n: i for i, n in enumerate(ids)}
            u = [index[a] for a, nb in self.adj.items() for _ in nb]
            v = [index[b] for nb in self.adj.values() for b in nb]
            w = [c for nb in self.adj.values() for c in nb.values()]
            paths = GraphPaths(len(ids), np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64),
                               np.asarray(w, dtype=np.float64), both_ways=False)
            self._paths_cache = (self._version, paths, index)
        return self._paths_cache[1:]

    @staticmethod
    def path_from(prev: dict[str, str], source: str, target: str) -> list[str]:
        if target != source and target not in prev:
            return []
        path = [target]
        while path[-1] != source:
            path.append(prev[path[-1]])
        return path[::-1]

    def polyline(self, nodes: list[str]) -> list[tuple[float, float]]:
        """Positions along a node path, with the ``via`` points of edges that are no straight line."""
        out: list[tuple[float, float]] = []
        for i, n in enumerate(nodes):
            if i > 0:
                out.extend(self.via.get((nodes[i - 1], n), ()))
            out.append((self.nodes[n].x, self.nodes[n].y))
        return out

    def shortest_path(self, source: str, target: str) -> list[str]:
        _, prev = self.dijkstra(source)
        return self.path_from(prev, source, target)

    def frontier_ids(self) -> list[str]:
        return [p.id for p in self.nodes.values() if p.frontier]

    def __len__(self) -> int:
        return len(self.nodes)

    def num_edges(self) -> int:
        return sum(len(v) for v in self.adj.values()) // 2

    def to_json(self) -> dict[str, Any]:
        """This graph as a /topo_graph message, the inverse of :meth:`from_json` (tests and graph snapshots)."""
        nodes = [topo_graph.node_item(
            p.id, p.x, p.y, kind=topo_graph.FRONTIER if p.frontier else topo_graph.PLACE, visits=p.visits,
            frontier=p.frontier, frontier_size=p.frontier_size,
            descriptor=None if p.descriptor is None else [float(v) for v in p.descriptor]) for p in self.nodes.values()]
        edges = [topo_graph.edge_item(a, b, cost=c, via=[list(p) for p in self.via.get((a, b), ())], via_from=a)
                 for a, nb in self.adj.items() for b, c in nb.items() if a < b]
        header = {} if self.explored_area is None else {"explored_area": self.explored_area}
        return topo_graph.message(header, nodes, edges)

"""The planner's view of the topological map: places with visit counts and frontier flags, weighted edges.

The planner never touches the mapper's internals: it works from this small structure, built either from
the /topo_graph JSON the ``topo_mapper`` node publishes (:meth:`PlaceGraph.from_json`), from a live
``toponav.mapping.TopoMap`` (via its ``to_json()``), or directly by the fast exploration environment.
Parsing is tolerant of the spelling of optional fields and strict about what the planner needs
(ids, finite x/y, edges between known nodes); anything else raises :class:`GraphError` naming the fault.
"""

from __future__ import annotations

import heapq
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toponav.graph_paths import GraphPaths

#: toponav.mapping reports frontier ``size`` in grid cells of its default 0.1 m resolution.
DEFAULT_FRONTIER_CELL = 0.1


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
        """Parse the /topo_graph JSON (``{"nodes": [...], "edges": [...]}``; node-link style accepted)."""
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise GraphError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise GraphError("graph JSON must be an object")
        nodes = data.get("nodes")
        edges = data.get("edges", data.get("links", []))
        if not isinstance(nodes, list) or not isinstance(edges, list):
            raise GraphError("graph JSON needs lists 'nodes' and 'edges'")
        g = cls()
        cell = _float(data.get("resolution", data.get("frontier_cell_size")), None) or DEFAULT_FRONTIER_CELL
        for i, n in enumerate(nodes):
            if not isinstance(n, dict) or "id" not in n:
                raise GraphError(f"node {i} has no id")
            try:
                x, y = _xy(n)
            except (TypeError, ValueError, KeyError):
                raise GraphError(f"node {n.get('id')!r} has no numeric x/y") from None
            if not (math.isfinite(x) and math.isfinite(y)):
                raise GraphError(f"node {n.get('id')!r} has a non-finite position")
            kind = str(n.get("kind", n.get("type", "")))
            frontier = bool(n.get("frontier", n.get("is_frontier", kind == "frontier")))
            desc = n.get("descriptor")
            try:
                desc = None if desc is None else np.asarray(desc, dtype=np.float32).ravel()
            except (TypeError, ValueError):
                desc = None
            g.add_node(Place(
                id=str(n["id"]), x=x, y=y,
                visits=_int(n.get("visits", n.get("visit_count", 0))),
                frontier=frontier,
                frontier_size=_frontier_size(n, cell),
                descriptor=desc,
            ))
        for i, e in enumerate(edges):
            if isinstance(e, dict):
                a = e.get("source", e.get("u", e.get("a", e.get("from"))))
                b = e.get("target", e.get("v", e.get("b", e.get("to"))))
                cost = e.get("cost", e.get("weight", e.get("length")))
            elif isinstance(e, list | tuple) and len(e) >= 2:
                a, b = e[0], e[1]
                cost = e[2] if len(e) > 2 else None
            else:
                raise GraphError(f"edge {i} is malformed")
            if a is None or b is None:
                raise GraphError(f"edge {i} has no endpoints")
            via = _via(e) if isinstance(e, dict) else None
            if via and str(e.get("via_from", a)) == str(b):
                via = via[::-1]  # stored from the other end
            g.add_edge(str(a), str(b), _float(cost, None), via)
        area = data.get("explored_area", data.get("explored_area_m2"))
        g.explored_area = _float(area, None)
        g.stamp = _float(data.get("stamp"), None)
        frame = data.get("frame_id")
        g.frame_id = frame if isinstance(frame, str) else ""
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
        prev: dict[str, str] = {}
        settled: set[str] = set()
        heap = [(0.0, source)]
        while heap:
            du, u = heapq.heappop(heap)
            settled.add(u)
            for v, w in self.adj[u].items():
                if v in settled:
                    continue
                dv = dist.setdefault(v, cost[index[v]])
                if v not in prev and du + w == dv:
                    prev[v] = u
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
        """Inverse of :meth:`from_json` (used by tests and the environment's graph snapshots)."""
        nodes = []
        for p in self.nodes.values():
            n = {"id": p.id, "x": p.x, "y": p.y, "visits": p.visits, "frontier": p.frontier,
                 "frontier_size": p.frontier_size}
            if p.descriptor is not None:
                n["descriptor"] = [float(v) for v in p.descriptor]
            nodes.append(n)
        edges = []
        for a, nb in self.adj.items():
            for b, c in nb.items():
                if a < b:
                    e: dict[str, Any] = {"source": a, "target": b, "cost": c}
                    if (a, b) in self.via:
                        e["via"] = [list(p) for p in self.via[(a, b)]]
                        e["via_from"] = a
                    edges.append(e)
        out: dict[str, Any] = {"schema_version": 1, "nodes": nodes, "edges": edges}
        if self.explored_area is not None:
            out["explored_area"] = self.explored_area
        return out


def _via(e: dict[str, Any]) -> list[tuple[float, float]] | None:
    """An edge's optional ``via`` points ([[x, y], ...]); malformed or non-finite points drop the whole list."""
    raw = e.get("via")
    if not isinstance(raw, list) or not raw:
        return None
    try:
        pts = [(float(p[0]), float(p[1])) for p in raw]
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return pts if all(math.isfinite(x) and math.isfinite(y) for x, y in pts) else None


def _frontier_size(n: dict[str, Any], cell: float) -> float:
    """Frontier extent in metres: ``frontier_size`` (m) if given, else the mapper's ``size`` (cells) * cell."""
    if "frontier_size" in n:
        return _float(n["frontier_size"]) or 0.0
    return (_float(n.get("size", 0.0)) or 0.0) * cell


def _xy(n: dict[str, Any]) -> tuple[float, float]:
    if "x" in n and "y" in n:
        return float(n["x"]), float(n["y"])
    pos = n.get("pos", n.get("position"))
    if isinstance(pos, dict):
        return float(pos["x"]), float(pos["y"])
    return float(pos[0]), float(pos[1])


def _float(v: Any, default: float | None = 0.0) -> float | None:
    try:
        out = float(v)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def _int(v: Any) -> int:
    try:
        return max(0, int(v))
    except (TypeError, ValueError):
        return 0

"""The ``/topo_graph`` message: the JSON layout the mapper publishes and the planner reads, in one place.

Its version, kinds, field names and reading rules live here, so the writer and the two readers cannot drift
apart: :mod:`toponav.mapping.serialise` writes a :class:`~toponav.mapping.topomap.TopoMap` with
:func:`node_item`, :func:`edge_item` and :func:`message` and rebuilds one from :func:`read`;
:meth:`toponav.planning.graph.PlaceGraph.from_json` builds the planner's graph from :func:`read`. The layout
is documented in docs/mapping.md::

    {"schema_version": 1, "frame_id", "stamp", "current_node", "explored_area", ...,
     "nodes": [{"id", "x", "y", "yaw", "kind", "visits", "frontier", "first_seen", "last_seen",
                "size" (cells, frontiers), "frontier_size" (m, frontiers), "descriptor" (optional)}],
     "edges": [{"u", "v", "length", "cost", "kind", "traversals", "via_from", "via" (optional)}],
     "occupancy": {...} (optional)}

Reading is tolerant of the spelling of optional fields (node-link graphs: ``links``, ``source`` / ``target``,
``pos``, ``weight``) and strict about what every reader needs: a known version, node ids, finite x/y, edges
between known nodes; anything else raises :class:`TopoGraphError` naming the fault.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Version of the layout; a message with another ``schema_version`` is refused (one without counts as this one).
SCHEMA_VERSION = 1

#: node kinds
PLACE = "place"
FRONTIER = "frontier"
#: edge kinds (frontier links are of kind FRONTIER)
TRAVEL = "travel"
LOS = "los"

#: the mapper reports frontier ``size`` in grid cells of its default 0.1 m resolution
DEFAULT_FRONTIER_CELL = 0.1


class TopoGraphError(ValueError):
    """A /topo_graph message is malformed."""


@dataclass
class NodeRecord:
    """One node as read: ids as in the message (the mapper writes ints); ``None`` where the field was absent."""

    id: Any
    x: float
    y: float
    kind: str
    frontier: bool
    visits: int | None
    yaw: float
    first_seen: float
    last_seen: float
    size: int  # frontier extent in grid cells (the mapper's)
    frontier_size: float  # frontier extent in metres
    descriptor: np.ndarray | None


@dataclass
class EdgeRecord:
    """One undirected edge as read; ``via`` points run from ``via_from`` (``None``: from ``u``)."""

    u: Any
    v: Any
    cost: float | None
    length: float | None
    kind: str
    traversals: int
    via: list[tuple[float, float]] | None
    via_from: Any


@dataclass
class TopoGraphMessage:
    """A whole message as read."""

    nodes: list[NodeRecord] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)
    frame_id: str = ""
    stamp: float | None = None
    current_node: Any = None
    explored_area: float | None = None
    occupancy: dict[str, Any] | None = None


# -- writing ---------------------------------------------------------------------------------------------------
def node_item(node_id: Any, x: float, y: float, *, kind: str, visits: int, frontier: bool, yaw: float | None = None,
              first_seen: float | None = None, last_seen: float | None = None, size: int | None = None,
              frontier_size: float | None = None, descriptor: list[float] | None = None) -> dict[str, Any]:
    """A node's JSON object (fields left ``None`` are left out)."""
    item = {"id": node_id, "x": x, "y": y, "yaw": yaw, "kind": kind, "visits": visits, "frontier": frontier,
            "first_seen": first_seen, "last_seen": last_seen, "size": size, "frontier_size": frontier_size,
            "descriptor": descriptor}
    return {k: v for k, v in item.items() if v is not None}


def edge_item(u: Any, v: Any, *, cost: float, length: float | None = None, kind: str | None = None,
              traversals: int | None = None, via: list[list[float]] | None = None,
              via_from: Any = None) -> dict[str, Any]:
    """An edge's JSON object (fields left ``None`` are left out; ``via`` only with its ``via_from``)."""
    item = {"u": u, "v": v, "length": length, "cost": cost, "kind": kind, "traversals": traversals}
    if via:
        item["via_from"], item["via"] = via_from, via
    return {k: x for k, x in item.items() if x is not None}


def message(header: dict[str, Any], nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
            occupancy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The message: version, then ``header`` (frame, stamp, counts: the writer's), nodes, edges, occupancy."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **header, "nodes": nodes, "edges": edges}
    if occupancy is not None:
        out["occupancy"] = occupancy
    return out


# -- reading ---------------------------------------------------------------------------------------------------
def read(data: str | bytes | dict[str, Any]) -> TopoGraphMessage:
    """Parse a message (JSON text or the decoded dict); raises :class:`TopoGraphError`."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TopoGraphError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TopoGraphError("topo graph JSON must be an object")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise TopoGraphError(f"unsupported topo graph schema_version {version!r} (this build reads {SCHEMA_VERSION})")
    nodes = data.get("nodes")
    edges = data.get("edges", data.get("links", []))
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise TopoGraphError("topo graph JSON needs lists 'nodes' and 'edges'")
    cell = _float(data.get("resolution", data.get("frontier_cell_size")), None) or DEFAULT_FRONTIER_CELL
    msg = TopoGraphMessage(nodes=[_node(i, n, cell) for i, n in enumerate(nodes)])
    known = {str(n.id) for n in msg.nodes}
    msg.edges = [_edge(i, e) for i, e in enumerate(edges)]
    for e in msg.edges:
        if str(e.u) not in known or str(e.v) not in known:
            raise TopoGraphError(f"edge {e.u}-{e.v} refers to a missing node")
    frame = data.get("frame_id")
    msg.frame_id = frame if isinstance(frame, str) else ""
    msg.stamp = _float(data.get("stamp"), None)
    msg.current_node = data.get("current_node")
    msg.explored_area = _float(data.get("explored_area", data.get("explored_area_m2")), None)
    occupancy = data.get("occupancy")
    msg.occupancy = occupancy if isinstance(occupancy, dict) and occupancy else None
    return msg


def _node(i: int, n: Any, cell: float) -> NodeRecord:
    if not isinstance(n, dict) or "id" not in n:
        raise TopoGraphError(f"node {i} has no id")
    try:
        x, y = _xy(n)
    except (TypeError, ValueError, KeyError, IndexError):
        raise TopoGraphError(f"node {n.get('id')!r} has no numeric x/y") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise TopoGraphError(f"node {n.get('id')!r} has a non-finite position")
    kind = str(n.get("kind", n.get("type", PLACE)))
    desc = n.get("descriptor")
    try:
        desc = None if desc is None else np.asarray(desc, dtype=np.float32).ravel()
    except (TypeError, ValueError):
        desc = None
    visits = n.get("visits", n.get("visit_count"))
    first_seen = _float(n.get("first_seen"), 0.0) or 0.0
    return NodeRecord(
        id=n["id"], x=x, y=y, kind=kind,
        frontier=bool(n.get("frontier", n.get("is_frontier", kind == FRONTIER))),
        visits=None if visits is None else _int(visits),
        yaw=_float(n.get("yaw"), 0.0) or 0.0,
        first_seen=first_seen,
        last_seen=_float(n.get("last_seen"), first_seen) or 0.0,
        size=_int(n.get("size", 0)),
        frontier_size=_frontier_size(n, cell),
        descriptor=desc,
    )


def _edge(i: int, e: Any) -> EdgeRecord:
    if isinstance(e, dict):
        a = e.get("source", e.get("u", e.get("a", e.get("from"))))
        b = e.get("target", e.get("v", e.get("b", e.get("to"))))
        cost = e.get("cost", e.get("weight", e.get("length")))
        extra = e
    elif isinstance(e, list | tuple) and len(e) >= 2:
        a, b = e[0], e[1]
        cost = e[2] if len(e) > 2 else None
        extra = {}
    else:
        raise TopoGraphError(f"edge {i} is malformed")
    if a is None or b is None:
        raise TopoGraphError(f"edge {i} has no endpoints")
    return EdgeRecord(u=a, v=b, cost=_float(cost, None), length=_float(extra.get("length"), None),
                      kind=str(extra.get("kind", TRAVEL)), traversals=_int(extra.get("traversals", 0)),
                      via=_via(extra), via_from=extra.get("via_from"))


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

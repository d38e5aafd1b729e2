"""A :class:`~toponav.mapping.topomap.TopoMap` to and from the ``/topo_graph`` message (:mod:`toponav.topo_graph`).

What the mapper rounds and which of its attributes go where; the layout itself (field names, version, reading
rules) is :mod:`toponav.topo_graph`'s, shared with the planner.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from toponav import topo_graph as schema
from toponav.mapping.occupancy import OccupancyGrid

if TYPE_CHECKING:
    from toponav.mapping.topomap import TopoMap


def to_json(tm: TopoMap, *, include_descriptors: bool = False, include_grid: bool = False) -> dict[str, Any]:
    """The /topo_graph message of ``tm`` (see docs/mapping.md): plain JSON types only."""
    nodes = []
    for n, d in tm.graph.nodes(data=True):
        size = frontier_size = descriptor = None
        if d["kind"] == schema.FRONTIER:
            size = int(d.get("size", 0))
            frontier_size = round(size * tm.occupancy.resolution, 3)
        if include_descriptors and d.get("descriptor") is not None:
            descriptor = [round(float(v), 5) for v in np.asarray(d["descriptor"]).ravel()]
        nodes.append(schema.node_item(
            int(n), round(d["x"], 4), round(d["y"], 4), yaw=round(d.get("yaw", 0.0), 4), kind=d["kind"],
            visits=int(d["visits"]), frontier=bool(d["frontier"]), first_seen=float(d["first_seen"]),
            last_seen=float(d["last_seen"]), size=size, frontier_size=frontier_size, descriptor=descriptor))
    edges = []
    for u, v, d in tm.graph.edges(data=True):
        via = via_from = None
        if d.get("via"):
            # the way round (from the place to the frontier, or as driven), when the edge is no straight line
            via_from = int(d.get("via_from", u if tm.graph.nodes[u]["kind"] == schema.PLACE else v))
            via = [[round(x, 3), round(y, 3)] for x, y in d["via"]]
        edges.append(schema.edge_item(
            int(u), int(v), length=round(float(d["length"]), 4), cost=round(float(d["cost"]), 4), kind=d["kind"],
            traversals=int(d.get("traversals", 0)), via=via, via_from=via_from))
    header = {
        "frame_id": tm.cfg.frame_id,
        "stamp": float(tm.stamp) if tm.stamp is not None else 0.0,
        "current_node": tm.current_node,
        "explored_area": round(tm.explored_area(), 3),
        "num_places": tm.num_places,
        "num_frontiers": len(tm.frontier_nodes()),
        "descriptor_method": tm.cfg.descriptor.method,
    }
    grid = tm.occupancy.to_dict() if include_grid and not tm.occupancy.empty else None
    return schema.message(header, nodes, edges, grid)


def read_into(tm: TopoMap, data: str | bytes | dict[str, Any]) -> None:
    """Fill the empty map ``tm`` from a /topo_graph message.

    Raises :class:`toponav.topo_graph.TopoGraphError` on a malformed message and KeyError / TypeError /
    ValueError on values the map cannot hold (the caller reports both as one error).
    """
    msg = schema.read(data)
    for n in msg.nodes:
        nid = int(n.id)
        if n.kind == schema.FRONTIER:
            tm.add_frontier(n.x, n.y, node_id=nid, size=n.size, visits=n.visits or 0, first_seen=n.first_seen,
                            last_seen=n.last_seen)
        else:
            tm.add_place(n.x, n.y, n.yaw, n.first_seen, n.descriptor, 1 if n.visits is None else n.visits,
                         node_id=nid, last_seen=n.last_seen)
    for e in msg.edges:
        u, v = int(e.u), int(e.v)
        length = e.length if e.length is not None else math.dist(tm.position(u), tm.position(v))
        tm.add_edge(u, v, e.kind, e.traversals, e.cost if e.cost is not None else length, length=length)
        if e.via and e.via_from in (u, v):
            edge = tm.graph.edges[u, v]
            edge["via"] = list(e.via)
            edge["via_from"] = int(e.via_from)
    cur = msg.current_node
    tm.current_node = int(cur) if cur is not None and int(cur) in tm.graph else None
    tm.stamp = msg.stamp
    if msg.occupancy:
        tm.occupancy = OccupancyGrid.from_dict(msg.occupancy, tm.cfg.grid)
    tm.touch()

"""Save/load a :class:`TopoMap` as a GeoJSON graph file in the layout Nav2's route server reads.

nav2_route's GeoJSON loader takes ``features``: ``Point`` features are nodes (``properties.id``,
``properties.frame``, coordinates ``[x, y]``, optional ``properties.metadata`` object), and
``LineString`` / ``MultiLineString`` features are **directed** edges (``properties.id``, ``startid``,
``endid``, optional ``cost`` / ``overridable`` / ``metadata``). Ids must be unique over nodes *and*
edges. So each undirected edge of ours is written as two directed features, edge ids start after the
largest node id, and our extras (visits, kind, times, descriptor) live in ``metadata`` (objects, scalars
and arrays of scalars only, which is what the loader converts). Frontier nodes are saved too, flagged
in metadata; the occupancy grid rides along as a foreign top-level member ``toponav_occupancy`` that
nav2 ignores and ``toponav map show`` draws.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from toponav.mapping.config import MapperConfig
from toponav.mapping.occupancy import OccupancyGrid
from toponav.mapping.topomap import MapError, TopoMap
from toponav.topo_graph import FRONTIER, PLACE, SCHEMA_VERSION, TRAVEL


def to_geojson(tm: TopoMap, *, include_descriptors: bool = True, include_grid: bool = True) -> dict[str, Any]:
    """FeatureCollection dict of the map (see the module docstring for the layout)."""
    frame = tm.cfg.frame_id
    features: list[dict[str, Any]] = []
    max_id = -1
    for n, d in sorted(tm.graph.nodes(data=True)):
        meta: dict[str, Any] = {
            "kind": d["kind"], "visits": int(d["visits"]), "frontier": bool(d["frontier"]),
            "yaw": float(d.get("yaw", 0.0)), "first_seen": float(d["first_seen"]),
            "last_seen": float(d["last_seen"]),
        }
        if d["kind"] == FRONTIER:
            meta["size"] = int(d.get("size", 0))
        if include_descriptors and d.get("descriptor") is not None:
            meta["descriptor"] = [round(float(v), 6) for v in np.asarray(d["descriptor"]).ravel()]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(d["x"]), float(d["y"])]},
            "properties": {"id": int(n), "frame": frame, "metadata": meta},
        })
        max_id = max(max_id, int(n))
    eid = max_id + 1
    for u, v, d in sorted(tm.graph.edges(data=True), key=lambda e: (min(e[0], e[1]), max(e[0], e[1]))):
        a, b = (u, v) if u < v else (v, u)
        for s, e in ((a, b), (b, a)):
            features.append({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(tm.position(s)), list(tm.position(e))]},
                "properties": {
                    "id": eid, "startid": int(s), "endid": int(e), "cost": float(d["cost"]), "overridable": True,
                    "metadata": {"length": float(d["length"]), "kind": d["kind"],
                                 "traversals": int(d.get("traversals", 0))},
                },
            })
            eid += 1
    out: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": "toponav_graph",
        "toponav": {
            "schema_version": SCHEMA_VERSION, "frame_id": frame, "current_node": tm.current_node,
            "stamp": tm.stamp, "descriptor_method": tm.cfg.descriptor.method,
        },
        "features": features,
    }
    if include_grid and not tm.occupancy.empty:
        out["toponav_occupancy"] = tm.occupancy.to_dict()
    return out


def save_geojson(tm: TopoMap, path: str | Path, **kwargs: Any) -> Path:
    """Write the map to ``path`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_geojson(tm, **kwargs)))
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def from_geojson(data: dict[str, Any], cfg: MapperConfig | None = None) -> TopoMap:
    """Build a map from a GeoJSON FeatureCollection (ours, or any nav2_route graph). Raises MapError."""
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise MapError("a GeoJSON graph must be an object with a 'features' list")
    extra = data.get("toponav") or {}
    if extra.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise MapError(f"unsupported toponav schema_version {extra.get('schema_version')!r}")
    tm = TopoMap(cfg)
    edges: list[dict[str, Any]] = []
    try:
        for feat in data["features"]:
            geom = (feat.get("geometry") or {}).get("type")
            props = feat.get("properties") or {}
            if geom == "Point":
                nid = int(props["id"])
                if nid in tm.graph:
                    raise MapError(f"duplicate node id {nid}")
                x, y = (float(c) for c in feat["geometry"]["coordinates"][:2])
                if not (math.isfinite(x) and math.isfinite(y)):
                    raise MapError(f"node {nid} has non-finite coordinates")
                meta = props.get("metadata") or {}
                t = float(meta.get("first_seen", 0.0))
                if meta.get("kind", PLACE) == FRONTIER:
                    tm.add_frontier(x, y, node_id=nid, size=int(meta.get("size", 0)), visits=int(meta.get("visits", 0)),
                                    first_seen=t, last_seen=float(meta.get("last_seen", t)))
                else:
                    desc = meta.get("descriptor")
                    tm.add_place(x, y, float(meta.get("yaw", 0.0)), t,
                                 None if desc is None else np.asarray(desc, dtype=np.float32),
                                 int(meta.get("visits", 1)), node_id=nid, last_seen=float(meta.get("last_seen", t)))
            elif geom in ("LineString", "MultiLineString"):
                edges.append(props)
        for props in edges:
            s, e = int(props["startid"]), int(props["endid"])
            if s not in tm.graph or e not in tm.graph:
                raise MapError(f"edge {props.get('id')} joins missing node {s if s not in tm.graph else e}")
            if s == e:
                continue
            meta = props.get("metadata") or {}
            length = float(meta.get("length", math.dist(tm.position(s), tm.position(e))))
            cost = float(props.get("cost", length))
            if tm.graph.has_edge(s, e):  # the reverse direction of an edge we already have
                data_e = tm.graph.edges[s, e]
                data_e["cost"] = min(data_e["cost"], cost) if cost > 0 else data_e["cost"]
                continue
            tm.graph.add_edge(s, e, length=length, cost=cost if cost > 0 else length,
                              kind=str(meta.get("kind", TRAVEL)), traversals=int(meta.get("traversals", 0)))
        cur = extra.get("current_node")
        tm.current_node = int(cur) if cur is not None and int(cur) in tm.graph else None
        tm.stamp = None if extra.get("stamp") is None else float(extra["stamp"])
        if data.get("toponav_occupancy"):
            tm.occupancy = OccupancyGrid.from_dict(data["toponav_occupancy"], tm.cfg.grid)
    except MapError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MapError(f"malformed GeoJSON graph: {exc}") from None
    tm.touch()
    return tm


def load_geojson(path: str | Path, cfg: MapperConfig | None = None) -> TopoMap:
    """Read a GeoJSON graph file; MapError with the path on a missing or corrupt file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise MapError(f"cannot read graph file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MapError(f"graph file {path} is not valid JSON: {exc}") from None
    try:
        return from_geojson(data, cfg)
    except MapError as exc:
        raise MapError(f"{path}: {exc}") from None

"""Topological mapping: places, edges and frontiers on networkx, over a light occupancy grid (no ROS).

Public API (the planner and the ``topo_mapper`` node code against this)::

    from toponav.mapping import TopoMap, MapperConfig
    tm = TopoMap(MapperConfig())
    result = tm.update((x, y, yaw), ranges, angles, stamp, range_min=0.05, range_max=8.0)
    tm.graph                      # networkx.Graph, node attrs: x y yaw kind visits frontier first_seen last_seen
    tm.frontier_nodes()           # ids of frontier nodes
    tm.shortest_path(a, b)        # ([ids], cost)
    tm.costs_from(a)              # {id: cost}
    tm.explored_area()            # m^2
    tm.to_json() / TopoMap.from_json(d)   # the /topo_graph message (toponav.topo_graph, docs/mapping.md)
    save_geojson(tm, path) / load_geojson(path)   # Nav2 route server graph files
"""

from toponav.mapping.config import DescriptorConfig, GridConfig, MapperConfig
from toponav.mapping.occupancy import OccupancyGrid
from toponav.mapping.topomap import MapError, TopoMap, UpdateResult
from toponav.topo_graph import FRONTIER, LOS, PLACE, SCHEMA_VERSION, TRAVEL

__all__ = [
    "FRONTIER",
    "LOS",
    "PLACE",
    "SCHEMA_VERSION",
    "TRAVEL",
    "DescriptorConfig",
    "GridConfig",
    "MapError",
    "MapperConfig",
    "OccupancyGrid",
    "TopoMap",
    "UpdateResult",
]

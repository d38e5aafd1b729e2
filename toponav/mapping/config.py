"""Every mapper default, once. ROS parameters (``topo_mapper``) and YAML files only override these.

Thresholds are this project's own choices (TopoNav publishes no constants); the docstrings say why
each one has the value it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toponav.config import param
from toponav.localisation.localiser import LocalisationConfig


@dataclass
class GridConfig:
    """Light log-odds occupancy grid: free space, obstacles, frontiers, explored area, line of sight."""

    resolution: float = param(0.1, "cell size (m); 0.1 resolves 0.5 m robots and BARN gaps", min=0.01, max=2.0)
    initial_size: float = param(20.0, "side of the square grid created around the first pose (m); grows on demand",
                                min=1.0)
    grow_margin: float = param(10.0, "extra metres added on each side when a scan leaves the grid", min=1.0)
    max_size: float = param(400.0, "hard limit on the grid side (m): scans beyond it are clipped", min=10.0)
    l_free: float = param(-0.4, "log-odds added to a cell a beam passes through", max=0.0)
    l_occ: float = param(0.85, "log-odds added to the cell a beam ends in", min=0.0)
    l_min: float = param(-2.0, "log-odds clamp (low); keeps cells able to change", max=0.0)
    l_max: float = param(3.5, "log-odds clamp (high)", min=0.0)
    free_threshold: float = param(-0.3, "log-odds below which a cell counts as known free", max=0.0)
    occ_threshold: float = param(0.4, "log-odds above which a cell counts as occupied (one hit + one pass-through)",
                                 min=0.0)
    free_space: str = param("polygon", "polygon: fill the region the scan outlines; rays: only cells on beams",
                            choices=("polygon", "rays"))
    beam_stride: int = param(1, "integrate every n-th beam only (1 = all); speed knob for dense lidars", min=1)
    max_free_range: float = param(8.0, "trusted range (m): no-return beams (inf / >= range_max) and returns beyond "
                                  "it clear free space up to it; set to the lidar's range", min=0.0)


@dataclass
class DescriptorConfig:
    """Appearance of a place: scan-context signature (default) or FPFH over a point cloud (open3d)."""

    method: str = param("scan_context", "scan_context (2-D scan, fast) or fpfh (open3d FPFH, for /points)",
                        choices=("scan_context", "fpfh"))
    voxel: float = param(0.1, "open3d voxel down-sampling size (m) before the descriptor", min=0.0)
    rings: int = param(8, "scan-context radial bins", min=2, max=128)
    sectors: int = param(36, "scan-context angular bins (10 degrees each at 36)", min=4, max=720)
    max_radius: float = param(8.0, "scan-context radius (m); points beyond are dropped", min=0.5)
    fpfh_radius: float = param(1.0, "FPFH feature radius (m)", min=0.05)
    normal_radius: float = param(0.5, "normal estimation radius for FPFH (m)", min=0.05)
    match_threshold: float = param(0.45, "descriptor distance (0..1) below which two places look the same",
                                   min=0.0, max=1.0)
    novelty_threshold: float = param(0.85, "distance (0..1) above which the current view is new enough for a node",
                                     min=0.0, max=1.0)
    revisit_margin: float = param(0.05, "a revisit needs its best match this much better than the runner-up",
                                  min=0.0, max=1.0)
    recompute_distance: float = param(0.3, "recompute the live descriptor only after moving this far (m)", min=0.0)


@dataclass
class MapperConfig:
    """Topological mapper: when to create, localise to, merge and connect places."""

    frame_id: str = param("map", "frame of node poses, the grid and the corrected pose: 'map' with the correction "
                          "on (localisation.enabled); with it off, the frame the incoming poses are in ('odom' for raw "
                          "odometry, 'map' behind AMCL / slam_toolbox)")
    node_distance: float = param(1.5, "create a place when farther than this from every place (m)", min=0.1)
    novelty_min_distance: float = param(0.75, "a novel-looking view only makes a node this far from others (m)",
                                        min=0.0)
    localise_radius: float = param(1.0, "snap to a place within this radius, best descriptor match first (m)",
                                   min=0.05)
    revisit_radius: float = param(4.0, "search radius for revisits under odometry drift (descriptor-gated, m)",
                                  min=0.0)
    revisit_min_age: float = param(20.0, "only places not seen for this long (s) are revisit candidates", min=0.0)
    revisit_wall_check: bool = param(
        False, "no revisit to a place behind a wall the grid has mapped (the segment pose -> place crosses an "
        "occupied cell): in mazes look-alike rooms were matched 3-4 m away through walls with ground-truth odometry. "
        "Off by default: in stack_sim (docs/planning.md) it lost training maze 0 (9/10 -> 8/10 reached; the run "
        "without it reached the goal only because a false match rerouted the planner) and left held-out mazes as "
        "they were (4/5); the remaining maze failures are DWA stalls at door frames")
    merge_distance: float = param(0.6, "places closer than this with matching descriptors are merged (m)", min=0.0)
    los_radius: float = param(4.0, "try line-of-sight edges to places within this radius (m)", min=0.0)
    los_max_neighbours: int = param(6, "line-of-sight edges tried per new place", min=0)
    los_clearance: float = param(0.2, "free corridor half-width checked on the grid for line-of-sight edges (m)",
                                 min=0.0)
    travel_cost_factor: float = param(1.0, "edge cost per metre on travelled edges", min=0.01)
    los_cost_factor: float = param(1.2, "cost per metre on seen-but-not-travelled edges", min=0.01)
    frontier_cost_factor: float = param(1.5, "cost per metre on edges to frontier nodes", min=0.01)
    max_travel_edge: float = param(5.0, "no travel edge across a jump longer than this (m): relocation, not travel",
                                   min=0.1)
    frontier_period: int = param(5, "recompute frontier nodes every n updates (and whenever a place is created)",
                                 min=1)
    frontier_min_cells: int = param(10, "smallest frontier cluster that becomes a node (cells; 10 = 1 m at 0.1 m)",
                                    min=1)
    frontier_match_distance: float = param(1.0, "a frontier node keeps its id if its cluster moved less (m)",
                                           min=0.0)
    frontier_connect_k: int = param(3, "line-of-sight links tried from a frontier to the nearest places", min=1)
    frontier_link_inflation: float = param(
        0.3, "a frontier no place sees in a straight line is linked to the nearest place joined to it through "
        "known-free cells at least this far from obstacles (m): the robot radius (0.25) + a margin, so a gap the "
        "controller will not squeeze through is no way (a 0.2 m setting sent the robot at a 0.56 m shelf gap); "
        "1 m doors stay open", min=0.0)
    frontier_tight_inflation: float = param(
        0.2, "when not one frontier has a way at frontier_link_inflation, they are linked through cells this far from "
        "obstacles instead, at frontier_tight_cost_factor times the cost (0 = exploration ends there): a door seen at "
        "a slant from the room before it is mostly unknown, and its known-free part is narrower than the door "
        "(held-out maze 1000005: the only frontier toward the goal was dropped and exploration ended with a third "
        "of the maze unseen). Only then: offered beside clear ways, such frontiers (0.56 m shelf gaps among them) "
        "cost two held-out warehouses their goal", min=0.0)
    frontier_tight_cost_factor: float = param(3.0, "cost multiplier on links found at frontier_tight_inflation",
                                              min=1.0)
    time_jump_tolerance: float = param(0.5, "stamp going back by more than this (s) means a reset/bag loop", min=0.0)
    clear_on_time_jump: bool = param(True, "clear the map when time jumps back (else only log and keep going)")
    grid: GridConfig = field(default_factory=GridConfig)
    descriptor: DescriptorConfig = field(default_factory=DescriptorConfig)
    localisation: LocalisationConfig = field(default_factory=LocalisationConfig)


@dataclass
class TopoMapperConfig(MapperConfig):
    """The ``topo_mapper`` node: every mapper parameter plus how and when the node publishes.

    Mapper parameters are read once at start; ``graph_path`` and the publish periods follow
    ``ros2 param set`` while running.
    """

    publish_period: float = param(0.5, "at most one /topo_graph + markers message per this many seconds (node clock)",
                                  min=0.0)
    map_period: float = param(2.0, "at most one /map per this many seconds (node clock)", min=0.0)
    max_odom_age: float = param(0.25, "use a scan only if odometry lies within this time of it (s); between two "
                                "samples the pose is interpolated", min=0.0)
    use_points: bool = param(False, "subscribe /points and use it for the fpfh descriptor")
    publish_markers: bool = param(True, "publish /topo_graph/markers for RViz")
    graph_path: str = param("topo_graph.geojson",
                            "file for the ~/save and ~/load services (GeoJSON, nav2_route layout)")
    load_on_start: bool = param(False, "load graph_path at start (if it exists) instead of starting empty")

"""Per-run navigation metrics from :class:`~toponav.evaluation.run.RunData` (definitions in docs/evaluation.md).

success        reached the goal (within ``goal_tolerance``) with no collision before reaching it
SPL            success * l / max(p, l) (Anderson et al. 2018); l = shortest collision-free path length
               (straight line when it is free, else a 16-connected grid search on the world inflated by
               the robot radius; the straight start-goal distance when no world is known, flagged)
time_to_goal   sim seconds from the goal (or first pose) to the first pose within tolerance
path_length    sum of trajectory segment lengths up to reaching the goal (whole run otherwise)
collisions     /collision events (the sim publishes one per new contact); without that topic and with a
               world: trajectory entries into clearance < robot radius, counted as episodes
min_clearance  min over the trajectory of (world clearance - robot radius), else the smallest scan range
explored_area  m^2 seen by the lidar over time (0.1 m grid, scans every ``scan_period``), and the
               mapper's own explored area from /topo_graph when recorded
graph size     nodes / edges of the last /topo_graph
BARN metric    success * OT / clip(AT, 2 OT, 8 OT), OT = reference path length / 2 m/s (BARN challenge)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from toponav.config import param
from toponav.evaluation.run import RunData
from toponav.grid_graph import NEIGHBOURS_16, GridGraph
from toponav.worlds import World


@dataclass
class EvalConfig:
    goal_tolerance: float = param(0.5, "distance (m) to the goal that counts as reached", min=0.0)
    robot_radius: float = param(0.25, "robot footprint radius (m) for clearance and shortest paths", min=0.0)
    grid_resolution: float = param(0.1, "grid cell (m) for shortest paths and coverage", min=0.01)
    barn_max_speed: float = param(2.0, "speed (m/s) that defines BARN's optimal time", min=0.01)


def path_length(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    return float(np.sum(np.hypot(*np.diff(xy[:, :2], axis=0).T)))


def barn_reference_time(world: World, max_speed: float = 2.0) -> float:
    """BARN's optimal time OT of ``toponav bench barn`` and ``toponav train policy``: the route start ->
    reference path -> goal at ``max_speed`` (2 m/s in the challenge)."""
    return path_length(np.asarray([world.start[:2], *world.reference_path, world.goal], dtype=np.float64)) / max_speed


def barn_score(ot: float, success: bool, time_s: float) -> float:
    """The BARN metric ``success * OT / clip(AT, 2 OT, 8 OT)`` (best possible 0.5); 0 when OT is not positive."""
    if not ot > 0:
        return 0.0
    return float(success) * ot / float(np.clip(time_s, 2 * ot, 8 * ot))


def _segment_free(world: World, a: np.ndarray, b: np.ndarray, radius: float, step: float) -> bool:
    n = max(2, math.ceil(np.hypot(*(b - a)) / step) + 1)
    pts = a[None] + np.linspace(0.0, 1.0, n)[:, None] * (b - a)[None]
    return bool(np.all(world.clearance(pts) > radius))


def shortest_path_length(world: World, start: tuple[float, float], goal: tuple[float, float], radius: float,
                         resolution: float = 0.1) -> float | None:
    """Collision-free shortest path length for a disc of ``radius``; None when unreachable."""
    a, b = np.asarray(start[:2], dtype=float), np.asarray(goal[:2], dtype=float)
    if _segment_free(world, a, b, radius, resolution / 2):
        return float(np.hypot(*(b - a)))
    if world.reference_path and len(world.reference_path) > 1:
        ref = np.asarray(world.reference_path, dtype=float)
        return path_length(ref)
    occ, origin = world.occupancy(resolution, inflate=radius)
    ny, nx = occ.shape
    to_cell = lambda p: (int(np.clip((p[1] - origin[1]) / resolution, 0, ny - 1)),  # noqa: E731
                         int(np.clip((p[0] - origin[0]) / resolution, 0, nx - 1)))
    s, g = to_cell(a), to_cell(b)
    free = ~occ
    free[s] = free[g] = True  # the start/goal cells themselves may graze the inflation
    # 16-connected (knight moves that do not cut corners): within 0.5 % of the Euclidean length in the open
    d = GridGraph(occ.shape, 1.0, NEIGHBOURS_16).distances(free, s)[g]
    return float(d) * resolution if math.isfinite(d) else None


def coverage_over_time(run: RunData, resolution: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(times, m^2) of the area the lidar has seen: beams marked free to their range, hit cells seen."""
    if not run.scans or len(run.traj_t) == 0:
        return np.zeros(0), np.zeros(0)
    pts_all = run.traj[:, :2]
    rmax = max(s[3] for s in run.scans)
    lo = pts_all.min(axis=0) - rmax - resolution
    hi = pts_all.max(axis=0) + rmax + resolution
    shape = (math.ceil((hi[1] - lo[1]) / resolution) + 1, math.ceil((hi[0] - lo[0]) / resolution) + 1)
    seen = np.zeros(shape, dtype=bool)
    times, areas = [], []
    steps = np.arange(0.0, rmax + resolution, resolution)
    for t, amin, ainc, smax, ranges in run.scans:
        i = int(np.searchsorted(run.traj_t, t))
        i = min(max(i, 0), len(run.traj_t) - 1)
        x, y, yaw = run.traj[i]
        stride = max(1, len(ranges) // 180)  # 2 degrees between rays is plenty on a 0.1 m grid
        r = np.where(np.isfinite(ranges), np.minimum(ranges, smax), smax).astype(np.float64)[::stride]
        ang = yaw + amin + ainc * stride * np.arange(len(r))
        d = steps[None, :]
        mask = d <= r[:, None]
        px = x + np.cos(ang)[:, None] * d
        py = y + np.sin(ang)[:, None] * d
        cx = ((px[mask] - lo[0]) / resolution).astype(int)
        cy = ((py[mask] - lo[1]) / resolution).astype(int)
        ok = (cx >= 0) & (cy >= 0) & (cx < shape[1]) & (cy < shape[0])
        seen[cy[ok], cx[ok]] = True
        times.append(t)
        areas.append(float(seen.sum()) * resolution * resolution)
    return np.asarray(times), np.asarray(areas)


def compute_metrics(run: RunData, cfg: EvalConfig | None = None) -> dict[str, Any]:
    """All metrics of one run as a JSON-ready dict (None where a metric cannot be computed)."""
    cfg = cfg or EvalConfig()
    out: dict[str, Any] = {"bag": run.bag, "world": run.world_spec or None, "trajectory_source": run.traj_source,
                           "messages": run.messages, "partial": run.partial, "warnings": list(run.warnings)}
    traj, tt = run.traj, run.traj_t
    if len(traj) == 0:
        out.update(success=False, reached=False, spl=0.0 if run.goal else None, time_to_goal=None,
                   path_length=0.0, collisions=len(run.collisions), min_clearance=None, duration=0.0)
        out["warnings"].append(f"{run.bag}: no trajectory (/ground_truth/pose or /odom) in the bag")
        return out
    start = (float(traj[0, 0]), float(traj[0, 1]))
    out["start"] = list(start)
    out["goal"] = list(run.goal) if run.goal else None
    t0 = float(tt[0])
    t_goal_sent = run.goal_t if run.goal_t is not None and run.goal_t >= t0 - 1e-6 else t0
    reach_idx = None
    if run.goal is not None:
        d = np.hypot(traj[:, 0] - run.goal[0], traj[:, 1] - run.goal[1])
        hits = np.nonzero(d <= cfg.goal_tolerance)[0]
        reach_idx = int(hits[0]) if len(hits) else None
        out["final_distance_to_goal"] = float(d[-1])
    reached = reach_idx is not None
    end = reach_idx + 1 if reached else len(traj)
    p = path_length(traj[:end])
    out["path_length"] = p
    out["duration"] = float(tt[-1] - t0)
    out["reached"] = reached
    out["time_to_goal"] = float(tt[reach_idx] - t_goal_sent) if reached else None

    # collisions
    if run.collision_topic:
        coll_times = sorted(run.collisions)
        out["collision_source"] = "/collision"
    elif run.world is not None:
        gap = run.world.clearance(traj[:, :2]) - cfg.robot_radius
        inside = gap < 0
        starts = np.nonzero(inside & ~np.concatenate([[False], inside[:-1]]))[0]
        coll_times = [float(tt[i]) for i in starts]
        out["collision_source"] = "trajectory vs world"
    else:
        coll_times = []
        out["collision_source"] = None
        out["warnings"].append(f"{run.bag}: no /collision topic and no world: collisions unknown (reported 0)")
    out["collisions"] = len(coll_times)
    t_reach = float(tt[reach_idx]) if reached else math.inf
    out["collisions_before_goal"] = sum(1 for c in coll_times if c <= t_reach)
    success = reached and out["collisions_before_goal"] == 0
    out["success"] = success

    # clearance
    if run.world is not None:
        out["min_clearance"] = float(np.min(run.world.clearance(traj[:, :2])) - cfg.robot_radius)
        out["min_clearance_source"] = "world (robot edge to obstacle)"
    elif len(run.scan_min):
        out["min_clearance"] = float(run.scan_min.min())
        out["min_clearance_source"] = "scan (lidar to nearest return)"
    else:
        out["min_clearance"] = None

    # SPL
    if run.goal is None:
        out["spl"] = None
        out["shortest_path"] = None
    else:
        ref_source = "straight line (no world)"
        length: float | None = float(math.hypot(run.goal[0] - start[0], run.goal[1] - start[1]))
        if run.world is not None:
            length = shortest_path_length(run.world, start, run.goal, cfg.robot_radius, cfg.grid_resolution)
            ref_source = "world shortest path"
        out["shortest_path"] = length
        out["shortest_path_source"] = ref_source
        if length is None:
            out["spl"] = None
            out["warnings"].append(f"{run.bag}: goal unreachable in the world for this radius: SPL undefined")
        else:
            out["spl"] = float(success) * length / max(p, length) if max(p, length) > 0 else float(success)

    # velocity
    if len(run.vel):
        out["mean_speed"] = float(np.mean(np.abs(run.vel[:, 0])))
        out["max_speed"] = float(np.max(np.abs(run.vel[:, 0])))

    # exploration and graph
    ct, area = coverage_over_time(run, cfg.grid_resolution)
    out["explored_area"] = float(area[-1]) if len(area) else None
    out["explored_area_over_time"] = [[round(float(a), 3), round(float(b), 3)] for a, b in zip(ct, area)]
    if run.graph_t:
        out["graph_nodes"] = run.graph_nodes[-1]
        out["graph_edges"] = run.graph_edges[-1]
        out["mapper_explored_area"] = run.graph_area[-1] if math.isfinite(run.graph_area[-1]) else None
        out["graph_size_over_time"] = [[round(t, 3), n, e] for t, n, e in
                                       zip(run.graph_t, run.graph_nodes, run.graph_edges)]
    else:
        out["graph_nodes"] = out["graph_edges"] = None

    # BARN: the challenge's OT (start -> reference path -> goal at 2 m/s), the one bench barn and train policy use
    world = run.world
    if world is not None and world.family == "barn":
        ot = barn_reference_time(world, cfg.barn_max_speed)
        at = out["time_to_goal"] if reached else math.inf
        out["barn_optimal_time"] = ot
        out["barn_metric"] = barn_score(ot, success, at)
    return out

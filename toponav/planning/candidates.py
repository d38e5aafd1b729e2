"""Candidate sub-goals, their features, and the heuristic score.

Candidates are the frontier nodes and the place nodes of the graph that are reachable from the robot's
current node. Each gets a feature vector (:data:`FEATURE_NAMES`), shared by the heuristic scorer and the
learned meta-controller so both see exactly the same information.

The heuristic score is a weighted sum (weights in :class:`ScoringWeights`)::

    score = w_novelty * rnd_novelty + w_visits / sqrt(1 + visits) + w_frontier * is_frontier
          + w_gain * frontier_size + w_log_gain * log(1 + frontier size)
          - w_crowding * places near the candidate + w_progress * goal_progress - w_cost * path_cost

The log-gain and path-cost terms together are the classic information-gain utility
``log(gain) - lambda * cost`` (i.e. ``gain * exp(-lambda * cost)``, Gonzalez-Banos & Latombe 2002): a
frontier twice as large is worth a fixed detour, not twice the detour. The crowding term (places of the
graph within ``density_radius`` of the candidate) is a graph-only proxy for the unknown area behind a
frontier: a frontier surrounded by places lies in mapped territory, one with few places around it opens
onto unknown space.

All weights and scales are **this project's own choices**: the TopoNav paper (arXiv 2402.04061)
describes the ingredients (novelty, visitation, frontier, goal progress, path cost) but publishes no
constants. Defaults were set by hand on training seeds of the exploration environment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toponav.config import param
from toponav.planning.graph import PlaceGraph

FEATURE_NAMES: list[str] = [
    "novelty",          # RND novelty of the candidate's observation features, clipped to [0, 1]
    "inv_sqrt_visits",  # 1 / sqrt(1 + visits)
    "frontier",         # 1 for frontier nodes
    "frontier_size",    # frontier extent / gain_scale, clipped to [0, 1]
    "path_cost",        # graph path cost from the current node / cost_scale, clipped to [0, 3]
    "euclid_dist",      # straight-line distance / cost_scale, clipped to [0, 3]
    "goal_known",       # 1 when a goal is set
    "goal_progress",    # (d(robot, goal) - d(candidate, goal)) / cost_scale, clipped to [-3, 3]
    "goal_dist",        # d(candidate, goal) / cost_scale, clipped to [0, 3]
    "n_frontiers",      # number of frontier candidates / 20, clipped to [0, 1] (context)
    "is_current",       # 1 for the node the robot stands at
    "log_frontier_size",  # log(1 + frontier extent in m) / log(17), clipped to [0, 1.5]
    "place_density",    # places within density_radius of the candidate / 10, clipped to [0, 3]
]
FEATURE_DIM = len(FEATURE_NAMES)
_LOG17 = math.log(17.0)


@dataclass
class ScoringWeights:
    """Weights of the heuristic sub-goal score (ours; TopoNav gives none)."""

    novelty: float = param(1.5, "weight of RND novelty (0..1 after clipping)")
    visits: float = param(0.5, "weight of 1/sqrt(1+visits)")
    frontier: float = param(2.0, "bonus for frontier nodes")
    gain: float = param(0.0, "weight of the frontier size, linear and clipped at gain_scale")
    log_gain: float = param(2.8, "weight of log(1 + frontier size)/log(17) (expected information gain)")
    crowding: float = param(4.0, "penalty per 10 places within density_radius of the candidate")
    progress: float = param(3.0, "weight of goal progress (when a goal is known)")
    cost: float = param(2.0, "weight of the path cost from the current node")
    cost_scale: float = param(10.0, "metres that count as one unit of path cost / distance", min=0.1)
    gain_scale: float = param(4.0, "frontier size (m) that counts as a full gain of 1", min=0.01)
    novelty_scale: float = param(5.0, "RND novelty that counts as 1 (then clipped)", min=1e-6)
    density_radius: float = param(6.0, "radius (m) in which places count toward place_density", min=0.0)


#: (N, 2) points -> (N,) distances to the goal (the planner's optimistic field; NaN where it has no value).
GoalDistance = Callable[[np.ndarray], np.ndarray]


@dataclass
class Candidates:
    """The candidate set of one decision, aligned arrays."""

    ids: list[str]
    features: np.ndarray  # (K, FEATURE_DIM) float32
    costs: np.ndarray  # (K,) path cost in metres
    prev: dict[str, str]  # Dijkstra predecessors from the current node (to rebuild paths)
    source: str

    def __len__(self) -> int:
        return len(self.ids)


def build_candidates(graph: PlaceGraph, current: str, robot_xy: tuple[float, float],
                     goal: tuple[float, float] | None, weights: ScoringWeights,
                     novelty: dict[str, float] | None = None, exclude: set[str] | None = None,
                     include_places: bool = True, goal_distance: GoalDistance | None = None) -> Candidates:
    """Features of every reachable frontier (and place, if ``include_places``) except ``exclude``.

    ``goal_distance`` maps (N, 2) points to their distance to ``goal`` (the planner passes the optimistic
    path length of :class:`toponav.planning.goal_field.GoalField`); by default, and wherever it gives no
    finite value for the robot, the straight line. A candidate the known walls cut off from the goal (inf)
    gets the lowest progress.
    """
    dist, prev = graph.dijkstra(current)
    exclude = exclude or set()
    n_front = sum(1 for p in graph.nodes.values() if p.frontier and p.id in dist)
    keep = [nid for nid in dist
            if nid not in exclude and (graph.nodes[nid].frontier or include_places)]
    rx, ry = robot_xy
    d_goals = _goal_distances(graph, keep, robot_xy, goal, goal_distance)
    d_robot_goal = d_goals[-1] if goal is not None else 0.0
    ids, rows, costs = [], [], []
    s = weights.cost_scale
    for nid, d_goal in zip(keep, d_goals[:-1].tolist(), strict=True):
        p, cost = graph.nodes[nid], dist[nid]
        nov = 0.0 if novelty is None else float(novelty.get(nid, 0.0))
        if goal is not None:
            progress = float(np.clip((d_robot_goal - d_goal) / s, -3, 3))
            goal_dist = min(d_goal / s, 3.0)
        else:
            progress = goal_dist = 0.0
        rows.append([
            float(np.clip(nov / weights.novelty_scale, 0.0, 1.0)),
            1.0 / math.sqrt(1.0 + max(p.visits, 0)),
            1.0 if p.frontier else 0.0,
            float(np.clip(p.frontier_size / weights.gain_scale, 0.0, 1.0)),
            min(cost / s, 3.0),
            min(math.hypot(p.x - rx, p.y - ry) / s, 3.0),
            1.0 if goal is not None else 0.0,
            progress,
            goal_dist,
            min(n_front / 20.0, 1.0),
            1.0 if nid == current else 0.0,
            float(np.clip(math.log1p(max(p.frontier_size, 0.0)) / _LOG17, 0.0, 1.5)),
        ])
        ids.append(nid)
        costs.append(cost)
    # place_density, the last feature, is computed for all candidates at once
    feats = np.column_stack([np.asarray(rows, dtype=np.float32).reshape(-1, FEATURE_DIM - 1),
                             _place_density(graph, ids, weights.density_radius)])
    return Candidates(ids, feats, np.asarray(costs, dtype=np.float64), prev, current)


def distances_to(xy: np.ndarray, goal: tuple[float, float], goal_distance: GoalDistance | None) -> np.ndarray:
    """(N,) distance of each point to ``goal``: ``goal_distance`` where it gives a value (inf = cut off by known
    walls), the straight line where it gives NaN (not covered) or when there is none."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    straight = np.hypot(xy[:, 0] - goal[0], xy[:, 1] - goal[1])
    if goal_distance is None or len(xy) == 0:
        return straight
    d = np.asarray(goal_distance(xy), dtype=np.float64).reshape(-1)
    return np.where(np.isnan(d), straight, d)


def _goal_distances(graph: PlaceGraph, ids: list[str], robot_xy: tuple[float, float],
                    goal: tuple[float, float] | None, goal_distance: GoalDistance | None) -> np.ndarray:
    """Distance to the goal of each candidate, then of the robot (last entry); zeros without a goal."""
    xy = np.asarray([(graph.nodes[i].x, graph.nodes[i].y) for i in ids] + [robot_xy], dtype=np.float64)
    if goal is None:
        return np.zeros(len(xy))
    d = distances_to(xy, goal, goal_distance)
    if not math.isfinite(d[-1]):
        return distances_to(xy, goal, None)  # the robot itself off the field: the straight line for everyone
    return d


def _place_density(graph: PlaceGraph, ids: list[str], radius: float) -> np.ndarray:
    """``place_density`` of each candidate: places (not frontiers) within ``radius`` / 10, clipped at 3.

    One broadcast over candidates x places instead of one numpy call per candidate.
    """
    places = np.asarray([(p.x, p.y) for p in graph.nodes.values() if not p.frontier], dtype=np.float64).reshape(-1, 2)
    cand = np.asarray([(graph.nodes[i].x, graph.nodes[i].y) for i in ids], dtype=np.float64).reshape(-1, 2)
    near = (((cand[:, None, :] - places[None, :, :]) ** 2).sum(-1) < radius**2).sum(1)
    return np.minimum(near / 10.0, 3.0).astype(np.float32)


def heuristic_scores(feats: np.ndarray, w: ScoringWeights) -> np.ndarray:
    """Weighted-sum score per candidate row of :func:`build_candidates` features."""
    f = np.asarray(feats, dtype=np.float64).reshape(-1, FEATURE_DIM)
    return (w.novelty * f[:, 0] + w.visits * f[:, 1] + w.frontier * f[:, 2] + w.gain * f[:, 3]
            + w.log_gain * f[:, 11] - w.crowding * f[:, 12] + w.progress * f[:, 7] - w.cost * f[:, 4])

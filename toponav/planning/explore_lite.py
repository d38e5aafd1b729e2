"""The classic baseline's sub-goal choice: explore_lite-style greedy frontier selection.

m-explore's ``explore_lite`` (the frontier explorer most ROS users start with) ranks frontiers by a cost
and sends the cheapest one to the navigation stack::

    cost = potential_scale * distance_to_frontier - gain_scale * frontier_size     (both in metres)

with the defaults of its launch files, ``potential_scale`` 3 and ``gain_scale`` 1, and ignores frontiers
shorter than ``min_frontier_size`` (0.5 m). It has no notion of a goal, of novelty or of visit counts:
that is what makes it the reference to measure toponav's scorer against. This module is our own code,
written from that published rule, not a port.

Differences, stated so the comparison stays honest:

* the candidates are the frontier nodes of toponav's topological graph (the same ones toponav's scorer
  sees), and a frontier's size is the boundary length the mapper reports for it;
* the distance is the path cost over the graph from the robot's place (explore_lite takes the straight
  line to the frontier's nearest cell); on a graph the path cost is the closest analogue, and it never
  favours a frontier behind a wall for being near;
* everything around the choice (goal handling with the straight last leg to a visible goal, stale/
  unreachable detection, blacklisting, the controller) is the planner's and the same for both methods,
  so a benchmark of the two isolates sub-goal selection.

The planner maximises scores, so :meth:`ExploreLiteScorer.score` returns ``-cost``. Candidates that are not
frontiers, or frontiers below ``min_frontier_size``, rank after every valid frontier (by their own cost)
instead of being dropped: the planner always gets an ordering, and explore_lite's "no frontier left" is
still visible in the graph (the planner reports it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toponav.config import param
from toponav.planning.candidates import FEATURE_NAMES, Candidates

_FRONTIER = FEATURE_NAMES.index("frontier")
_LOG_SIZE = FEATURE_NAMES.index("log_frontier_size")
_LOG17 = math.log(17.0)
#: Added to the cost of candidates explore_lite would not consider, so they rank after all valid frontiers.
_PENALTY_SMALL = 1e6
_PENALTY_PLACE = 2e6


@dataclass
class ExploreLiteSettings:
    """explore_lite's frontier-cost parameters (planner.explore_lite.*; used when planner.mode is explore_lite)."""

    potential_scale: float = param(3.0, "weight of the distance to a frontier (explore_lite potential_scale)",
                                   min=0.0)
    gain_scale: float = param(1.0, "weight of a frontier's size (explore_lite gain_scale)", min=0.0)
    min_frontier_size: float = param(0.5, "frontiers shorter than this (m) are not considered", min=0.0)


def frontier_sizes(cands: Candidates) -> np.ndarray:
    """Frontier size (m) of each candidate, recovered from the ``log_frontier_size`` feature.

    The feature is ``log(1 + size) / log(17)`` clipped at 1.5, so sizes are exact up to about 69 m, which is
    longer than any single frontier of a building-sized map.
    """
    f = np.asarray(cands.features, dtype=np.float64).reshape(len(cands), -1)
    return np.expm1(f[:, _LOG_SIZE] * _LOG17)


def explore_lite_costs(distance: np.ndarray, size: np.ndarray, settings: ExploreLiteSettings) -> np.ndarray:
    """explore_lite's frontier cost for arrays of distances and sizes (metres); lower is better."""
    return settings.potential_scale * np.asarray(distance, dtype=np.float64) \
        - settings.gain_scale * np.asarray(size, dtype=np.float64)


class ExploreLiteScorer:
    """Scores candidates as ``-cost`` of explore_lite's rule (see the module docstring)."""

    name = "explore_lite"

    def __init__(self, settings: ExploreLiteSettings | None = None) -> None:
        self.settings = settings or ExploreLiteSettings()

    def score(self, cands: Candidates) -> np.ndarray:
        if len(cands) == 0:
            return np.zeros(0)
        f = np.asarray(cands.features, dtype=np.float64).reshape(len(cands), -1)
        size = frontier_sizes(cands)
        cost = explore_lite_costs(cands.costs, size, self.settings)
        frontier = f[:, _FRONTIER] > 0.5
        small = frontier & (size < self.settings.min_frontier_size - 1e-6)
        cost = cost + np.where(small, _PENALTY_SMALL, 0.0) + np.where(frontier, 0.0, _PENALTY_PLACE)
        return -cost

"""The explore_lite baseline scorer: its published cost rule on small synthetic graphs, and its dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from toponav.planning import Place, PlaceGraph, ScoringWeights
from toponav.planning.candidates import build_candidates
from toponav.planning.explore_lite import ExploreLiteScorer, ExploreLiteSettings, explore_lite_costs, frontier_sizes
from toponav.planning.planner import PlannerConfig, SubgoalPlanner
from toponav.planning.scorers import make_scorer


def _graph(*nodes: tuple[str, float, float, bool, float]) -> PlaceGraph:
    """A star around place ``a`` at the origin: every other node linked straight to it."""
    g = PlaceGraph()
    g.add_node(Place("a", 0.0, 0.0, 1, False, 0.0))
    for nid, x, y, frontier, size in nodes:
        g.add_node(Place(nid, x, y, 0, frontier, size))
        g.add_edge("a", nid)
    return g


def _choice(g: PlaceGraph, settings: ExploreLiteSettings | None = None, goal=None) -> str:
    c = build_candidates(g, "a", (0.0, 0.0), goal, ScoringWeights(), None, {"a"}, include_places=True)
    return c.ids[int(np.argmax(ExploreLiteScorer(settings).score(c)))]


def test_cost_is_potential_times_distance_minus_gain_times_size() -> None:
    s = ExploreLiteSettings()  # potential_scale 3, gain_scale 1
    assert explore_lite_costs(np.array([2.0, 5.0]), np.array([1.0, 10.0]), s).tolist() == [5.0, 5.0]


def test_sizes_recovered_from_the_features() -> None:
    g = _graph(("f1", 3, 0, True, 0.8), ("f2", 0, 4, True, 12.0), ("f3", -2, 0, True, 40.0))
    c = build_candidates(g, "a", (0.0, 0.0), None, ScoringWeights(), None, {"a"}, include_places=False)
    assert frontier_sizes(c) == pytest.approx([0.8, 12.0, 40.0], rel=1e-4)


def test_near_small_frontier_beats_far_large_one_only_as_the_weights_say() -> None:
    # near: 3*2 - 1 = 5; far: 3*6 - 10 = 8 -> near wins with the defaults
    g = _graph(("near", 2, 0, True, 1.0), ("far", 0, 6, True, 10.0))
    assert _choice(g) == "near"
    # gain_scale 3: near 6 - 3 = 3, far 18 - 30 = -12 -> far wins
    assert _choice(g, ExploreLiteSettings(gain_scale=3.0)) == "far"


def test_goal_and_places_do_not_sway_it() -> None:
    # a goal beside the far frontier and a visited place right beside the robot change nothing
    g = _graph(("near", 2, 0, True, 1.0), ("far", 0, 6, True, 1.0), ("p", 0.5, 0, False, 0.0))
    assert _choice(g, goal=(0.0, 8.0)) == "near"


def test_frontiers_below_min_size_rank_last() -> None:
    g = _graph(("tiny", 1, 0, True, 0.2), ("ok", 0, 5, True, 1.0))
    assert _choice(g) == "ok"
    only_tiny = _graph(("tiny", 1, 0, True, 0.2))
    assert _choice(only_tiny) == "tiny"  # still an ordering when nothing else is left


def test_planner_dispatch() -> None:
    scorer, mode = make_scorer(PlannerConfig(mode="explore_lite"), lambda *_: None)
    assert mode == "explore_lite" and isinstance(scorer, ExploreLiteScorer)
    planner = SubgoalPlanner(PlannerConfig(mode="explore_lite"))
    planner.set_graph(_graph(("near", 2, 0, True, 1.0), ("far", 0, 6, True, 10.0)))
    planner.set_pose(0.0, 0.0)
    d = planner.step(0.0)
    assert d.target == "near" and planner.mode == "explore_lite"

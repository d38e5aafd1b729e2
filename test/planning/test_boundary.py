"""Exploration boundary (frontier_exploration's polygon): frontiers outside the world are no sub-goals.

Regression for issue 14 (forest held-out seed 1000000): frontiers placed outside the world bounds drew the
robot to the boundary wall.
"""

from __future__ import annotations

import numpy as np
import pytest

from toponav.planning import Place, PlaceGraph, PlannerConfig, State, SubgoalPlanner
from toponav.planning.boundary import boundary_polygon, inside_polygon


def _graph() -> PlaceGraph:
    """Places a(1,1)-b(3,1); a big frontier at (5.2, 1) beyond the world's east edge x = 5, a small one inside."""
    g = PlaceGraph()
    g.add_node(Place("a", 1.0, 1.0, visits=1))
    g.add_node(Place("b", 3.0, 1.0, visits=1))
    g.add_node(Place("out", 5.2, 1.0, frontier=True, frontier_size=4.0))
    g.add_node(Place("in", 3.0, 3.0, frontier=True, frontier_size=0.5))
    g.add_edge("a", "b")
    g.add_edge("b", "out")
    g.add_edge("b", "in")
    return g


def _planner(boundary: list[float]) -> SubgoalPlanner:
    cfg = PlannerConfig(boundary=boundary)
    cfg.rnd.enabled = False
    p = SubgoalPlanner(cfg)
    p.set_graph(_graph())
    p.set_pose(1.0, 1.0)
    return p


def test_without_a_boundary_the_big_frontier_wins_and_with_one_it_is_ignored() -> None:
    assert _planner([]).step(0.0).target == "out"
    assert _planner([0.0, 0.0, 5.0, 5.0]).step(0.0).target == "in"


def test_only_frontiers_outside_means_exploration_complete_not_stuck() -> None:
    p = _planner([0.0, 0.0, 5.0, 5.0])
    g = _graph()
    del g.nodes["in"], g.adj["in"], g.adj["b"]["in"]
    p.set_graph(g)
    d = p.step(0.0)
    assert d.state == State.DONE and d.subgoal is None


def test_polygon_and_margin() -> None:
    tri = boundary_polygon([0, 0, 4, 0, 0, 4])
    pts = np.array([[1.0, 1.0], [3.0, 3.0], [0.1, 2.0], [-1.0, 1.0]])
    np.testing.assert_array_equal(inside_polygon(pts, tri), [True, False, True, False])
    np.testing.assert_array_equal(inside_polygon(pts, tri, margin=0.3), [True, False, False, False])
    assert boundary_polygon([]) is None


@pytest.mark.parametrize("bad", [[0, 0, 1], [1, 1, 0, 0], [0, 0, 1, 0, 1], [0, 0, float("nan"), 1]])
def test_malformed_boundary_is_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="boundary"):
        boundary_polygon(bad)

"""Same seed, same decisions: the planner's RND batches come from its own seeded generator (issue 14)."""

from __future__ import annotations

import numpy as np

from toponav.planning import Place, PlaceGraph, PlannerConfig, SubgoalPlanner


def _graph() -> PlaceGraph:
    g = PlaceGraph()
    for i in range(6):
        g.add_node(Place(str(i), 1.5 * i, 0.3 * (i % 2), visits=1, descriptor=np.full(8, 0.1 * i, np.float32)))
        if i:
            g.add_edge(str(i - 1), str(i))
    g.add_node(Place("f", 10.0, 0.0, frontier=True, frontier_size=2.0))
    g.add_edge("5", "f")
    return g


def _novelty_after_walk(global_seed: int) -> dict[str, float]:
    p = SubgoalPlanner(PlannerConfig())
    p.set_graph(_graph())
    for k in range(40):
        np.random.seed(global_seed + k)  # someone else in the process drawing from the global generator
        np.random.rand(7)
        p.set_pose(0.2 * k, 0.0)
        p.step(0.5 * k)
    return p.novelty()


def test_global_random_state_does_not_change_the_planner() -> None:
    a, b = _novelty_after_walk(1), _novelty_after_walk(1234)
    assert a and a.keys() == b.keys()
    np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=0, atol=0)

"""The exploration-environment abstraction and the agents that run on it."""

from __future__ import annotations

import numpy as np
import torch

from toponav.learning.explore_agents import run_nearest_frontier, run_random_walk, run_toponav
from toponav.learning.explore_env import ExploreEnv
from toponav.planning import PlannerConfig
from toponav.worlds.model import World

torch.set_num_threads(1)


def _two_rooms() -> World:
    # 12 x 6 m, a wall at x=6 with a 1.2 m door at y in [2.4, 3.6]
    return World(name="rooms", family="test", seed=0, bounds=(0.0, 0.0, 12.0, 6.0), start=(1.0, 3.0, 0.0),
                 goal=(11.0, 3.0), boxes=((6.0, 1.2, 0.1, 1.2, 0.0), (6.0, 4.8, 0.1, 1.2, 0.0)))


def test_scan_marks_known_space_and_walls_block_view() -> None:
    env = ExploreEnv(_two_rooms())
    assert env.known[env.cell(2.0, 3.0)] == 1
    assert env.known[env.cell(9.0, 1.0)] == 0  # behind the wall, out of the door's line of sight
    assert 0.0 < env.coverage() < 0.6
    assert np.all(env.last_scan <= env.cfg.range_max)
    g = env.graph()
    assert len(g.frontier_ids()) >= 1 and any(not p.frontier for p in g.nodes.values())
    assert g.explored_area == env.explored_area()


def test_go_to_moves_through_known_space_and_counts_steps() -> None:
    env = ExploreEnv(_two_rooms())
    assert env.go_to(5.0, 3.0, max_steps=10_000)
    assert abs(env.pose[0] - 5.0) < 0.3 and env.steps > 0
    assert env.steps * env.cfg.dt * env.cfg.speed >= env.distance * 0.9
    assert not env.go_to(11.0, 3.0, max_steps=env.steps + 3)  # budget stops it
    fresh = env.fresh()
    assert fresh.steps == 0 and fresh.occ is env.occ


def test_primitive_moves_are_blocked_by_walls() -> None:
    env = ExploreEnv(_two_rooms())
    env.reset(start=(5.6, 1.0))
    assert not env.primitive(0)  # east, into the wall
    assert env.collisions == 1 and env.pose == env.xy(env.cell(5.6, 1.0))
    assert env.primitive(4)  # west is free


def test_agents_explore_and_reach_goal() -> None:
    base = ExploreEnv(_two_rooms())
    cfg = PlannerConfig()
    ep = run_toponav(base.fresh(), 3000, cfg=cfg)
    assert ep.coverage > 0.9  # explores both rooms
    ep_goal = run_toponav(base.fresh(), 3000, goal=(11.0, 3.0), cfg=cfg)
    assert ep_goal.success and ep_goal.time_s < 300
    nf = run_nearest_frontier(base.fresh(), 3000)
    assert nf.coverage > 0.9
    rw = run_random_walk(base.fresh(), 300, rng=np.random.default_rng(0))
    assert rw.coverage < ep.coverage

"""Agents and baselines of the exploration experiments, all driven on :class:`toponav.learning.explore_env.ExploreEnv`.

Every agent runs one episode under the same step budget and reports the same numbers, so
``toponav bench explore`` compares them side by side (and ``toponav train meta`` trains and evaluates the
meta-controller through :func:`run_toponav`):

* ``random_walk``       uniformly random primitive moves;
* ``nearest_frontier``  explore_lite style: go to the frontier minimising
                        ``potential_scale * distance - gain_scale * size`` (explore_lite defaults 3 and 1),
                        replanning every ``replan_distance`` metres, blacklisting frontiers it fails to reach;
* ``toponav``           :class:`toponav.planning.SubgoalPlanner` (heuristic or learned scorer);
* ``flat``              a flat policy (PPO / PPO+RND) choosing primitive moves from local observations.

With a goal, the episode ends on reaching it (success); exploration-only episodes run to the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from toponav.learning.explore_env import ExploreEnv
from toponav.planning import PlannerConfig, State, SubgoalPlanner

REPLAN_DISTANCE = 3.0  # metres travelled between replans for every graph-based agent (the mapper's update)


@dataclass
class Episode:
    area: float = 0.0  # explored (known-free) m^2 at the end
    coverage: float = 0.0  # fraction of the world's free area
    success: bool = False  # goal reached (goal episodes)
    time_s: float = math.inf  # sim seconds to the goal (inf when not reached)
    steps: int = 0
    curve: list[tuple[int, float]] = field(default_factory=list)  # (steps, explored m^2)
    decisions: int = 0


def _record(env: ExploreEnv, ep: Episode) -> None:
    ep.curve.append((env.steps, env.explored_area()))


def _finish(env: ExploreEnv, ep: Episode, goal: tuple[float, float] | None) -> Episode:
    _record(env, ep)
    ep.area, ep.coverage, ep.steps = env.explored_area(), env.coverage(), env.steps
    if goal is not None and env.at_goal(goal):
        ep.success, ep.time_s = True, env.time
    return ep


def run_toponav(env: ExploreEnv, budget: int, goal: tuple[float, float] | None = None,
                cfg: PlannerConfig | None = None, scorer=None,
                on_decision: Callable[[ExploreEnv], None] | None = None) -> Episode:
    """Sub-goal planner in the loop: graph -> planner.step -> travel toward the target (<= 3 m) -> repeat."""
    planner = SubgoalPlanner(cfg or PlannerConfig(), scorer=scorer)
    if goal is not None:
        planner.set_goal(*goal)
    ep = Episode()
    idle = 0
    while env.steps < budget:
        if goal is not None and env.at_goal(goal):
            break
        planner.set_graph(env.graph())
        planner.set_pose(*env.pose)
        d = planner.step(env.time)
        if on_decision is not None and d.replanned:
            on_decision(env)
        ep.decisions += int(d.replanned)
        _record(env, ep)
        if planner.target is None or d.state in (State.DONE, State.STUCK, State.IDLE):
            break
        before = env.steps
        env.go_to(planner.target.x, planner.target.y, budget, max_distance=REPLAN_DISTANCE)
        if env.steps == before:  # the controller could not move toward it
            planner.report_failure("no path", env.time)
            env.steps += 10  # one second spent trying
            idle += 1
            if idle > 50:
                break
    return _finish(env, ep, goal)


def run_nearest_frontier(env: ExploreEnv, budget: int, goal: tuple[float, float] | None = None,
                         potential_scale: float = 3.0, gain_scale: float = 1.0) -> Episode:
    """explore_lite's frontier choice; with a goal it heads there once a path through known space exists."""
    ep = Episode()
    blacklist: set[tuple[int, int]] = set()
    while env.steps < budget:
        if goal is not None and env.at_goal(goal):
            break
        _record(env, ep)
        x, y = env.pose
        to_goal = env.plan(*goal) if goal is not None and env.known[env.cell(*goal)] == 1 else []
        if to_goal and math.hypot(to_goal[-1][0] - goal[0], to_goal[-1][1] - goal[1]) <= env.cfg.goal_tolerance:
            tx, ty = goal  # the goal is seen and reachable through known space
        else:
            g = env.graph()
            best, best_cost = None, math.inf
            for p in g.nodes.values():
                if not p.frontier or env.cell(p.x, p.y) in blacklist:
                    continue
                cost = potential_scale * math.hypot(p.x - x, p.y - y) - gain_scale * p.frontier_size
                if cost < best_cost:
                    best, best_cost = p, cost
            if best is None:
                break
            tx, ty = best.x, best.y
        ep.decisions += 1
        before = env.steps
        env.go_to(tx, ty, budget, max_distance=REPLAN_DISTANCE)
        if env.steps == before:
            blacklist.add(env.cell(tx, ty))
            env.steps += 10
    return _finish(env, ep, goal)


def run_random_walk(env: ExploreEnv, budget: int, goal: tuple[float, float] | None = None,
                    rng: np.random.Generator | None = None) -> Episode:
    rng = rng or np.random.default_rng(0)
    return _run_primitives(env, lambda: int(rng.integers(0, 8)), budget, goal)


def flat_observation(env: ExploreEnv, goal: tuple[float, float] | None) -> np.ndarray:
    """Flat policy input: 16-sector scan descriptor, pose encoding, goal vector, local visit count."""
    from toponav.models.rnd import observation_features, scan_descriptor

    x, y = env.pose
    base = observation_features(x, y, scan_descriptor(env.last_scan, env.cfg.range_max))
    if goal is not None:
        dx, dy = goal[0] - x, goal[1] - y
        d = math.hypot(dx, dy)
        g = [1.0, dx / max(d, 1e-6), dy / max(d, 1e-6), min(d / 20.0, 1.0)]
    else:
        g = [0.0, 0.0, 0.0, 0.0]
    visits = min(env.visit_grid[env.cell(x, y)] / 10.0, 1.0)
    return np.concatenate([base, np.asarray([*g, visits], dtype=np.float32)])


FLAT_OBS_DIM = 16 + 12 + 5


def run_flat(env: ExploreEnv, act: Callable[[np.ndarray], int], budget: int,
             goal: tuple[float, float] | None = None) -> Episode:
    return _run_primitives(env, lambda: act(flat_observation(env, goal)), budget, goal)


def _run_primitives(env: ExploreEnv, choose: Callable[[], int], budget: int,
                    goal: tuple[float, float] | None) -> Episode:
    """The flat agents' loop: one primitive move per ``choose()`` until the budget or the goal."""
    ep = Episode()
    while env.steps < budget:
        if goal is not None and env.at_goal(goal):
            break
        if env.steps % 50 < 5:
            _record(env, ep)
        env.primitive(choose())
    return _finish(env, ep, goal)

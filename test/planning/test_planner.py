"""Planner state machine: exploring/navigating/done/stuck, replanning triggers, blacklisting, return home."""

from __future__ import annotations

import math

import pytest

from toponav.planning import Place, PlaceGraph, PlannerConfig, State, SubgoalPlanner


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, level: str, msg: str) -> None:
        self.lines.append((level, msg))

    def has(self, level: str, text: str) -> bool:
        return any(lv == level and text in m for lv, m in self.lines)


def corridor(frontier_at: float = 6.0, side: bool = False) -> PlaceGraph:
    """Places a(0,0)-b(2,0)-c(4,0) and a frontier further east (and optionally one north of b)."""
    g = PlaceGraph()
    for nid, x in (("a", 0.0), ("b", 2.0), ("c", 4.0)):
        g.add_node(Place(nid, x, 0.0, visits=1))
    g.add_node(Place("f1", frontier_at, 0.0, frontier=True, frontier_size=2.0))
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    g.add_edge("c", "f1")
    if side:
        g.add_node(Place("f2", 2.0, 3.0, frontier=True, frontier_size=1.0))
        g.add_edge("b", "f2")
    return g


def planner(log: Log, **kw) -> SubgoalPlanner:
    cfg = PlannerConfig(**{k: v for k, v in kw.items()})
    cfg.rnd.enabled = False
    return SubgoalPlanner(cfg, log=log)


def test_waits_then_explores_and_publishes_path() -> None:
    log = Log()
    p = planner(log)
    assert p.step(0.0).state == State.IDLE
    p.set_graph(corridor())
    p.set_pose(0.0, 0.0)
    d = p.step(0.1)
    assert d.state == State.EXPLORING and d.target == "f1" and d.replanned
    assert d.path[0] == (0.0, 0.0) and d.path[-1] == (6.0, 0.0)
    assert d.subgoal == (2.0, 0.0)  # lookahead 2 m along the graph path
    d = p.step(0.2)
    assert not d.replanned and d.target == "f1"  # keeps its sub-goal


def test_subgoal_never_points_back_to_a_passed_place() -> None:
    """Robot past place b (nearest place) on the way to f1: the path and sub-goal start ahead of it."""
    p = planner(Log(), lookahead=1.0)
    p.set_graph(corridor())
    p.set_pose(0.0, 0.0)
    p.step(0.0)
    for x in (2.4, 2.9, 4.3, 4.9):  # nearest place is b (2,0) or c (4,0), both behind the robot at times
        p.set_pose(x, 0.1)
        d = p.step(x)
        assert d.target == "f1"
        assert d.subgoal is not None and d.subgoal[0] > x, (x, d.subgoal)
        assert all(q[0] >= x - 1e-6 for q in d.path[1:]), d.path


def test_detour_progress_is_not_stale() -> None:
    """Progress is path length to go: moving along a detour resets the stale timer."""
    g = PlaceGraph()
    for nid, x, y in (("a", 0.0, 0.0), ("b", 0.0, 3.0), ("c", 3.0, 3.0)):
        g.add_node(Place(nid, x, y, visits=1))
    g.add_node(Place("f", 3.0, 0.0, frontier=True, frontier_size=2.0))  # behind a wall from a
    for u, v in (("a", "b"), ("b", "c"), ("c", "f")):
        g.add_edge(u, v)
    p = planner(Log(), stale_timeout=5.0)
    p.set_graph(g)
    p.set_pose(0.0, 0.0)
    assert p.step(0.0).target == "f"
    for i, (x, y) in enumerate([(0.0, 1.5), (0.0, 3.0), (1.5, 3.0), (3.0, 3.0)], start=1):
        p.set_pose(x, y)  # straight-line distance to f grows at first, path length shrinks
        d = p.step(4.0 * i)
        assert not d.replanned, d.reason


def test_replans_when_reached() -> None:
    log = Log()
    p = planner(log)
    g = corridor(side=True)
    g.nodes["f2"].frontier_size = 0.0
    p.set_graph(g)
    p.set_pose(0.0, 0.0)
    first = p.step(0.0).target
    p.set_pose(*((6.0, 0.0) if first == "f1" else (2.0, 3.0)))
    d = p.step(1.0)
    assert d.replanned and "reached" in d.reason and d.target != first


def test_frontier_closed_replans_without_failure() -> None:
    log = Log()
    p = planner(log)
    p.set_graph(corridor(side=True))
    p.set_pose(0.0, 0.0)
    first = p.step(0.0).target
    g = corridor(side=True)
    del g.nodes[first]
    for nb in g.adj.pop(first):
        g.adj[nb].pop(first)
    p.set_graph(g)
    d = p.step(1.0)
    assert d.replanned and "closed" in d.reason and not p.failures


def test_stale_subgoal_fails_and_is_blacklisted_after_repeats() -> None:
    log = Log()
    p = planner(log, stale_timeout=5.0, max_failures=2)
    p.set_graph(corridor(side=True))
    p.set_pose(0.0, 0.0)
    assert p.step(0.0).target == "f1"
    d = p.step(6.0)  # no progress for 6 s
    assert d.replanned and "stale" in d.reason
    assert log.has("info", "failed (no progress")
    # Still the best candidate: chosen again, fails again -> blacklisted, and the log says so.
    assert d.target == "f1"
    d = p.step(12.5)
    assert log.has("warn", "blacklisting sub-goal f1")
    assert d.target == "f2"
    assert p.is_blacklisted(6.0, 0.0, 13.0)


def test_progress_resets_stale_timer() -> None:
    p = planner(Log(), stale_timeout=5.0)
    p.set_graph(corridor())
    p.set_pose(0.0, 0.0)
    p.step(0.0)
    for i in range(1, 5):
        p.set_pose(i * 1.0, 0.0)
        d = p.step(i * 4.0)
        assert not d.replanned


def test_unreachable_subgoal_counts_as_failure() -> None:
    log = Log()
    p = planner(log, max_failures=1, blacklist_duration=10.0)
    p.set_graph(corridor())
    p.set_pose(0.0, 0.0)
    assert p.step(0.0).target == "f1"
    g = corridor()
    g.adj["c"].pop("f1")
    g.adj["f1"].pop("c")  # the edge to the frontier is gone: unreachable now
    p.set_graph(g)
    d = p.step(1.0)
    assert log.has("warn", "blacklisting sub-goal f1") and "unreachable" in d.reason
    assert d.state == State.STUCK  # the only frontier is blacklisted
    assert log.has("warn", "stuck")
    # Temporary blacklist expires.
    p.set_graph(corridor())
    assert p.step(20.0).target == "f1"


def test_done_when_no_frontier_and_on_goal() -> None:
    log = Log()
    p = planner(log)
    g = corridor()
    del g.nodes["f1"]
    g.adj["c"].pop("f1")
    g.adj.pop("f1")
    p.set_graph(g)
    p.set_pose(0.0, 0.0)
    assert p.step(0.0).state == State.DONE
    assert log.has("info", "exploration complete")
    p.set_goal(4.2, 0.0)
    d = p.step(1.0)
    assert d.state == State.NAVIGATING and d.path[-1] == (4.2, 0.0)
    p.set_pose(4.1, 0.1)
    assert p.step(2.0).state == State.DONE and log.has("info", "goal reached")
    # arrived inside the tolerance circle, off centre: the goal itself stays the sub-goal, so the controller
    # settles on it rather than where the circle was entered (a corrected pose is off by centimetres)
    p.set_pose(4.6, 0.2)
    d = p.step(3.0)
    assert d.state == State.DONE and d.subgoal == (4.2, 0.0)


def test_goal_off_graph_explores_toward_it_then_navigates() -> None:
    p = planner(Log())
    p.set_graph(corridor(side=True))
    p.set_pose(2.0, 0.0)
    p.set_goal(2.0, 10.0)
    d = p.step(0.0)
    assert d.state == State.EXPLORING and d.target == "f2"  # progress toward the goal beats the bigger frontier
    g = corridor(side=True)
    g.add_node(Place("d", 2.0, 9.0, visits=1))
    g.add_edge("f2", "d")
    p.set_graph(g)
    d = p.step(1.0)
    assert d.state == State.NAVIGATING and d.path[-1] == (2.0, 10.0)


def test_return_home_and_stop() -> None:
    log = Log()
    p = planner(log)
    p.set_graph(corridor())
    p.set_pose(0.0, 0.0)  # home
    p.step(0.0)
    p.set_pose(4.0, 0.0)
    assert p.return_home()
    d = p.step(1.0)
    assert d.state == State.NAVIGATING and d.path[-1] == (0.0, 0.0)
    p.set_pose(0.1, 0.0)
    assert p.step(2.0).state == State.DONE
    p.set_exploring(False)
    p.returning_home = False
    assert p.step(3.0).state == State.IDLE


def test_bad_inputs_are_ignored() -> None:
    log = Log()
    p = planner(log)
    assert not p.set_pose(float("nan"), 0.0)
    assert not p.set_goal(0.0, float("inf"))
    assert log.has("warn", "non-finite")
    assert p.step(0.0).state == State.IDLE


@pytest.mark.parametrize("mode", ["heuristic", "learned"])
def test_rnd_enabled_runs(mode: str, tmp_path) -> None:
    cfg = PlannerConfig(mode=mode, checkpoint=str(tmp_path / "none.pt"))
    p = SubgoalPlanner(cfg, log=Log())
    p.set_graph(corridor(side=True))
    for i in range(40):
        p.set_pose(0.0 + 0.01 * i, 0.0)
        p.step(0.1 * i)
    nov = p.novelty()
    assert set(nov) == {"a", "b", "c", "f1", "f2"}


def test_switch_margin_replans_for_a_much_better_subgoal() -> None:
    for margin, switches in ((0.0, False), (0.5, True)):
        p = planner(Log(), switch_margin=margin)
        p.set_graph(corridor())
        p.set_pose(0.0, 0.0)
        assert p.step(0.0).target == "f1"
        g = corridor()
        g.add_node(Place("big", -1.0, 1.0, frontier=True, frontier_size=8.0))
        g.add_edge("a", "big")
        p.set_graph(g)
        d = p.step(1.0)
        assert (d.target == "big") is switches and d.replanned is switches


def test_last_leg_keeps_the_goal_point() -> None:
    p = planner(Log())
    p.set_graph(corridor())
    p.set_pose(4.0, 0.0)
    p.set_goal(5.2, 0.9)
    d = p.step(0.0)
    assert d.state == State.NAVIGATING and d.subgoal == (5.2, 0.9) and d.replanned
    p.set_pose(4.4, 0.3)
    d = p.step(1.0)
    assert not d.replanned and d.subgoal == (5.2, 0.9)
    assert p.target is not None and (p.target.x, p.target.y) == (5.2, 0.9)


def test_direct_goal_leg_is_only_put_aside_for_a_while() -> None:
    log = Log()
    p = planner(log, goal_retry=30.0)
    p.set_graph(corridor())
    p.set_pose(4.0, 0.0)
    p.set_goal(4.0, 3.0)  # 3 m from place c, not on the graph, no frontier closer to it
    d = p.step(0.0)
    assert d.state == State.NAVIGATING and d.path[-1] == (4.0, 3.0) and "straight on" in d.reason
    assert d.subgoal == (4.0, 3.0)  # the straight leg: the goal itself (the controller plans it locally)
    p.report_failure("no path", 1.0)
    p.step(1.0)
    p.report_failure("no path", 2.0)
    assert log.has("warn", "for 30 s")
    d = p.step(3.0)
    assert d.state == State.EXPLORING and d.target == "f1"
    p.target = None
    assert p.step(40.0).path[-1] == (4.0, 3.0)  # the goal point is tried again later


def test_sub_goal_does_not_flip_back_along_a_path_that_doubles_back() -> None:
    """Frontier f hangs off place a; the robot stands near place b, just past a on the way to f. The path
    b -> a -> f runs back over the robot: the sub-goal must lie ahead toward f, not back at a."""
    from toponav.planning.planner import _ahead_of

    path = [(2.0, 2.3), (2.5, 2.2), (1.0, 2.4), (11.5, 2.9)]  # robot, place b, place a, frontier f
    ahead = _ahead_of(path, (2.0, 2.3))
    assert ahead[-1] == (11.5, 2.9) and len(ahead) == 2  # from the robot's projection on a -> f, then f
    assert ahead[0][0] == pytest.approx(2.0, abs=0.05)


def test_a_straight_goal_leg_that_keeps_failing_waits_longer_each_time() -> None:
    """Maze held-out seed 1000001: the leg through a wall was retried every 30 s for 200 s (issue 14)."""
    log = Log()
    p = planner(log, goal_retry=30.0)
    p.set_graph(corridor())
    p.set_pose(4.0, 0.0)
    p.set_goal(4.0, 3.0)
    t = 0.0
    for expected in (30, 60, 120):
        while not p.step(t).reason.endswith("then straight on"):  # wait for the leg to be offered again
            p.target = None
            t += 1.0
            assert t < 1000
        p.report_failure("no path", t)  # one failure puts the leg aside (goal_max_failures)
        assert log.has("warn", f"for {expected} s"), log.lines
        d = p.step(t + 1.0)
        assert d.state == State.EXPLORING and d.target == "f1"  # the frontier comes first meanwhile
        p.target = None
        assert p.step(t + expected - 1.0).target == "f1"
        t += expected + 1.0


def test_a_failed_straight_goal_leg_is_put_aside_at_once() -> None:
    """Held-out mazes 1000001 and 1000003 (bench stack): the straight leg from the place nearest the goal ran into
    the goal's wall and went stale; the planner sent the robot back to that place and tried the same leg over
    the same map a second time before setting it aside (38 s, then 55 s after the retry, of circling in the room
    beside the wall in maze 1000001). One failure of the leg puts it aside for goal_retry; places and frontiers
    still get ``max_failures`` tries."""
    log = Log()
    p = planner(log, goal_retry=30.0, max_failures=2)
    p.set_graph(corridor())
    p.set_pose(4.0, 0.0)
    p.set_goal(4.0, 3.0)  # 3 m from place c, no frontier closer to it
    assert "straight on" in p.step(0.0).reason
    p.report_failure("no progress for 12 s", 12.0)
    assert log.has("warn", "blacklisting sub-goal c at (4.00, 3.00) for 30 s: failed 1 times")
    d = p.step(13.0)
    assert d.state == State.EXPLORING and d.target == "f1"  # not back to place c for a second try
    p.report_failure("no progress for 12 s", 25.0)  # a frontier's first failure is not yet a blacklisting
    assert log.has("info", "failed (no progress for 12 s), 1/2") and not p.is_blacklisted(6.0, 0.0, 26.0)
    p2 = planner(Log(), goal_retry=30.0, goal_max_failures=2)
    p2.set_graph(corridor())
    p2.set_pose(4.0, 0.0)
    p2.set_goal(4.0, 3.0)
    p2.step(0.0)
    p2.report_failure("no progress for 12 s", 12.0)
    assert "straight on" in p2.step(13.0).reason


def test_lookahead_stops_at_a_sharp_corner_not_behind_it() -> None:
    """Maze held-out seed 1000002: a sub-goal 2 m along a path round a door frame lay behind the wall."""
    p = planner(Log())
    path = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (1.2, 3.0)]  # 90 degree turn at (1, 0)
    assert p._lookahead(path) == (1.0, 0.0)
    gentle = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.5)]  # 27 degrees: interpolated 2 m along as before
    x, y = p._lookahead(gentle)
    assert math.hypot(x - 1.0, y) == pytest.approx(1.0) and y > 0
    close = [(0.0, 0.0), (0.3, 0.0), (0.3, 3.0)]  # the corner is within corner_skip: look past it
    assert p._lookahead(close) == pytest.approx((0.3, 1.7))
    p.cfg.corner_angle = 180.0
    assert p._lookahead(path) == pytest.approx((1.0, 1.0))


def test_while_the_goal_leg_is_blacklisted_frontiers_are_scored_as_plain_exploration() -> None:
    """Maze held-out seed 1000003: after the straight leg through the goal's wall failed, the straight-line pull
    kept choosing frontiers beside that wall while the way round started far from it (issue 14). While the leg
    is blacklisted the planner explores (a large frontier behind the robot beats a small one beside the goal);
    with ``explore_while_blocked`` off the pull still wins."""

    def graph() -> PlaceGraph:
        g = corridor(frontier_at=-2.0)  # f1 west of a, far from the goal
        g.nodes["f1"].frontier_size = 8.0
        g.add_node(Place("f_goal", 5.0, 2.0, frontier=True, frontier_size=1.0))  # small, 1.4 m from the goal
        g.add_edge("c", "f_goal")
        return g

    chosen = {}
    for explore in (True, False):
        log = Log()
        p = planner(log, goal_retry=30.0, explore_while_blocked=explore)
        g = PlaceGraph()  # a-b-c, no frontier
        for nid, x in (("a", 0.0), ("b", 2.0), ("c", 4.0)):
            g.add_node(Place(nid, x, 0.0, visits=1))
        g.add_edge("a", "b")
        g.add_edge("b", "c")
        p.set_graph(g)
        p.set_pose(4.0, 0.0)
        p.set_goal(4.0, 3.0)
        assert "straight on" in p.step(0.0).reason  # no frontier at all: the straight leg is tried
        p.report_failure("no path", 1.0)
        p.step(1.0)
        p.report_failure("no path", 2.0)
        assert log.has("warn", "for 30 s") and p.is_blacklisted(4.0, 3.0, 3.0)
        p.set_graph(graph())
        p.target = None
        chosen[explore] = p.step(3.0).target
    assert chosen == {True: "f1", False: "f_goal"}, chosen

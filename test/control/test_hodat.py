"""Arbitration core and the DWA baseline, driven in the vectorised twin (real ray-cast scans, real collisions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toponav.control.config import HodatConfig, LocalPlanConfig
from toponav.control.hodat import HodatController
from toponav.control.learned import LearnedPolicy
from toponav.control.limits import limit_acceleration
from toponav.robot import AgvParams, LidarParams
from toponav.sim.twin import VecAgvTwin
from toponav.worlds import World

LIDAR = LidarParams(beams=90)


def pillar_world() -> World:
    """A 1 m pillar right on the straight line from start to goal, so the robot has to go around it."""
    return World(name="pillar", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(1.0, 3.0, 0.0),
                 goal=(8.0, 3.0), circles=((4.5, 3.0, 0.5),))


def wall_world() -> World:
    """The goal is behind a wall that spans the whole room: unreachable."""
    return World(name="wall", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(1.0, 3.0, 0.0),
                 goal=(8.0, 3.0), boxes=((5.0, 3.0, 0.1, 3.0, 0.0),))


def trap_world() -> World:
    """A cul-de-sac open toward the robot with the target right behind its back wall."""
    return World(name="trap", family="test", seed=0, bounds=(0.0, 0.0, 10.0, 6.0), start=(1.0, 3.0, 0.0),
                 goal=(7.0, 3.0), boxes=((5.0, 3.0, 0.1, 1.5, 0.0), (4.0, 1.5, 1.0, 0.1, 0.0),
                                         (4.0, 4.5, 1.0, 0.1, 0.0)))


def run(ctrl: HodatController, world: World, target, seconds: float, dt: float = 0.1, goal: bool = False):
    twin = VecAgvTwin([world], 1, ctrl.cfg.robot, LIDAR, dt)
    (ctrl.set_goal if goal else ctrl.set_subgoal)(target)
    angles = LIDAR.angles()
    min_clear = math.inf
    decisions = []
    for k in range(int(seconds / dt)):
        d = ctrl.step(twin.pose[0], twin.vel[0], twin.scan()[0], angles, now=k * dt, dt=dt,
                      range_min=LIDAR.range_min, range_max=LIDAR.range_max)
        decisions.append(d)
        out = twin.step(d.cmd[None])
        assert not out.collided[0], f"collision at step {k}, pose {twin.pose[0]}"
        min_clear = min(min_clear, float(twin.clearance()[0]) - ctrl.cfg.robot.radius)
        if d.source in ("reached", "unreachable") and not np.any(d.cmd):
            break
    return twin.pose[0].copy(), decisions, min_clear


@pytest.mark.parametrize("mode", ["dwa", "learned"])
def test_reaches_goal_around_an_obstacle(mode: str) -> None:
    policy = LearnedPolicy.load() if mode == "learned" else None  # the shipped checkpoint
    ctrl = HodatController(HodatConfig(mode=mode, fallback_after=0.0), policy)  # the policy alone, no DWA help
    assert ctrl.planner == mode
    pose, decisions, min_clear = run(ctrl, pillar_world(), (8.0, 3.0), seconds=40)
    assert decisions[-1].source == "reached", f"ended at {pose} ({decisions[-1]})"
    assert np.hypot(pose[0] - 8.0, pose[1] - 3.0) <= ctrl.cfg.goal_tolerance + 0.05
    assert min_clear > 0.0
    assert not np.any(decisions[-1].cmd)  # reached -> zero velocity


def test_safety_only_pursuit_never_collides() -> None:
    """Straight-line pursuit into the pillar: the safety layer alone keeps it off (it may get stuck: that is fine).
    The local plan is off: its carrot steers round the pillar, and the safety layer would have nothing to do."""
    ctrl = HodatController(HodatConfig(mode="safety_only", progress_timeout=5.0,
                                       local_plan=LocalPlanConfig(enabled=False)))
    _, decisions, min_clear = run(ctrl, pillar_world(), (8.0, 3.0), seconds=30)
    assert min_clear > 0.0
    assert any(d.safety != "clear" for d in decisions)


def test_dwa_alone_avoids_the_pillar() -> None:
    """DWA's own clearance check (the safety layer must not be what saves it): no safety intervention."""
    ctrl = HodatController(HodatConfig(mode="dwa"))
    _, decisions, _ = run(ctrl, pillar_world(), (8.0, 3.0), seconds=40)
    assert decisions[-1].source == "reached"
    assert sum(d.safety in ("stopped", "turn_away") for d in decisions) == 0


def test_unreachable_subgoal_stops_without_collision() -> None:
    ctrl = HodatController(HodatConfig(mode="dwa", progress_timeout=4.0))
    pose, decisions, min_clear = run(ctrl, wall_world(), (8.0, 3.0), seconds=60)
    assert decisions[-1].source == "unreachable"
    assert not np.any(decisions[-1].cmd)
    assert min_clear > 0.0 and pose[0] < 5.0


def test_subgoal_outranks_goal() -> None:
    ctrl = HodatController(HodatConfig(mode="safety_only"))
    ctrl.set_goal((0.0, 5.0))
    ctrl.set_subgoal((5.0, 0.0))
    free = np.full(LIDAR.beams, LIDAR.range_max)
    d = ctrl.step((0.0, 0.0, 0.0), (0.0, 0.0), free, LIDAR.angles(), 0.0, 0.1)
    assert d.source == "subgoal" and d.cmd[0] > 0 and abs(d.cmd[1]) < 1e-6  # straight at the sub-goal
    ctrl.set_subgoal(None)
    d = ctrl.step((0.0, 0.0, 0.0), d.cmd, free, LIDAR.angles(), 0.1, 0.1)
    assert d.source == "goal" and d.cmd[1] > 0  # now turning left toward the goal


def test_local_plan_drives_out_of_a_cul_de_sac() -> None:
    """Straight at the target DWA runs into the cul-de-sac and stalls; steering at the carrot of a path over
    the lidar hits it backs out and goes round."""
    plain = HodatController(HodatConfig(mode="dwa", local_plan=LocalPlanConfig(enabled=False)))
    _, decisions, _ = run(plain, trap_world(), (7.0, 3.0), seconds=60)
    assert decisions[-1].source == "unreachable"
    ctrl = HodatController(HodatConfig(mode="dwa"))
    pose, decisions, min_clear = run(ctrl, trap_world(), (7.0, 3.0), seconds=60)
    assert decisions[-1].source == "reached", f"ended at {pose}"
    assert min_clear > 0.0


def test_a_carrot_on_the_way_is_not_taken_for_arrival(monkeypatch) -> None:
    """DWA slows down near its goal; a carrot the local plan puts 0.5 m ahead (beside a tree, a door post) is not
    the target, so the planner is told at least local_plan.pass_distance (never past the target), in its bearing:
    forest 1000009, a robot crept at 0.08 m/s for 12 s toward a carrot that moved on with it."""
    ctrl = HodatController(HodatConfig(mode="dwa"))
    seen = []
    monkeypatch.setattr(ctrl, "_propose", lambda planner, scan, angles, vel, dist, bearing, *a, **k:
                        seen.append((dist, bearing)) or np.zeros(2))
    monkeypatch.setattr(ctrl.local, "aim", lambda pose, *a, **k: np.array([pose[0] + 0.4, pose[1] + 0.3]))
    angles = LIDAR.angles()
    ranges = np.full(len(angles), 8.0)
    ctrl.set_subgoal((6.0, 0.0))
    ctrl.step((0.0, 0.0, 0.0), np.zeros(2), ranges, angles, now=0.0, dt=0.1, range_max=8.0)
    dist, bearing = seen[-1]
    assert dist == pytest.approx(ctrl.cfg.local_plan.pass_distance) and bearing == pytest.approx(math.atan2(0.3, 0.4))
    monkeypatch.setattr(ctrl.local, "aim", lambda pose, ranges, angles, rmax, target, *a: np.asarray(target))
    ctrl.set_subgoal((0.4, 0.3))  # the target itself, 0.5 m away: its own distance (slowing down is right)
    ctrl.step((0.0, 0.0, 0.0), np.zeros(2), ranges, angles, now=0.1, dt=0.1, range_max=8.0)
    assert seen[-1][0] == pytest.approx(0.5)


def test_goal_reached_through_the_goal_level() -> None:
    ctrl = HodatController(HodatConfig(mode="dwa"))
    _, decisions, _ = run(ctrl, pillar_world(), (8.0, 3.0), seconds=40, goal=True)
    assert decisions[-1].source == "reached"


def test_idle_without_target_and_nan_inputs() -> None:
    ctrl = HodatController(HodatConfig(mode="dwa"))
    free = np.full(LIDAR.beams, LIDAR.range_max)
    assert not np.any(ctrl.step((0, 0, 0), (0, 0), free, LIDAR.angles(), 0.0, 0.1).cmd)
    ctrl.set_subgoal((3.0, 0.0))
    d = ctrl.step((0, 0, 0), (np.nan, 0), np.full(LIDAR.beams, np.nan), LIDAR.angles(), 0.1, 0.1)
    assert d.safety == "blind" and not np.any(d.cmd)
    with pytest.raises(ValueError):
        ctrl.set_subgoal((np.nan, 1.0))


def test_acceleration_limits() -> None:
    robot = AgvParams()
    out = limit_acceleration(np.array([1.0, 1.5]), np.array([0.0, 0.0]), 0.1, robot)
    assert out[0] == pytest.approx(robot.max_acc_v * 0.1) and out[1] == pytest.approx(robot.max_acc_w * 0.1)
    out = limit_acceleration(np.array([5.0, -9.0]), np.array([0.95, -1.45]), 0.1, robot)
    assert out[0] == robot.max_v and out[1] == -robot.max_w


def test_learned_mode_without_policy_falls_back_to_dwa() -> None:
    assert HodatController(HodatConfig(mode="learned"), policy=None).planner == "dwa"


class _CirclingPolicy:
    """A policy stuck in a loop (drives a tight circle whatever it sees), the failure the fallback is for."""

    def command(self, ranges, angles, subgoal_polar, vel) -> np.ndarray:
        return np.array([0.3, 1.2])


def test_no_progress_hands_the_learned_policy_over_to_dwa_for_a_while() -> None:
    stuck = HodatController(HodatConfig(mode="learned", fallback_after=0.0), _CirclingPolicy())
    pose, decisions, _ = run(stuck, pillar_world(), (8.0, 3.0), seconds=20)
    assert {d.planner for d in decisions} == {"learned"} and decisions[-1].source != "reached"

    cfg = HodatConfig(mode="learned", fallback_after=2.0, fallback_hold=3.0)
    ctrl = HodatController(cfg, _CirclingPolicy())
    ctrl.set_goal((8.0, 3.0))  # progress is watched on the goal, the sub-goal drives
    pose, decisions, min_clear = run(ctrl, pillar_world(), (8.0, 3.0), seconds=60)
    planners = [d.planner for d in decisions]
    assert decisions[-1].source == "reached", f"ended at {pose}"
    assert min_clear > 0.0
    first = planners.index("dwa")
    assert 15 <= first <= 30  # about 2 s (20 steps) of circling without progress, then DWA
    assert planners[first : first + 30] == ["dwa"] * 30  # DWA keeps it for the 3 s hold
    assert "learned" in planners[first + 30 :]  # and hands back afterwards


def test_an_unreachable_subgoal_is_tried_again_after_the_hold() -> None:
    """Forest 1000002 in `toponav bench stack` (2026-12-02): the controller gave up on the planner's lookahead
    point, the planner kept sending that same point while it failed its targets one by one behind it, and the
    robot stood still for 165 s. After ``retry_after`` the same sub-goal is tried again."""
    ctrl = HodatController(HodatConfig(mode="dwa", progress_timeout=4.0, retry_after=2.0))
    _, decisions, _ = run(ctrl, wall_world(), (8.0, 3.0), seconds=60)
    k = len(decisions)  # run() stops at the first unreachable stop
    assert decisions[-1].source == "unreachable"
    scan = np.full(LIDAR.beams, LIDAR.range_max)
    held = ctrl.step((0.0, 3.0, 0.0), (0.0, 0.0), scan, LIDAR.angles(), k * 0.1 + 1.0, 0.1)
    assert held.source == "unreachable" and not np.any(held.cmd)  # within the hold
    again = ctrl.step((0.0, 3.0, 0.0), (0.0, 0.0), scan, LIDAR.angles(), k * 0.1 + 2.5, 0.1)
    assert again.source == "subgoal" and np.any(again.cmd)  # the same sub-goal, moved towards again (no hold)
    off = HodatController(HodatConfig(mode="dwa", progress_timeout=4.0, retry_after=0.0))
    _, decisions, _ = run(off, wall_world(), (8.0, 3.0), seconds=60)
    k = len(decisions)
    assert off.step((0.0, 3.0, 0.0), (0.0, 0.0), scan, LIDAR.angles(), k * 0.1 + 30.0, 0.1).source == "unreachable"

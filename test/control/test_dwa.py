"""DWA on its own: the wedged-robot recovery (back out, never closer than now) and the speed margin."""

from __future__ import annotations

import math

import numpy as np

from toponav.control.config import DwaConfig, SafetyConfig
from toponav.control.dwa import DwaPlanner
from toponav.control.safety import CLEAR, SafetyLayer
from toponav.robot import AgvParams, LidarParams

LIDAR = LidarParams(beams=360)
ANGLES = np.asarray(LIDAR.angles())
ROBOT = AgvParams()


def wall_ahead(gap: float) -> np.ndarray:
    """Ranges from the robot at the origin (heading +x) to the wall x = radius + gap; nothing else in range."""
    c = np.cos(ANGLES)
    d = (ROBOT.radius + gap) / np.where(c > 1e-9, c, 1.0)
    return np.where(c > 1e-9, np.minimum(d, LIDAR.range_max), LIDAR.range_max)


def test_wedged_against_a_wall_it_backs_out_before_turning() -> None:
    """Inside its margin of a wall with the goal straight through it, no forward arc is admissible: the
    recovery backs straight out (turning in place there keeps a tilted or slipping robot touching)."""
    dwa = DwaPlanner(DwaConfig(), ROBOT)
    scan = wall_ahead(0.02)  # 2 cm: inside the 6 cm margin
    cmds = [dwa.plan(scan, ANGLES, np.zeros(2), np.array([3.0, 0.0]), range_max=LIDAR.range_max, dt=0.1)
            for _ in range(3)]
    assert all(c[0] < 0 and c[1] == 0.0 for c in cmds), cmds
    # with nothing behind it free to back into, it turns instead (the old recovery)
    boxed = np.minimum(scan, np.where(np.cos(ANGLES) < 0, ROBOT.radius + 0.03, LIDAR.range_max))
    cmd = DwaPlanner(DwaConfig(), ROBOT).plan(boxed, ANGLES, np.zeros(2), np.array([3.0, 0.0]),
                                              range_max=LIDAR.range_max, dt=0.1)
    assert cmd[0] == 0.0 and abs(cmd[1]) > 0


def test_inside_the_margin_an_arc_that_moves_away_is_admissible() -> None:
    """A robot pushed within margin of a wall beside it may still drive on along it (an arc that never brings it
    closer); before, every arc was rejected and only the stall recovery was left."""
    dwa = DwaPlanner(DwaConfig(), ROBOT)
    # wall on the left at y = radius + 3 cm, goal straight ahead along it
    s = np.sin(ANGLES)
    scan = np.where(s > 1e-9, np.minimum((ROBOT.radius + 0.03) / np.where(s > 1e-9, s, 1.0), LIDAR.range_max),
                    LIDAR.range_max)
    cmd = dwa.plan(scan, ANGLES, np.array([0.3, 0.0]), np.array([4.0, -0.5]), range_max=LIDAR.range_max, dt=0.1)
    assert cmd[0] > 0.1 and cmd[1] <= 0.0, cmd


def test_speed_margin_keeps_fast_arcs_off_an_obstacle_but_lets_slow_ones_pass() -> None:
    """A pillar 12 cm beside the straight line to the goal: without a speed margin DWA passes it at speed;
    with one (8 cm at full speed) the fast arcs that pass it are rejected, so it slows or swings wide."""
    pillar = np.array([1.0, ROBOT.radius + 0.12])  # within the 1.5 s horizon at full speed
    ranges = np.full(len(ANGLES), LIDAR.range_max)
    bearing = math.atan2(pillar[1], pillar[0])
    k = int(np.argmin(np.abs(np.angle(np.exp(1j * (ANGLES - bearing))))))
    ranges[k] = float(np.hypot(*pillar))
    vel = np.array([ROBOT.max_v, 0.0])
    goal = np.array([5.0, 0.0])
    plain = DwaPlanner(DwaConfig(), ROBOT).plan(ranges, ANGLES, vel, goal, range_max=LIDAR.range_max, dt=0.1)
    margin = DwaPlanner(DwaConfig(speed_margin=0.08), ROBOT).plan(ranges, ANGLES, vel, goal,
                                                                  range_max=LIDAR.range_max, dt=0.1)
    assert plain[0] > 0.9 and abs(plain[1]) < 0.1  # straight past it at full speed
    assert margin[0] < plain[0] or margin[1] < -0.05, (plain, margin)


def test_safety_speed_margin_slows_a_fast_pass_and_leaves_a_slow_one() -> None:
    """A wall 8 cm beside the straight path: the flat-floor layer lets 1 m/s pass, with speed_margin 6 cm it
    slows the robot; at 0.2 m/s the margin is 0.2 cm and the command passes unchanged."""
    s = np.sin(ANGLES)
    scan = np.where(s > 1e-9, np.minimum((ROBOT.radius + 0.08) / np.where(s > 1e-9, s, 1.0), LIDAR.range_max),
                    LIDAR.range_max)
    scan = np.where(np.cos(ANGLES) > -0.2, scan, LIDAR.range_max)  # the wall starts beside the robot
    flat = SafetyLayer(SafetyConfig(), ROBOT.radius, ROBOT.max_w, ROBOT.max_v)
    sloped = SafetyLayer(SafetyConfig(speed_margin=0.06), ROBOT.radius, ROBOT.max_w, ROBOT.max_v)
    # a path that closes in on the wall slowly (curving left)
    fast = np.array([1.0, 0.1])
    assert flat.filter(fast, scan, ANGLES, range_max=LIDAR.range_max).mode[0] == CLEAR
    res = sloped.filter(fast, scan, ANGLES, range_max=LIDAR.range_max)
    assert res.cmd[0, 0] < 1.0
    slow = np.array([0.2, 0.02])
    assert sloped.filter(slow, scan, ANGLES, range_max=LIDAR.range_max).mode[0] == CLEAR

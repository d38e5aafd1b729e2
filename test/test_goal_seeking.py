"""The fallback goal-seeking law (no rclpy): heading control, arrival, scan-based stop."""

from __future__ import annotations

import math

import numpy as np

from toponav.goal_seeking import GoalSeekConfig, goal_seek

CFG = GoalSeekConfig()
ANGLES = np.linspace(-math.pi, math.pi, 72, endpoint=False)


def test_drives_at_goal_and_stops_on_arrival() -> None:
    free = np.full(72, np.inf)
    cmd = goal_seek((0.0, 0.0, 0.0), (5.0, 0.0), free, ANGLES, CFG)
    assert cmd.status == "driving" and cmd.v == CFG.max_v and abs(cmd.w) < 1e-9
    left = goal_seek((0.0, 0.0, 0.0), (1.0, 0.3), free, ANGLES, CFG)
    assert left.w > 0 and 0 < left.v < CFG.max_v
    behind = goal_seek((0.0, 0.0, 0.0), (-3.0, 0.1), free, ANGLES, CFG)
    assert behind.status == "turning" and behind.v == 0 and abs(behind.w) == CFG.max_w
    assert goal_seek((4.9, 0.0, 1.0), (5.0, 0.0), free, ANGLES, CFG).status == "reached"


def test_scan_stop_and_slowdown() -> None:
    ranges = np.full(72, 8.0)
    ranges[36] = 0.3  # straight ahead (angle 0)
    cmd = goal_seek((0.0, 0.0, 0.0), (5.0, 0.0), ranges, ANGLES, CFG)
    assert cmd.status == "blocked" and cmd.v == 0 and cmd.w != 0
    ranges[36] = 1.0
    slow = goal_seek((0.0, 0.0, 0.0), (5.0, 0.0), ranges, ANGLES, CFG)
    assert 0 < slow.v < CFG.max_v
    ranges[36] = np.nan  # bad beams are ignored, not obeyed
    assert goal_seek((0.0, 0.0, 0.0), (5.0, 0.0), ranges, ANGLES, CFG).v == CFG.max_v


def test_bad_input_gives_zero() -> None:
    assert goal_seek((0.0, 0.0, 0.0), None, None, None, CFG).v == 0
    cmd = goal_seek((math.nan, 0.0, 0.0), (1.0, 1.0), None, None, CFG)
    assert (cmd.v, cmd.w, cmd.status) == (0.0, 0.0, "idle")

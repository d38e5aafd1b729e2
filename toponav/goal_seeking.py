"""A simple goal-seeking controller: proportional heading control with a scan-based stop.

This is the temporary / fallback controller (``goal_controller`` node): it drives straight at
/goal_pose, slows down with the free space ahead, steers away from the nearest obstacle in front
and stops when something is closer than ``stop_distance``. It has no map and no planning, so it
only reaches goals with a clear enough line of sight; the full stack (mapper, sub-goal planner,
HODAT controller) is what explores. Pure numpy, tested without rclpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toponav.config import param
from toponav.geometry import to_robot_polar


@dataclass
class GoalSeekConfig:
    """Gains and limits of the goal-seeking controller."""

    max_v: float = param(0.6, "max forward speed (m/s)", min=0.0)
    max_w: float = param(1.2, "max yaw rate (rad/s)", min=0.0)
    k_heading: float = param(1.5, "yaw-rate gain on the bearing error (1/s)", min=0.0)
    k_distance: float = param(0.8, "speed gain on the goal distance (1/s)", min=0.0)
    turn_in_place: float = param(0.9, "bearing error (rad) above which the robot turns without driving", min=0.0)
    goal_tolerance: float = param(0.3, "distance (m) at which the goal counts as reached", min=0.01)
    stop_distance: float = param(0.45, "stop when an obstacle in the front cone is closer (m), from the scan origin",
                                 min=0.0)
    slow_distance: float = param(1.5, "start slowing down below this front clearance (m)", min=0.0)
    front_half_angle: float = param(0.6, "half-width of the front cone (rad)", min=0.05, max=3.1416)
    avoid_gain: float = param(0.8, "yaw-rate push away from the nearest front obstacle (rad/s)", min=0.0)
    rate: float = param(20.0, "command rate (Hz, node clock)", min=1.0, max=200.0)
    stale_timeout: float = param(0.5, "zero command when odometry or scan is older than this (s)", min=0.01)


@dataclass(frozen=True)
class Command:
    v: float
    w: float
    status: str  # "driving", "turning", "blocked", "reached", "idle"


def goal_seek(pose: tuple[float, float, float], goal: tuple[float, float] | None,
              ranges: np.ndarray | None, angles: np.ndarray | None, cfg: GoalSeekConfig) -> Command:
    """One control step. ``ranges``/``angles`` in the scan frame (aligned with the robot); NaN/inf allowed."""
    if goal is None or not all(math.isfinite(v) for v in (*pose, *goal)):
        return Command(0.0, 0.0, "idle")
    dist, bearing = to_robot_polar(pose, goal)
    if dist <= cfg.goal_tolerance:
        return Command(0.0, 0.0, "reached")
    w = float(np.clip(cfg.k_heading * bearing, -cfg.max_w, cfg.max_w))
    if abs(bearing) > cfg.turn_in_place:
        return Command(0.0, w, "turning")
    v = min(cfg.max_v, cfg.k_distance * dist) * max(0.0, math.cos(bearing))
    if ranges is not None and angles is not None and len(ranges):
        r = np.asarray(ranges, dtype=np.float64)
        a = np.asarray(angles, dtype=np.float64)
        valid = np.isfinite(r) & (r > 0.0)
        front = valid & (np.abs(a) <= cfg.front_half_angle)
        if front.any():
            i = int(np.argmin(np.where(front, r, np.inf)))
            nearest, side = float(r[i]), float(a[i])
            if nearest < cfg.stop_distance:
                # blocked: no forward motion, turn away from the obstacle to look for a way around
                away = -1.0 if side > 0 else 1.0
                return Command(0.0, away * min(cfg.max_w, max(cfg.avoid_gain, 0.3)), "blocked")
            if nearest < cfg.slow_distance:
                scale = (nearest - cfg.stop_distance) / max(cfg.slow_distance - cfg.stop_distance, 1e-6)
                v *= float(np.clip(scale, 0.0, 1.0))
                away = -1.0 if side > 0 else 1.0
                w = float(np.clip(w + away * cfg.avoid_gain * (1.0 - scale), -cfg.max_w, cfg.max_w))
    return Command(float(v), w, "driving")

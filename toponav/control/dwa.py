"""DWA-style local planner: the classic baseline the learned policy is compared with, side by side.

Dynamic Window Approach (Fox, Burgard, Thrun 1997), in the robot frame and straight from the scan:
sample (v, ω) inside the window reachable within ``window_time`` under the acceleration limits, roll
each out as an arc over a short horizon, reject arcs that come within footprint + margin of a scan
point, and score the rest by heading to the goal, progress toward it, clearance and speed. All
samples are scored in one vectorised numpy expression.
"""

from __future__ import annotations

import numpy as np

from toponav.control.config import DwaConfig
from toponav.control.safety import arc_points
from toponav.control.scan import scan_points
from toponav.robot import AgvParams


class DwaPlanner:
    def __init__(self, cfg: DwaConfig, robot: AgvParams) -> None:
        self.cfg = cfg
        self.robot = robot
        self.times = np.arange(1, int(np.ceil(cfg.horizon / cfg.dt)) + 1) * cfg.dt

    def window(self, vel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sampled (v, ω) pairs, each (K,), inside the dynamic window around the current velocity."""
        c, r = self.cfg, self.robot
        v0, w0 = float(vel[0]), float(vel[1])
        v_lo = max(0.0, v0 - r.max_acc_v * c.window_time)  # the baseline never plans reversing
        v_hi = min(r.max_v, max(v0, 0.0) + r.max_acc_v * c.window_time)
        w_lo = max(-r.max_w, w0 - r.max_acc_w * c.window_time)
        w_hi = min(r.max_w, w0 + r.max_acc_w * c.window_time)
        vs = np.linspace(v_lo, max(v_hi, v_lo), c.v_samples)
        ws = np.linspace(w_lo, max(w_hi, w_lo), c.w_samples)
        vv, ww = np.meshgrid(vs, ws, indexing="ij")
        return vv.ravel(), ww.ravel()

    def plan(self, ranges: np.ndarray, angles: np.ndarray, vel: np.ndarray, goal: np.ndarray,
             valid: np.ndarray | None = None, range_max: float = np.inf) -> np.ndarray:
        """Best (v, ω) toward ``goal`` given in the robot frame (x, y); ``ranges`` cleaned."""
        c, r = self.cfg, self.robot
        vs, ws = self.window(np.asarray(vel, dtype=np.float64))
        arcs = arc_points(vs, ws, self.times)  # (K, T, 2)
        pts, hit = scan_points(ranges, angles, valid, range_max)
        pts = pts[hit]
        if len(pts):
            # min over points of the distance from every arc point; chunked over samples for memory
            d = np.sqrt(((arcs[:, :, None, :] - pts[None, None, :, :]) ** 2).sum(-1)).min(-1)  # (K, T)
            clearance = d.min(axis=1) - r.radius
        else:
            clearance = np.full(len(vs), np.inf)
        goal = np.asarray(goal, dtype=np.float64)
        end = arcs[:, -1, :]
        theta_end = ws * self.times[-1]
        to_goal = goal[None, :] - end
        d_end = np.hypot(to_goal[:, 0], to_goal[:, 1])
        d0 = float(np.hypot(*goal))
        heading = np.abs(np.angle(np.exp(1j * (np.arctan2(to_goal[:, 1], to_goal[:, 0]) - theta_end)))) / np.pi
        progress = (d_end - d0) / max(r.max_v * c.horizon, 1e-6)
        clear_cost = np.clip(c.clearance_cap - clearance, 0.0, c.clearance_cap) / c.clearance_cap
        vel_cost = (r.max_v - vs) / max(r.max_v, 1e-6)
        # near the goal do not insist on speed (it would only overshoot)
        vel_w = c.velocity_weight * min(1.0, d0 / max(r.max_v * c.horizon, 1e-6))
        cost = (c.heading_weight * heading + c.progress_weight * progress + c.clearance_weight * clear_cost
                + vel_w * vel_cost)
        # admissible: keeps footprint + margin clear over the whole horizon (so it can always brake in time)
        ok = clearance > c.margin
        if not ok.any():
            # nothing admissible: rotate toward the goal in place (safe for a disc footprint)
            bearing = float(np.arctan2(goal[1], goal[0]))
            return np.array([0.0, np.sign(bearing or 1.0) * min(r.max_w, 1.0)])
        cost = np.where(ok, cost, np.inf)
        k = int(np.argmin(cost))
        return np.array([vs[k], ws[k]])

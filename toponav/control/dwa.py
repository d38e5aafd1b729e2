"""DWA-style local planner: the classic baseline the learned policy is compared with, side by side.

Dynamic Window Approach (Fox, Burgard, Thrun 1997), in the robot frame and straight from the scan:
sample (v, ω) inside the window reachable within ``window_time`` under the acceleration limits, roll
each out as an arc over a short horizon, reject arcs that come within footprint + margin of a scan
point, and score the rest by heading to the goal, progress toward it, clearance and speed. All
samples are scored in one vectorised numpy expression.

A robot already inside footprint + margin of something (pushed there by slip, a tilted chassis on a
slope, or an obstacle that moved) may still take any arc that never brings it closer to anything than it
is now; otherwise every arc would be rejected and it could never leave. When no arc is admissible the
stall recovery runs, as move_base's recovery behaviours do for its DWA: first back out (straight, slowly)
while something is that close and the way back is free, then turn in place toward the open direction
closest to the goal, then drive straight out for a moment.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from toponav.control.config import DwaConfig
from toponav.control.safety import arc_points
from toponav.control.scan import scan_points
from toponav.robot import AgvParams

# back-out recovery: taken when no arc is admissible and something is already within the margin; straight
# back at BACK_OUT_SPEED (m/s, capped by the robot's min_v) for up to BACK_OUT_TIME (s). Not taken merely
# near the margin: in a cul-de-sac that would back the robot into the same dead end again and again.
BACK_OUT_SPEED = 0.2
BACK_OUT_TIME = 1.5


class DwaPlanner:
    def __init__(self, cfg: DwaConfig, robot: AgvParams) -> None:
        self.cfg = cfg
        self.robot = robot
        self.times = np.arange(1, int(np.ceil(cfg.horizon / cfg.dt)) + 1) * cfg.dt
        # stall recovery state: seconds left to back out, yaw still to turn (rad, signed) and seconds left to
        # drive straight out
        self._escape_back_left = 0.0
        self._escape_turn_left = 0.0
        self._escape_drive_left = 0.0

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
             valid: np.ndarray | None = None, range_max: float = np.inf, dt: float = 0.1,
             extra: np.ndarray | None = None) -> np.ndarray:
        """Best (v, ω) toward ``goal`` given in the robot frame (x, y); ``ranges`` cleaned; ``extra``: more
        obstacle points (M, 2) in the robot frame (the safety layer's obstacle memory), avoided like hits."""
        c, r = self.cfg, self.robot
        vs, ws = self.window(np.asarray(vel, dtype=np.float64))
        arcs = arc_points(vs, ws, self.times)  # (K, T, 2)
        pts, hit = scan_points(ranges, angles, valid, range_max)
        pts = pts[hit]
        if extra is not None and len(extra):
            pts = np.concatenate([pts, np.asarray(extra, dtype=np.float64).reshape(-1, 2)])
        if len(pts):
            # nearest point to every arc sample from a k-d tree, exact up to the distance at which the clearance
            # cost is capped (beyond it inf: admissible and free of cost, as the exact value would be); with 360
            # beams and the obstacle memory a brute-force (K*T, P) comparison costs tens of ms per step
            tree = cKDTree(pts)
            d, _ = tree.query(arcs.reshape(-1, 2), distance_upper_bound=r.radius + c.clearance_cap + 1e-6)
            clearance = d.reshape(arcs.shape[:2]).min(axis=1) - r.radius
            clear_now = float(tree.query(np.zeros(2))[0]) - r.radius
        else:
            tree = None
            clearance = np.full(len(vs), np.inf)
            clear_now = np.inf
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
        # admissible: keeps footprint + margin clear over the whole horizon (so it can always brake in time), or,
        # for a robot already inside that margin, never gets closer to anything than it is now
        need = c.margin + c.speed_margin * (vs / max(r.max_v, 1e-6)) ** 2
        ok = (clearance > need) | ((clear_now <= c.margin) & (clearance >= clear_now - 1e-3))
        best = None
        if ok.any():
            cost = np.where(ok, cost, np.inf)
            k = int(np.argmin(cost))
            if vs[k] > 0.02 or abs(ws[k]) > 0.1:
                best = np.array([vs[k], ws[k]])
        # stall recovery (what move_base's DWA gets from its recovery behaviours): turn in place toward the open
        # direction closest to the goal (safe for a disc), then drive straight out for a moment; committed to,
        # so the heading cost cannot pull the robot straight back into the dead end
        w_turn = min(r.max_w, 1.0)
        if self._escape_back_left > 0:
            if tree is not None and self._back_clear(tree, clear_now):
                self._escape_back_left -= dt
                return np.array([self._back_speed(), 0.0])
            self._escape_back_left = 0.0
        if abs(self._escape_turn_left) > 1e-3:
            step = min(abs(self._escape_turn_left), w_turn * dt)
            self._escape_turn_left -= np.sign(self._escape_turn_left) * step
            if abs(self._escape_turn_left) <= 1e-3:
                self._escape_drive_left = 1.0
            return np.array([0.0, np.sign(self._escape_turn_left or 1.0) * w_turn])
        if self._escape_drive_left > 0:
            if tree is not None and self._straight_clearance(tree, 0.4) > c.margin:
                self._escape_drive_left -= dt
                return np.array([0.4, 0.0])
            self._escape_drive_left = 0.0
        if best is not None:
            return best
        if (tree is not None and clear_now < c.margin and self._back_speed() < 0
                and self._back_clear(tree, clear_now)):
            # wedged: turning in place right beside the obstacle is what keeps a tilted or slipping robot
            # touching it, so first put some distance between them
            self._escape_back_left = BACK_OUT_TIME - dt
            return np.array([self._back_speed(), 0.0])
        target = self._escape_target(ranges, angles, goal, valid)
        self._escape_turn_left = target
        return np.array([0.0, np.sign(target or 1.0) * w_turn])

    def _back_speed(self) -> float:
        return max(self.robot.min_v, -BACK_OUT_SPEED)

    def _back_clear(self, tree: cKDTree, clear_now: float) -> bool:
        """Backing straight out for BACK_OUT_TIME brings the footprint no closer to anything than margin (or than
        it is now, if it is already closer)."""
        clear = self._straight_clearance(tree, self._back_speed(), BACK_OUT_TIME)
        return clear >= min(self.cfg.margin, clear_now) - 1e-3

    def _straight_clearance(self, tree: cKDTree, v: float, duration: float | None = None) -> float:
        """Least footprint clearance (m) driving straight at ``v`` over the rollout's time steps (those up to
        ``duration`` s; all of them by default)."""
        times = self.times if duration is None else self.times[self.times <= duration]
        line = arc_points(np.array([v]), np.array([0.0]), times)[0]  # (T, 2)
        d, _ = tree.query(line)
        return float(np.min(d)) - self.robot.radius

    def _escape_target(self, ranges: np.ndarray, angles: np.ndarray, goal: np.ndarray,
                       valid: np.ndarray | None) -> float:
        """Robot-frame direction, closest to the goal's, in which the *disc* can drive >= 1 m."""
        r = self.robot
        bearing = float(np.arctan2(goal[1], goal[0]))
        pts, hit = scan_points(ranges, angles, valid, float(np.max(ranges)) if len(ranges) else np.inf)
        pts = pts[hit]
        dirs = np.linspace(-np.pi, np.pi, 72, endpoint=False)
        if len(pts):
            u = np.stack([np.cos(dirs), np.sin(dirs)], axis=1)  # (D, 2)
            along = pts @ u.T  # (P, D)
            perp = np.abs(pts[:, 0:1] * u[:, 1] - pts[:, 1:2] * u[:, 0])
            blocking = (perp < r.radius + self.cfg.margin) & (along > 0)
            free_len = np.where(blocking, along, np.inf).min(axis=0)
            open_ = free_len > 1.0
        else:
            open_ = np.ones(len(dirs), dtype=bool)
        rel = np.angle(np.exp(1j * (dirs - bearing)))
        if open_.any():
            rel = rel[open_]
        target = float(np.angle(np.exp(1j * (bearing + rel[np.argmin(np.abs(rel))]))))
        if abs(target) < 0.05:  # already facing the best way out but still stalled: turn a quarter toward the goal
            target = float(np.sign(bearing or 1.0) * np.pi / 4)
        return target

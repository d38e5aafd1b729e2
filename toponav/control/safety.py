"""The safety layer: the top priority of HODAT, applied last to every command, whatever proposed it.

For a disc footprint of radius R, a command (v, ω) is followed as a circular arc. The layer checks
the arc against the scan's obstacle points and keeps the largest speed along that same path (v and ω
scaled together) from which the robot can still stop, with a reaction delay and a bounded deceleration,
before any point comes within R + margin (the time-to-collision test). Points the robot is already
too close to only count when the motion brings it *closer*, so it can always back or turn out of a
tight spot.

Outcomes per command: ``CLEAR`` (unchanged), ``SLOWED`` (speed reduced), ``STOPPED`` (no safe forward
speed), ``TURN_AWAY`` (stopped and turned toward the open side because the command did not turn),
``BLIND`` (zero command: the scan does not show whether the path is free), ``STALE`` (zero command: the
scan is older than ``max_age``). Rotating in place never moves a disc footprint closer to anything,
which is why turning away is always allowed.

Blind means stop. A scan is blind for a command when too many of its beams are invalid overall
(``blind``, from :func:`toponav.control.scan.clean_scan`), or when the directions its motion sweeps (the
footprint plus margin along the commanded arc) hold a hole of valid beams wider than ``max_gap``
(:mod:`toponav.control.coverage`): all-NaN, one-beam, every-other-beam-dropped scans, or a front-only
lidar asked to reverse. Both give zero (v, ω). A command that only rotates sweeps no new area for a
disc, so it is not path-blind and stays allowed while the scan as a whole is trusted.

Inputs age. The scan was taken ``age`` seconds ago and the robot has moved since (at most ``speed``,
its measured speed, or the command's, times ``age``, along this path): that much is taken off the free
path before the stopping speed is computed. Obstacles remembered from earlier scans (``memory``, robot
frame, see :class:`toponav.control.memory.ObstacleMemory`) are checked like scan points, so a thin pillar
that falls between the beams of the current scan still stops the robot.

Vectorised over a batch of robots (N) — the training twin filters all its environments in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toponav.control.config import SafetyConfig
from toponav.control.coverage import path_blind
from toponav.control.scan import distances, scan_points
from toponav.geometry import wrap_angle

CLEAR, SLOWED, STOPPED, TURN_AWAY, BLIND, STALE = 0, 1, 2, 3, 4, 5
MODE_NAMES = ("clear", "slowed", "stopped", "turn_away", "blind", "stale")


@dataclass
class SafetyResult:
    cmd: np.ndarray  # (N, 2) safe (v, ω)
    mode: np.ndarray  # (N,) int, one of CLEAR..BLIND
    ttc: np.ndarray  # (N,) time to collision of the *commanded* arc (s); inf when free over the horizon
    clearance: np.ndarray  # (N,) distance from the footprint edge to the nearest scan or remembered point (m)


def arc_points(v: np.ndarray, w: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Robot-frame positions (…, T, 2) after following (v, ω) from the origin for each time."""
    v = np.asarray(v, dtype=np.float64)[..., None]
    w = np.asarray(w, dtype=np.float64)[..., None]
    th = w * times
    small = np.abs(w) < 1e-6
    w_safe = np.where(small, 1.0, w)
    x = np.where(small, v * times, v / w_safe * np.sin(th))
    y = np.where(small, 0.5 * v * w * times**2, v / w_safe * (1.0 - np.cos(th)))
    return np.stack([x, y], axis=-1)


class SafetyLayer:
    """Filters (v, ω) commands given the current scan; stateless, so it can never get stuck 'armed'."""

    def __init__(self, cfg: SafetyConfig, radius: float, max_w: float, max_v: float = 1.0) -> None:
        self.cfg = cfg
        self.radius = float(radius)
        self.max_w = float(max_w)
        self.max_v = max(float(max_v), 1e-6)  # the speed at which speed_margin applies in full
        self.times = np.arange(1, int(np.ceil(cfg.horizon / cfg.dt)) + 1) * cfg.dt

    def stopping_distance(self, v: np.ndarray | float) -> np.ndarray:
        v = np.abs(np.asarray(v, dtype=np.float64))
        return v * self.cfg.reaction_time + v**2 / (2.0 * self.cfg.brake_decel)

    def filter(self, cmd: np.ndarray, ranges: np.ndarray, angles: np.ndarray, valid: np.ndarray | None = None,
               blind: np.ndarray | None = None, range_max: float = np.inf, age: np.ndarray | float = 0.0,
               speed: np.ndarray | float | None = None, memory: np.ndarray | None = None,
               max_age: float = np.inf) -> SafetyResult:
        """Make a batch of commands safe. ``ranges`` must be cleaned (see :func:`toponav.control.scan.clean_scan`).

        ``age``: seconds since the scan was taken; ``speed``: the robot's measured speed (default the
        command's); ``memory``: remembered obstacle points in the robot frame, (M, 2) or (N, M, 2), NaN rows
        ignored; a scan older than ``max_age`` gives ``STALE``.
        """
        cmd = np.atleast_2d(np.asarray(cmd, dtype=np.float64)).copy()
        ranges = np.atleast_2d(np.asarray(ranges, dtype=np.float64))
        n = cmd.shape[0]
        cmd = np.where(np.isfinite(cmd), cmd, 0.0)  # a NaN command from any source becomes a stop
        # a reading inside the footprint (e.g. -inf, 'closer than range_min') is put on the footprint edge, so
        # moving toward it counts as approaching and moving away stays allowed
        ranges = np.maximum(ranges, self.radius)
        valid2 = np.ones(ranges.shape, dtype=bool) if valid is None else np.broadcast_to(np.atleast_2d(valid),
                                                                                          ranges.shape)
        pts, hit = scan_points(ranges, angles, valid2, range_max)
        pts = np.broadcast_to(pts, (n, *pts.shape[-2:]))
        hit = scan_hit = np.broadcast_to(hit, (n, hit.shape[-1]))
        if memory is not None and np.size(memory):
            mem = np.asarray(memory, dtype=np.float64)
            mem = np.broadcast_to(mem if mem.ndim == 3 else mem[None], (n, *mem.shape[-2:]))
            # a remembered point inside the footprint goes to its edge along its bearing, like a scan reading
            md = np.hypot(mem[..., 0], mem[..., 1])
            grow = np.where(md < self.radius, self.radius / np.maximum(md, 1e-9), 1.0)
            pts = np.concatenate([pts, mem * grow[..., None]], axis=1)
            hit = np.concatenate([hit, np.isfinite(md)], axis=1)
            pts = np.where(np.isfinite(pts), pts, 0.0)
        d0 = np.where(hit, np.hypot(pts[..., 0], pts[..., 1]), np.inf)  # (N, P) distance of each point now
        clearance = d0.min(axis=1) - self.radius if d0.shape[1] else np.full(n, np.inf)

        v, w = cmd[:, 0], cmd[:, 1]
        thr = (self.radius + self.cfg.margin + self.cfg.speed_margin * (v / self.max_v) ** 2)[:, None, None]
        # the commanded path (curvature w / v) sampled over the horizon at the commanded speed; slowing down
        # scales v and ω together, so every slower command follows this same path and one check covers all
        arcs = arc_points(v, w, self.times)  # (N, T, 2)
        d = distances(arcs, pts)  # (N, T, P)
        bad = (d < thr) & (d < d0[:, None, :] - 1e-4) & hit[:, None, :]
        hit_t = bad.any(-1)  # (N, T)
        first = np.where(hit_t.any(-1), hit_t.argmax(-1), -1)
        ttc = np.where(first >= 0, self.times[np.maximum(first, 0)], np.inf)
        # path length that is free for sure: up to the last step before contact
        s_free = np.where(first >= 0, np.abs(v) * np.where(first >= 0, ttc - self.cfg.dt, 0.0), np.inf)
        # the robot has already covered part of that path since the scan was taken
        moved = (np.abs(v) if speed is None else np.maximum(np.abs(np.asarray(speed, dtype=np.float64)),
                                                             np.abs(v))) * np.maximum(np.asarray(age, float), 0.0)
        s_free = s_free - moved
        a, tr = self.cfg.brake_decel, self.cfg.reaction_time
        v_allowed = -a * tr + np.sqrt((a * tr) ** 2 + 2.0 * a * np.maximum(s_free, 0.0))  # stopping distance = s_free
        moving = np.abs(v) > 1e-3
        scale = np.where(moving, np.clip(v_allowed / np.maximum(np.abs(v), 1e-9), 0.0, 1.0), 1.0)
        scale = np.where(scale < 0.05, 0.0, scale)  # creeping is not worth it: stop (and maybe turn away)

        out = cmd.copy()
        out[:, 0] = v * scale
        # same path while slowing; when stopped, rotation in place is kept (it is safe for a disc)
        out[:, 1] = np.where(scale > 0.0, w * scale, w)
        mode = np.full(n, CLEAR, dtype=np.int64)
        mode[moving & (scale < 1.0)] = SLOWED
        stopped = moving & (scale == 0.0)
        mode[stopped] = STOPPED

        # turn away: blocked (or nearly), and the command itself is not turning much
        if self.cfg.turn_rate > 0:
            blocked = moving & (scale <= 0.1) & (np.abs(w) < 0.25 * self.cfg.turn_rate)
            if blocked.any():
                side = self._open_side(ranges, angles, scan_hit, forward=v >= 0)
                out[blocked, 0] = 0.0  # turning in place is the motion that is safe for a disc
                out[blocked, 1] = side[blocked] * min(self.cfg.turn_rate, self.max_w)
                mode[blocked] = TURN_AWAY

        # blind: the scan as a whole is untrusted, or the directions this motion sweeps are not covered
        no_see = path_blind(arcs, self.radius + self.cfg.margin, angles, valid2, self.cfg.max_gap) & moving
        if blind is not None:
            no_see |= np.broadcast_to(np.asarray(blind, dtype=bool), (n,))
        out[no_see] = 0.0
        mode[no_see] = BLIND
        stale = np.broadcast_to(np.asarray(age, dtype=np.float64) > max_age, (n,))
        out[stale] = 0.0
        mode[stale] = STALE
        out[:, 1] = np.clip(out[:, 1], -self.max_w, self.max_w)
        return SafetyResult(out, mode, ttc, clearance)

    def _open_side(self, ranges: np.ndarray, angles: np.ndarray, hit: np.ndarray, forward: np.ndarray) -> np.ndarray:
        """+1 (turn left) or -1 (turn right): toward the half-plane with more free space ahead of the motion."""
        a = np.asarray(angles)
        # weight beams in the front half (or rear half when reversing) by how close they are to the heading
        heading = np.where(forward, 0.0, np.pi)[:, None]
        rel = wrap_angle(a[None, :] - heading)
        front = np.abs(rel) < np.pi / 2
        free = np.where(hit, ranges, ranges.max(axis=1, keepdims=True) if ranges.shape[1] else 0.0)
        left = np.where(front & (rel > 0), free, 0.0).sum(1)
        right = np.where(front & (rel < 0), free, 0.0).sum(1)
        side = np.where(left >= right, 1.0, -1.0)
        return np.where(forward, side, -side)  # reversing: turning left swings the rear to the right

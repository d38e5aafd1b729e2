"""Short-memory obstacle layer for the safety check (what Nav2's collision monitor gets from a costmap source).

One scan forgets what falls between its beams: 64 beams over 360° are 0.2 m apart at 2 m, so a thin pillar
is hit on one scan and missed on the next, and a layer that only looks at the current scan drives into it.
:class:`ObstacleMemory` keeps every lidar hit of the last ``duration`` seconds, in the odometry frame, and
hands the safety layer those points in the robot frame next to the current scan.

Storage is a sparse grid: one entry per ``resolution`` cell (its latest hit point and time), so a wall
seen for seconds stays a few hundred points. An entry goes when

* it is older than ``duration`` (decay: moving obstacles and odometry drift cannot pile up), or
* a newer valid beam passes within ``clear_width`` of it and returns beyond it (raytrace clearing: the
  beam saw through that spot). A beam that passes beside a pillar does not clear it; that is the point.
* it is farther than ``radius`` from the robot (only what the next second or two can reach matters).

Why not the local plan's grid (:class:`toponav.control.carrot.LocalCarrot`)? That one accumulates hits
for good (a static world over a 16 m window, grown by the footprint, at 0.1 m) because a route needs
everything seen; a safety layer needs the opposite: short-lived, cleared by newer evidence, exact points.
Everything is numpy over entries and beams; an update plus a query costs well under a millisecond.
"""

from __future__ import annotations

import math

import numpy as np

from toponav.control.config import MemoryConfig
from toponav.control.scan import seen_through

NEIGHBOURS = 3  # beams tested on each side of an entry's bearing when clearing


class ObstacleMemory:
    def __init__(self, cfg: MemoryConfig) -> None:
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        """Forget everything (time jump, relocalisation)."""
        self.xy = np.zeros((0, 2))  # latest hit in each cell, odom frame
        self.t = np.zeros(0)  # when it was seen
        self.keys = np.zeros(0, dtype=np.int64)
        self._last_t = -math.inf

    def __len__(self) -> int:
        return len(self.t)

    def update(self, pose, ranges: np.ndarray, angles: np.ndarray, valid: np.ndarray, range_max: float,
               now: float) -> None:
        """Add the hits of one cleaned scan taken at ``pose`` (x, y, yaw) at time ``now``; clear and decay."""
        if now < self._last_t:
            self.reset()  # the clock went backwards: what we saw belongs to another timeline
        self._last_t = now
        c = self.cfg
        x, y, yaw = (float(v) for v in pose[:3])
        r = np.asarray(ranges, dtype=np.float64)
        a = np.asarray(angles, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        keep = (now - self.t <= c.duration) & ((self.xy[:, 0] - x) ** 2 + (self.xy[:, 1] - y) ** 2 <= c.radius**2)
        self.xy, self.t, self.keys = self.xy[keep], self.t[keep], self.keys[keep]
        if len(self.t) and valid.any():
            self._clear(x, y, yaw, r, a, valid, range_max)
        hit = valid & (r < min(range_max, c.radius) - 1e-6)
        if not hit.any():
            return
        ah = a[hit] + yaw
        pts = np.stack([x + r[hit] * np.cos(ah), y + r[hit] * np.sin(ah)], axis=1)
        keys = self._key(pts)
        allk = np.concatenate([keys, self.keys])  # new entries first: unique keeps the first, the latest
        allp = np.concatenate([pts, self.xy])
        allt = np.concatenate([np.full(len(keys), float(now)), self.t])
        _, first = np.unique(allk, return_index=True)
        self.keys, self.xy, self.t = allk[first], allp[first], allt[first]

    def points(self, pose) -> np.ndarray:
        """Remembered obstacle points (M, 2) in the robot frame of ``pose`` (x, y, yaw)."""
        x, y, yaw = (float(v) for v in pose[:3])
        dx, dy = self.xy[:, 0] - x, self.xy[:, 1] - y
        cy, sy = math.cos(yaw), math.sin(yaw)
        return np.stack([cy * dx + sy * dy, -sy * dx + cy * dy], axis=1)

    def _clear(self, x: float, y: float, yaw: float, r: np.ndarray, a: np.ndarray, valid: np.ndarray,
               range_max: float) -> None:
        """Drop entries a valid beam of this scan passed (within ``clear_width``) and returned beyond.

        Only the ``2 * NEIGHBOURS + 1`` beams nearest in bearing to an entry are tested ((M, K), not (M, B)).
        """
        c = self.cfg
        dx, dy = self.xy[:, 0] - x, self.xy[:, 1] - y
        reach = np.where(valid, np.minimum(r, range_max), 0.0)  # an invalid beam saw nothing
        through = seen_through(np.hypot(dx, dy), np.arctan2(dy, dx) - yaw, a, reach, c.clear_width,
                               c.clear_beyond, NEIGHBOURS)
        if through.any():
            keep = ~through
            self.xy, self.t, self.keys = self.xy[keep], self.t[keep], self.keys[keep]

    def _key(self, pts: np.ndarray) -> np.ndarray:
        ij = np.floor(pts / self.cfg.resolution).astype(np.int64)
        return (ij[:, 0] << 32) ^ (ij[:, 1] & 0xFFFFFFFF)

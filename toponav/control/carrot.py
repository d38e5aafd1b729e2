"""Carrot sub-goals toward a far goal from what the lidar has seen so far (the sub-goal level of HODAT for runs
without the topological planner, e.g. the BARN benchmark).

A fixed-size grid around the run accumulates lidar hits (unknown counts as free, as move_base's global
costmap does); every ``replan_every`` calls the free space (hits inflated by the footprint) gets a
Dijkstra field from the goal, and the carrot is the point ``lookahead`` metres along the resulting path
(steepest descent of the field from the robot's cell). Local planners (learned or DWA) then only have to
reach sub-goals a few metres away, which is what the learned policy is trained for. Both methods of a
side-by-side comparison get the same carrots.
"""

from __future__ import annotations

import math

import numpy as np

from toponav.grid_graph import NEIGHBOURS, grid_graph


class ScanCarrot:
    def __init__(self, bounds: tuple[float, float, float, float], goal, radius: float, resolution: float = 0.1,
                 inflate: float = 0.1, lookahead: float = 2.0, replan_every: int = 5) -> None:
        self.xmin, self.ymin, xmax, ymax = bounds
        self.res = resolution
        self.w = max(1, math.ceil((xmax - self.xmin) / resolution))
        self.h = max(1, math.ceil((ymax - self.ymin) / resolution))
        self.hits = np.zeros((self.h, self.w), dtype=bool)
        self.blocked = np.zeros((self.h, self.w), dtype=bool)  # hits inflated by the footprint, kept up to date
        self.goal = np.asarray(goal, dtype=np.float64)[:2]
        self.reach = radius + inflate
        self.lookahead = lookahead
        self.replan_every = replan_every
        self._calls = 0
        self._field: np.ndarray | None = None
        r = math.ceil(self.reach / resolution)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        self._disc = np.argwhere(np.hypot(xx, yy) * resolution <= self.reach) - r  # (K, 2) row/col offsets
        self._graph = grid_graph((self.h, self.w), resolution)

    def _cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.clip(((xy[:, 0] - self.xmin) / self.res).astype(int), 0, self.w - 1)
        r = np.clip(((xy[:, 1] - self.ymin) / self.res).astype(int), 0, self.h - 1)
        return r, c

    def update(self, pose, ranges: np.ndarray, angles: np.ndarray, range_max: float) -> np.ndarray:
        """Add a (cleaned) scan taken at ``pose`` and return the current carrot (x, y)."""
        x, y, yaw = (float(v) for v in pose[:3])
        ranges = np.asarray(ranges, dtype=np.float64)
        hit = np.isfinite(ranges) & (ranges < range_max - 1e-6)
        a = np.asarray(angles)[hit] + yaw
        pts = np.stack([x + ranges[hit] * np.cos(a), y + ranges[hit] * np.sin(a)], axis=1)
        if len(pts):
            r, c = self._cells(pts)
            new = ~self.hits[r, c]
            self.hits[r, c] = True
            self._inflate(r[new], c[new])
        if self._field is None or self._calls % self.replan_every == 0:
            self._field = self._plan()
        self._calls += 1
        return self.carrot(np.array([x, y]))

    def _inflate(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Block the footprint disc around newly hit cells only (a scan adds a few; the map holds thousands)."""
        if len(rows):
            rr = (rows[:, None] + self._disc[None, :, 0]).ravel()
            cc = (cols[:, None] + self._disc[None, :, 1]).ravel()
            ok = (rr >= 0) & (rr < self.h) & (cc >= 0) & (cc < self.w)
            self.blocked[rr[ok], cc[ok]] = True

    def _plan(self) -> np.ndarray:
        gr, gc = self._cells(self.goal[None])
        return self._graph.distances(~self.blocked, (int(gr[0]), int(gc[0])))

    def carrot(self, xy: np.ndarray) -> np.ndarray:
        """Walk down the field from the robot's cell for ``lookahead`` metres (goal when closer / no path)."""
        if np.hypot(*(self.goal - xy)) <= self.lookahead or self._field is None:
            return self.goal.copy()
        f = self._field
        r, c = (int(v[0]) for v in self._cells(xy[None]))
        if not np.isfinite(f[r, c]):
            # robot cell inside inflated hits (tight spot): start from the best finite neighbour within 0.5 m
            k = round(0.5 / self.res)
            win = f[max(0, r - k) : r + k + 1, max(0, c - k) : c + k + 1]
            if not np.isfinite(win).any():
                return self.goal.copy()
            dr, dc = np.unravel_index(np.argmin(win), win.shape)
            r, c = max(0, r - k) + dr, max(0, c - k) + dc
        travelled = 0.0
        while travelled < self.lookahead:
            best, nxt = f[r, c], None
            for dr, dc, cost in NEIGHBOURS:
                rr, cc = r + dr, c + dc
                if 0 <= rr < self.h and 0 <= cc < self.w and f[rr, cc] < best:
                    best, nxt, step = f[rr, cc], (rr, cc), cost * self.res
            if nxt is None:
                break
            r, c = nxt
            travelled += step
        return np.array([self.xmin + (c + 0.5) * self.res, self.ymin + (r + 0.5) * self.res])

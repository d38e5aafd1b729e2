"""Carrot sub-goals toward a far goal from what the lidar has seen so far.

:class:`ScanCarrot` covers a fixed area (the sub-goal level of HODAT for runs without the topological
planner, e.g. the BARN benchmark); :class:`LocalCarrot` is the controller's rolling-window version, which
routes to whatever sub-goal the planner sends around the obstacles seen near the robot.

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

from toponav.control.config import LocalPlanConfig
from toponav.grid_graph import NEIGHBOURS, grid_graph


class ScanCarrot:
    def __init__(self, bounds: tuple[float, float, float, float], goal, radius: float, resolution: float = 0.1,
                 inflate: float = 0.1, lookahead: float = 2.0, replan_every: int = 5,
                 drop_outside: bool = False, tight_inflate: float | None = None, visible: bool = False) -> None:
        self.xmin, self.ymin, xmax, ymax = bounds
        self.drop_outside = drop_outside  # scan hits beyond the grid: dropped, or marked on its border
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
        self.visible = visible  # pull the carrot back to the farthest path point in line of sight
        self._disc = self._disc_of(self.reach)  # (K, 2) row/col offsets
        # the fallback grid, grown less: where ``inflate`` closes every way out (a robot parked in a 0.9 m
        # strip between desks and a wall, the gaps 0.4 m wider than the robot), plan on this one
        self.tight = None if tight_inflate is None else np.zeros_like(self.blocked)
        self._planned_on = self.blocked
        self._tight_disc = None if tight_inflate is None else self._disc_of(radius + tight_inflate)
        self._graph = grid_graph((self.h, self.w), resolution)

    def _disc_of(self, reach: float) -> np.ndarray:
        r = math.ceil(reach / self.res)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        return np.argwhere(np.hypot(xx, yy) * self.res <= reach) - r

    def set_goal(self, goal) -> None:
        """Aim at a new goal: the next call plans afresh."""
        self.goal = np.asarray(goal, dtype=np.float64)[:2]
        self._field = None
        self._calls = 0

    def add_hits(self, pts: np.ndarray, clip: bool = False) -> None:
        """Mark obstacle points (N, 2) in world coordinates; points outside the grid are dropped, or with
        ``clip`` marked on its border cells (a world's bounds hold all its obstacles)."""
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        if not clip:
            pts = pts[self._inside(pts)]
        if len(pts):
            r, c = self._cells(pts)
            new = ~self.hits[r, c]
            self.hits[r, c] = True
            self._inflate(r[new], c[new])

    def line_free(self, a: np.ndarray, b: np.ndarray) -> bool:
        """No grown obstacle on the segment a -> b (the part inside the grid), sampled every half cell."""
        return not self.blocked[self._segment_cells(a, b)].any()

    def _segment_cells(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cells of the segment a -> b inside the grid, sampled every half cell, in order from a."""
        n = max(2, int(np.hypot(*(b - a)) / (0.5 * self.res)) + 1)
        pts = a[None] + np.linspace(0.0, 1.0, n)[:, None] * (b - a)[None]
        return self._cells(pts[self._inside(pts)])

    def hit_points(self) -> np.ndarray:
        """Centres of the hit cells (N, 2), world coordinates."""
        r, c = np.nonzero(self.hits)
        return np.stack([self.xmin + (c + 0.5) * self.res, self.ymin + (r + 0.5) * self.res], axis=1)

    def _inside(self, xy: np.ndarray) -> np.ndarray:
        """Mask of the points (N, 2) that fall on the grid (``_cells`` clips the others to its border)."""
        return ((xy[:, 0] >= self.xmin) & (xy[:, 0] < self.xmin + self.w * self.res)
                & (xy[:, 1] >= self.ymin) & (xy[:, 1] < self.ymin + self.h * self.res))

    def _cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.clip(((xy[:, 0] - self.xmin) / self.res).astype(int), 0, self.w - 1)
        r = np.clip(((xy[:, 1] - self.ymin) / self.res).astype(int), 0, self.h - 1)
        return r, c

    def update(self, pose, ranges: np.ndarray, angles: np.ndarray, range_max: float,
               scan_pose=None) -> np.ndarray:
        """Add a (cleaned) scan taken at ``scan_pose`` (default ``pose``; ``False``: add nothing, the scan was
        added before) and return the current carrot (x, y) for a robot at ``pose``.

        A scan must be added once, at the pose it was taken from: the controller steps at 20 Hz on 10 Hz scans,
        and adding the same scan again at the newer pose of a robot turning at 1.5 rad/s smeared a 0.1 m wall
        into a 0.8 m band that closed a 1.2 m door (bench stack map:office: 40 s circling in front of it).
        """
        x, y = (float(v) for v in pose[:2])
        if scan_pose is not False:
            sx, sy, syaw = (float(v) for v in (pose if scan_pose is None else scan_pose)[:3])
            ranges = np.asarray(ranges, dtype=np.float64)
            hit = np.isfinite(ranges) & (ranges < range_max - 1e-6)
            a = np.asarray(angles)[hit] + syaw
            pts = np.stack([sx + ranges[hit] * np.cos(a), sy + ranges[hit] * np.sin(a)], axis=1)
            self.add_hits(pts, clip=not self.drop_outside)
        if self._field is None or self._calls % self.replan_every == 0:
            self._field, self._planned_on = self._plan(self.blocked), self.blocked
            if self.tight is not None and not self._leads_out(self._field, np.array([x, y])):
                self._field, self._planned_on = self._plan(self.tight), self.tight
        self._calls += 1
        return self.carrot(np.array([x, y]))

    def _inflate(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Block the footprint disc around newly hit cells only (a scan adds a few; the map holds thousands)."""
        if len(rows):
            for grid, disc in ((self.blocked, self._disc), (self.tight, self._tight_disc)):
                if grid is None:
                    continue
                rr = (rows[:, None] + disc[None, :, 0]).ravel()
                cc = (cols[:, None] + disc[None, :, 1]).ravel()
                ok = (rr >= 0) & (rr < self.h) & (cc >= 0) & (cc < self.w)
                grid[rr[ok], cc[ok]] = True

    def _plan(self, blocked: np.ndarray) -> np.ndarray | None:
        """Dijkstra field from the goal cell, or from the free cell nearest to it within 1 m when the goal
        lies in grown obstacles (a frontier by a wall); None when there is no such cell."""
        gr, gc = (int(v[0]) for v in self._cells(self.goal[None]))
        if blocked[gr, gc]:
            k = round(1.0 / self.res)
            r0, c0 = max(0, gr - k), max(0, gc - k)
            free = np.argwhere(~blocked[r0 : gr + k + 1, c0 : gc + k + 1])
            if not len(free):
                return None
            d2 = (free[:, 0] + r0 - gr) ** 2 + (free[:, 1] + c0 - gc) ** 2
            gr, gc = int(free[np.argmin(d2), 0] + r0), int(free[np.argmin(d2), 1] + c0)
        return self._graph.distances(~blocked, (gr, gc))

    def _leads_out(self, field: np.ndarray | None, xy: np.ndarray) -> bool:
        """A path from the robot: the field is finite at its cell or within the 0.5 m that :meth:`carrot` searches."""
        if field is None:
            return False
        r, c = (int(v[0]) for v in self._cells(xy[None]))
        return bool(np.isfinite(self._near(field, r, c)[0]).any())

    def _near(self, field: np.ndarray, r: int, c: int) -> tuple[np.ndarray, int, int]:
        """The field within 0.5 m of cell (r, c) (clipped to the grid) and the window's first row and column."""
        k = round(0.5 / self.res)
        r0, c0 = max(0, r - k), max(0, c - k)
        return field[r0 : r + k + 1, c0 : c + k + 1], r0, c0

    def carrot(self, xy: np.ndarray) -> np.ndarray:
        """Walk down the field from the robot's cell for ``lookahead`` metres (the goal when no path is known,
        or when the walk ends on it).

        A goal within ``lookahead`` is steered at directly only while the straight line to it is free: a
        sub-goal 1.6 m away behind a desk was aimed at straight, and DWA turned in place in front of the desk
        for 50 s (bench stack map:office, start between the desks and the north wall).
        """
        if self._field is None or (np.hypot(*(self.goal - xy)) <= self.lookahead and self.line_free(xy, self.goal)):
            return self.goal.copy()
        f = self._field
        r, c = (int(v[0]) for v in self._cells(xy[None]))
        if not np.isfinite(f[r, c]):
            # robot cell inside inflated hits (tight spot): start from the best finite neighbour within 0.5 m
            win, r0, c0 = self._near(f, r, c)
            if not np.isfinite(win).any():
                return self.goal.copy()
            dr, dc = np.unravel_index(np.argmin(win), win.shape)
            r, c = r0 + dr, c0 + dc
        travelled, path = 0.0, [(r, c)]
        end = None
        while travelled < self.lookahead:
            best, nxt = f[r, c], None
            for dr, dc, cost in NEIGHBOURS:
                rr, cc = r + dr, c + dc
                if 0 <= rr < self.h and 0 <= cc < self.w and f[rr, cc] < best:
                    best, nxt, step = f[rr, cc], (rr, cc), cost * self.res
            if nxt is None:  # the field's minimum: the goal's cell (or the free cell standing in for it)
                end = self.goal.copy() if np.hypot(*(self.goal - xy)) <= self.lookahead else None
                break
            r, c = nxt
            path.append(nxt)
            travelled += step
        points = np.array([self._centre(r, c) for r, c in path])
        if end is not None:
            points[-1] = end
        if not self.visible:
            return points[-1]
        return points[self._last_visible(xy, points)]

    def _last_visible(self, xy: np.ndarray, points: np.ndarray) -> int:
        """Index of the farthest path point the robot sees in a straight line on the grid it planned on.

        A carrot 2 m along a path that bends round a desk corner lies behind the corner: DWA, steering at it,
        turned in place before the corner for the rest of the run (bench stack map:office). Cells the robot
        already stands in (a tight spot) do not count as blocking.
        """
        for i in range(len(points) - 1, 0, -1):
            on = self._planned_on[self._segment_cells(xy, points[i])]
            first_free = int(np.argmin(on)) if not on.all() else len(on)
            if not on[first_free:].any():
                return i
        return 0

    def _centre(self, r: int, c: int) -> np.ndarray:
        return np.array([self.xmin + (c + 0.5) * self.res, self.ymin + (r + 0.5) * self.res])


class LocalCarrot:
    """The controller's local costmap: a :class:`ScanCarrot` on a square window that follows the robot.

    Lidar hits accumulate while the robot stays in the window; when it comes within a quarter window of the
    edge, a new window is centred on it and the hits that still fall inside are carried over (as a rolling
    local costmap does). Hits are never cleared otherwise: the world is taken as static for the lifetime of a
    window, and :meth:`reset` (time jumps, new map) drops everything.
    """

    def __init__(self, cfg: LocalPlanConfig, radius: float) -> None:
        self.cfg = cfg
        self.radius = radius
        self.grid: ScanCarrot | None = None
        self._centre = np.zeros(2)

    def reset(self) -> None:
        self.grid = None

    def aim(self, pose, ranges: np.ndarray, angles: np.ndarray, range_max: float, target,
            scan_pose=None) -> np.ndarray:
        """Add the scan taken at ``scan_pose`` (see :meth:`ScanCarrot.update`) and return the point to steer at
        on the way to ``target`` (x, y) from ``pose``: the target itself while no seen obstacle lies on the
        straight line to it, else the carrot."""
        xy = np.asarray(pose[:2], dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)[:2]
        if self.grid is None or np.max(np.abs(xy - self._centre)) > self.cfg.window / 4:
            self._recentre(xy, target)
        elif np.hypot(*(target - self.grid.goal)) > self.cfg.resolution:
            self.grid.set_goal(target)
        carrot = self.grid.update(pose, ranges, angles, range_max, scan_pose)
        return target.copy() if self.grid.line_free(xy, target) else carrot

    def _recentre(self, xy: np.ndarray, target: np.ndarray) -> None:
        c, h = self.cfg, self.cfg.window / 2
        grid = ScanCarrot((xy[0] - h, xy[1] - h, xy[0] + h, xy[1] + h), target, self.radius, c.resolution,
                          c.inflate, c.lookahead, c.replan_every, drop_outside=True,
                          tight_inflate=c.tight_inflate if c.tight_inflate < c.inflate else None, visible=True)
        if self.grid is not None:
            grid.add_hits(self.grid.hit_points())
        self.grid, self._centre = grid, xy.copy()

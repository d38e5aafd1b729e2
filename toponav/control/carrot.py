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
from scipy.ndimage import distance_transform_edt

from toponav.control.config import LocalPlanConfig
from toponav.control.scan import seen_through
from toponav.grid_graph import NEIGHBOURS, grid_graph

#: clearing (ScanCarrot.clear): beams tested on each side of a return's bearing (+-3 degrees at 1 degree), how
#: close a beam must pass to the return (m; beams 1 degree apart are 3.5 cm apart at 2 m) and how far beyond it it
#: must end (m)
_CLEAR_BEAMS = 3
_CLEAR_WIDTH = 0.03
_CLEAR_BEYOND = 0.15
#: ... and a return is not cleared by a beam skimming its line: the returns within _SKIM_RADIUS (m) form a line when
#: their covariance's small eigenvalue is below _SKIM_LINE times the large one, skimmed within acos(_SKIM_COS)
_SKIM_RADIUS = 0.25
_SKIM_LINE = 0.1
_SKIM_COS = math.cos(math.radians(30.0))
#: a carrot nearer than this (m) is replaced by the first path point this far from the robot
_MIN_AIM = 0.5


class ScanCarrot:
    def __init__(self, bounds: tuple[float, float, float, float], goal, radius: float, resolution: float = 0.1,
                 inflate: float = 0.1, lookahead: float = 2.0, replan_every: int = 5,
                 drop_outside: bool = False, tight_inflate: float | None = None, visible: bool = False,
                 clear_closer: float = 0.0) -> None:
        self.xmin, self.ymin, xmax, ymax = bounds
        self.drop_outside = drop_outside  # scan hits beyond the grid: dropped, or marked on its border
        self.res = resolution
        self.w = max(1, math.ceil((xmax - self.xmin) / resolution))
        self.h = max(1, math.ceil((ymax - self.ymin) / resolution))
        self.hits = np.zeros((self.h, self.w), dtype=bool)
        # per hit cell, the least range it was marked from (inf where no hit): a return's noise grows with its
        # range, so a beam from much nearer that sees through the cell outranks it (see clear())
        self.hit_range = np.full((self.h, self.w), np.inf)
        self.hit_xy = np.zeros((self.h, self.w, 2))  # ... and the return itself (the nearest-range one)
        self.clear_closer = clear_closer
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

    def add_hits(self, pts: np.ndarray, clip: bool = False, ranges: np.ndarray | float = 0.0) -> None:
        """Mark obstacle points (N, 2) in world coordinates, each seen from ``ranges`` metres away (0: a known
        obstacle, never cleared); points outside the grid are dropped, or with ``clip`` marked on its border
        cells (a world's bounds hold all its obstacles)."""
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        rng = np.broadcast_to(np.asarray(ranges, dtype=np.float64), (len(pts),))
        if not clip:
            inside = self._inside(pts)
            pts, rng = pts[inside], rng[inside]
        if len(pts):
            r, c = self._cells(pts)
            new = ~self.hits[r, c]
            self.hits[r, c] = True
            # each cell keeps its nearest-range return: farthest first, so that a nearer one in the same cell
            # is written last
            order = np.argsort(-rng, kind="stable")
            r_o, c_o, p_o, g_o = r[order], c[order], pts[order], rng[order]
            nearer = g_o < self.hit_range[r_o, c_o]
            self.hit_xy[r_o[nearer], c_o[nearer]] = p_o[nearer]
            np.minimum.at(self.hit_range, (r, c), rng)
            self._inflate(r[new], c[new])

    def clear(self, sensor, ranges: np.ndarray, bearings: np.ndarray, range_max: float) -> int:
        """Raytrace clearing: drop hit cells that a beam of this scan passed through and returned beyond, when
        the scan was taken from nearer than ``clear_closer`` times the range the cell was marked from. Returns
        the number of cells cleared (0 when ``clear_closer`` is 0).

        Range noise (1 cm + 1 % here, as cheap 2-D lidars) puts the returns off a door post's end face up to
        0.1-0.2 m into the door when it is seen from the next room; grown by the footprint they closed a 1 m
        door, and the plan led the long way round through unknown space while the planner's path led through
        the door (maze 1000000: the robot circled in front of it for 200 s). A beam that sees through the door
        from nearer removes them, as a costmap's raytrace clearing does. Only a much nearer beam may clear: a
        wall seen at a grazing angle from as far as it was marked from would otherwise be cleared by the beams
        that skim it. ``bearings`` are world-frame beam angles; a beam with no return (inf) counts as
        ``range_max``, an invalid one (NaN) clears nothing.
        """
        if self.clear_closer <= 0 or not self.hits.any():
            return 0
        sx, sy = (float(v) for v in np.asarray(sensor, dtype=np.float64)[:2])
        rows, cols = np.nonzero(self.hits)
        xy = self.hit_xy[rows, cols]
        dist = np.hypot(xy[:, 0] - sx, xy[:, 1] - sy)
        cand = dist < self.clear_closer * self.hit_range[rows, cols]
        if not cand.any():
            return 0
        rows, cols, dist, xy = rows[cand], cols[cand], dist[cand], xy[cand]
        bearing = np.arctan2(xy[:, 1] - sy, xy[:, 0] - sx)
        r = np.asarray(ranges, dtype=np.float64)
        reach = np.where(np.isnan(r), 0.0, np.minimum(r, range_max))  # NaN: an invalid beam saw nothing
        gone = seen_through(dist, bearing, bearings, reach, _CLEAR_WIDTH, _CLEAR_BEYOND, _CLEAR_BEAMS)
        if gone.any():
            gone[gone] = ~self._skimmed(rows[gone], cols[gone], bearing[gone])
        if not gone.any():
            return 0
        self.hits[rows[gone], cols[gone]] = False
        self.hit_range[rows[gone], cols[gone]] = np.inf
        self._reinflate()
        return int(gone.sum())

    def _skimmed(self, rows: np.ndarray, cols: np.ndarray, bearing: np.ndarray) -> np.ndarray:
        """Which of these hit cells lie on a line of returns (their neighbours' within 0.25 m) that the beam at
        ``bearing`` runs along (within 30 degrees): a beam skimming a wall passes beside the returns of its face
        that noise put on the free side, and must not clear them (warehouse 1000001: the west face of a shelf,
        seen from the aisle and then skimmed from its corner, vanished from the grid, the plan led through it and
        DWA turned in place at the corner for 12 s). A return pushed into a door lies on the line of its post,
        and the beams through the door cross that line."""
        k = math.ceil(_SKIM_RADIUS / self.res)
        out = np.zeros(len(rows), dtype=bool)
        for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            r0, c0 = max(0, r - k), max(0, c - k)
            win = self.hits[r0 : r + k + 1, c0 : c + k + 1]
            pts = self.hit_xy[r0 : r + k + 1, c0 : c + k + 1][win]
            if len(pts) < 3:
                continue
            d = pts - pts.mean(axis=0)
            evals, evecs = np.linalg.eigh(d.T @ d)
            if evals[0] > _SKIM_LINE * evals[1]:
                continue  # a blob or a corner, not a line
            axis = evecs[:, 1]
            out[i] = abs(axis[0] * math.cos(bearing[i]) + axis[1] * math.sin(bearing[i])) > _SKIM_COS
        return out

    def _reinflate(self) -> None:
        """Grow every hit cell again (after clearing: cells grown from a cleared hit may be free now)."""
        rows, cols = np.nonzero(self.hits)
        self.blocked[:] = False
        if self.tight is not None:
            self.tight[:] = False
        self._inflate(rows, cols)
        self._field = None  # plan afresh on the next update

    def line_free(self, a: np.ndarray, b: np.ndarray) -> bool:
        """No grown obstacle on the segment a -> b (the part inside the grid), sampled every half cell."""
        return not self.blocked[self._segment_cells(a, b)].any()

    def _segment_cells(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cells of the segment a -> b inside the grid, sampled every half cell, in order from a."""
        n = max(2, int(np.hypot(*(b - a)) / (0.5 * self.res)) + 1)
        pts = a[None] + np.linspace(0.0, 1.0, n)[:, None] * (b - a)[None]
        return self._cells(pts[self._inside(pts)])

    def hit_points(self) -> np.ndarray:
        """The return kept in each hit cell (N, 2), world coordinates (in the order of :meth:`hit_ranges`)."""
        return self.hit_xy[self.hits]

    def hit_ranges(self) -> np.ndarray:
        """The range each hit cell was marked from (N,), aligned with :meth:`hit_points`."""
        return self.hit_range[self.hits]

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
            world = np.asarray(angles, dtype=np.float64) + syaw
            self.clear((sx, sy), ranges, world, range_max)
            a = world[hit]
            pts = np.stack([sx + ranges[hit] * np.cos(a), sy + ranges[hit] * np.sin(a)], axis=1)
            self.add_hits(pts, clip=not self.drop_outside, ranges=ranges[hit])
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
            # robot cell inside inflated hits (tight spot): start from a free cell within 0.5 m
            win, r0, c0 = self._near(f, r, c)
            free = np.argwhere(np.isfinite(win))
            if not len(free):
                return self.goal.copy()
            if self.visible:
                # the nearest one that no hit hides (the lowest field first among equally near ones): the lowest
                # of the window, beside a door post, lay beyond the wall and the path started behind it
                d2 = (free[:, 0] + r0 - r) ** 2 + (free[:, 1] + c0 - c) ** 2
                order = np.lexsort((win[free[:, 0], free[:, 1]], d2))
                pick = order[0]
                for k in order:
                    if not self.hits[self._segment_cells(xy, self._centre(free[k, 0] + r0, free[k, 1] + c0))].any():
                        pick = k
                        break
            else:  # the fixed-area carrot (BARN, the training task): the lowest, as its benchmarks were measured
                pick = int(np.argmin(win[free[:, 0], free[:, 1]]))
            r, c = int(free[pick, 0] + r0), int(free[pick, 1] + c0)
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
        i = self._last_visible(xy, points)
        if np.hypot(*(points[i] - xy)) < _MIN_AIM:
            # nothing farther in sight (a robot against a door post): the first path point _MIN_AIM away, not a
            # point under the robot that DWA can only turn in place at
            far = np.flatnonzero(np.hypot(points[:, 0] - xy[0], points[:, 1] - xy[1]) >= _MIN_AIM)
            if len(far):
                i = max(i, int(far[0]))
        return points[i]

    def _last_visible(self, xy: np.ndarray, points: np.ndarray) -> int:
        """Index of the farthest path point the robot sees in a straight line on the grid it planned on.

        A carrot 2 m along a path that bends round a desk corner lies behind the corner: DWA, steering at it,
        turned in place before the corner for the rest of the run (bench stack map:office). A robot already
        inside the grown obstacles (a tight spot, a door post's disc) sees a point when the line to it never
        comes nearer to a lidar hit than the robot is now (DWA's own rule for a robot inside its margin). Before,
        the cells it stood in were skipped as one run, and beside a door post that run went on through the post:
        the robot was sent at a point behind the wall and DWA turned in place against the post (stack_sim mazes
        1000004 and 1000005: 88 s and 65 s stalled in doors).
        """
        grid = self._planned_on
        r, c = (int(v[0]) for v in self._cells(xy[None]))
        if grid[r, c]:
            dist, r0, c0 = self._hit_distance(r, c, self.lookahead + self.reach)
            floor = dist[r - r0, c - c0] - 0.5 * self.res
            for i in range(len(points) - 1, 0, -1):
                rr, cc = self._segment_cells(xy, points[i])
                rr, cc = rr - r0, cc - c0
                inside = (rr >= 0) & (rr < dist.shape[0]) & (cc >= 0) & (cc < dist.shape[1])
                if inside.all() and dist[rr, cc].min() >= floor:
                    return i
        # in free space (or no line keeps the robot's clearance): a line with no grown cell past those it
        # starts in
        for i in range(len(points) - 1, 0, -1):
            on = grid[self._segment_cells(xy, points[i])]
            first_free = int(np.argmin(on)) if not on.all() else len(on)
            if not on[first_free:].any():
                return i
        return 0

    def _hit_distance(self, r: int, c: int, radius: float) -> tuple[np.ndarray, int, int]:
        """Distance (m) to the nearest hit cell from each cell of the window within ``radius`` (+ one cell) of cell
        (r, c), and the window's first row and column. A hit outside the window lies more than ``radius`` from
        (r, c), so it can only be nearest to a cell whose distance is already larger than what it is compared
        with (the robot's own, at most radius + inflate)."""
        k = math.ceil(radius / self.res) + 1
        r0, c0 = max(0, r - k), max(0, c - k)
        win = self.hits[r0 : r + k + 1, c0 : c + k + 1]
        if not win.any():
            return np.full(win.shape, np.inf), r0, c0
        return distance_transform_edt(~win) * self.res, r0, c0

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
                          tight_inflate=c.tight_inflate if c.tight_inflate < c.inflate else None, visible=True,
                          clear_closer=c.clear_closer)
        if self.grid is not None:
            grid.add_hits(self.grid.hit_points(), ranges=self.grid.hit_ranges())
        self.grid, self._centre = grid, xy.copy()

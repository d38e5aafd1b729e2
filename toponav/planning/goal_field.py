"""Optimistic path length to the goal through the partly known map (the freespace assumption).

A goal beyond the mapped area pulls candidate sub-goals toward it. Measured in a straight line, the pull
ignores every wall the robot has already seen: in a maze it keeps the robot at frontiers beside the goal's
wall, and the way round starts far from it (held-out mazes 1000001 and 1000003 timed out this way). The
usual answer for reaching a known goal in an unknown map is to plan as if every unknown cell were free
(Koenig & Likhachev's "freespace assumption" in D* Lite; the flood fill of micromouse maze solvers) and to
replan as walls appear. :class:`GoalField` does that on the mapper's occupancy grid: one Dijkstra from the
goal over every cell that is not known to be blocked gives, for any point, the shortest way to the goal
that the map does not yet rule out: at least the straight-line distance and, up to the 8-connected grid's
metric (at most 8 % long), at most the true path length. The pull it gives is the straight-line pull
corrected for the walls already seen.

The field is computed on a coarse copy of the map (``cell``, 0.2 m by default) so a building-sized map stays
cheap (a 60 x 60 m floor is 90,000 cells, a few tens of ms): a coarse cell is blocked when any map cell in
it is occupied, which joins the lidar hits along a wall seen from afar into a line, and no diagonal step
passes between two blocked cells that touch at a corner (a diagonal wall is a wall). Blocked cells can be
grown by ``inflate``; the planner leaves it at 0, because growing them closes the narrow but passable gaps
between desks. Outside the exploration boundary (the world's bounds in simulation) every cell is blocked;
beyond the map's extent, cells are unknown, hence free.
"""

from __future__ import annotations

import math

import numpy as np

from toponav.grid_graph import grid_graph
from toponav.planning.boundary import inside_polygon

#: ROS OccupancyGrid values at or above this are obstacles (nav_msgs convention: 0 free, 100 occupied).
OCCUPIED = 50


class GoalField:
    """Shortest optimistic distance (m) to one goal point over a coarse copy of an occupancy grid."""

    def __init__(self, cell: float = 0.2, inflate: float = 0.0, margin: float = 3.0) -> None:
        if not (cell > 0 and inflate >= 0 and margin >= 0):
            raise ValueError(f"GoalField needs cell > 0, inflate >= 0, margin >= 0; got {cell}, {inflate}, {margin}")
        self.cell, self.inflate, self.margin = float(cell), float(inflate), float(margin)
        self.origin = (0.0, 0.0)
        self.dist: np.ndarray | None = None  # (H, W) metres to the goal; inf = cut off by known obstacles
        self.goal: tuple[float, float] | None = None

    def update(self, values: np.ndarray, origin: tuple[float, float], resolution: float,
               goal: tuple[float, float], boundary: np.ndarray | None = None,
               extra: tuple[float, float] | None = None) -> None:
        """Recompute from a map (ROS values: -1 unknown, 0 free, 100 occupied; row 0 = lowest y).

        ``boundary`` (K, 2) polygon: cells outside it are blocked and the field covers just its box; without
        one the field covers the map, the goal and ``extra`` (the robot) with ``margin`` metres around.
        """
        from scipy import ndimage

        occ = np.asarray(values) >= OCCUPIED
        h, w = occ.shape
        ox, oy = float(origin[0]), float(origin[1])
        if boundary is not None:
            x0, y0 = np.min(boundary, axis=0)
            x1, y1 = np.max(boundary, axis=0)
        else:
            pts = [(ox, oy), (ox + w * resolution, oy + h * resolution), goal] + ([extra] if extra else [])
            arr = np.asarray(pts, dtype=np.float64)
            x0, y0 = arr.min(axis=0) - self.margin
            x1, y1 = arr.max(axis=0) + self.margin
        c = self.cell
        cw, ch = max(1, math.ceil((x1 - x0) / c)), max(1, math.ceil((y1 - y0) / c))
        blocked = np.zeros((ch, cw), dtype=bool)
        if occ.any():  # every occupied map cell marks the coarse cell its centre falls in
            rows, cols = np.nonzero(occ)
            cx = np.floor((ox + (cols + 0.5) * resolution - x0) / c).astype(np.int64)
            cy = np.floor((oy + (rows + 0.5) * resolution - y0) / c).astype(np.int64)
            ok = (cx >= 0) & (cx < cw) & (cy >= 0) & (cy < ch)
            blocked[cy[ok], cx[ok]] = True
        k = math.floor(self.inflate / c + 1e-9)
        if k > 0 and blocked.any():
            yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
            blocked = ndimage.binary_dilation(blocked, structure=(yy * yy + xx * xx) <= k * k)
        if boundary is not None:
            centres = np.stack(np.meshgrid(x0 + (np.arange(cw) + 0.5) * c, y0 + (np.arange(ch) + 0.5) * c),
                               axis=-1).reshape(-1, 2)
            blocked |= ~inside_polygon(centres, np.asarray(boundary, dtype=np.float64)).reshape(ch, cw)
        self.origin = (float(x0), float(y0))
        free = ~blocked
        src = self._free_cell_near(free, goal)
        if src is None:  # the goal lies in known obstacles or outside the boundary: no field
            self.dist, self.goal = None, None
            return
        self.dist = grid_graph((ch, cw), c).distances(free, src, cut_corners=False)
        gx, gy = goal
        # from the goal point itself to the centre of its cell
        sx, sy = x0 + (src[1] + 0.5) * c, y0 + (src[0] + 0.5) * c
        self.dist = self.dist + math.hypot(gx - sx, gy - sy)
        self.goal = (float(gx), float(gy))

    def _free_cell_near(self, free: np.ndarray, xy: tuple[float, float], reach: int = 2) -> tuple[int, int] | None:
        """(row, col) of the free cell holding ``xy``, else the nearest free one within ``reach`` cells."""
        h, w = free.shape
        col = math.floor((xy[0] - self.origin[0]) / self.cell)
        row = math.floor((xy[1] - self.origin[1]) / self.cell)
        best, best_d = None, math.inf
        for r in range(row - reach, row + reach + 1):
            for q in range(col - reach, col + reach + 1):
                if 0 <= r < h and 0 <= q < w and free[r, q]:
                    d = (r - row) ** 2 + (q - col) ** 2
                    if d < best_d:
                        best, best_d = (r, q), d
        return best

    def distance(self, xy: np.ndarray, reach: int = 2) -> np.ndarray:
        """(N,) optimistic metres to the goal from each point: the field at its cell, or the lowest value
        within ``reach`` cells (a frontier or the robot sits next to a wall, inside the grown obstacles),
        plus the way to that cell's centre. Points the field does not cover get the straight-line distance;
        inf where known obstacles cut the point off from the goal."""
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.dist is None or self.goal is None:
            return np.full(len(p), np.nan)
        h, w = self.dist.shape
        c = self.cell
        col = np.floor((p[:, 0] - self.origin[0]) / c).astype(np.int64)
        row = np.floor((p[:, 1] - self.origin[1]) / c).astype(np.int64)
        out = np.hypot(p[:, 0] - self.goal[0], p[:, 1] - self.goal[1])
        covered = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        best = np.full(len(p), np.inf)
        for dr in range(-reach, reach + 1):
            for dc in range(-reach, reach + 1):
                r, q = row + dr, col + dc
                ok = covered & (r >= 0) & (r < h) & (q >= 0) & (q < w)
                d = np.full(len(p), np.inf)
                d[ok] = self.dist[r[ok], q[ok]]
                cx, cy = self.origin[0] + (q + 0.5) * c, self.origin[1] + (r + 0.5) * c
                best = np.minimum(best, d + np.hypot(p[:, 0] - cx, p[:, 1] - cy))
        out[covered] = np.maximum(best[covered], out[covered])  # never below the straight line
        return out

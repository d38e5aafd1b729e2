"""A light log-odds occupancy grid: free space, obstacles, frontiers, explored area and line of sight.

The grid lives in the mapper's frame (odometry), grows when a scan leaves it, and integrates a whole
scan with array operations only: every beam is sampled at the cell size in one ``(beams, samples)``
array, the cells it touches are marked in a small window around the robot, and the window is updated
in place. No per-beam Python loop, so a 360-beam scan costs a fraction of a millisecond.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from toponav.geometry import wrap_angle
from toponav.mapping.config import GridConfig


@dataclass(frozen=True)
class ScanRays:
    """A cleaned scan in the robot frame: finite beams only, with which of them hit something."""

    angles: np.ndarray  # (B,) rad
    lengths: np.ndarray  # (B,) m, free-space length of each beam (hit range or the no-return range)
    hit: np.ndarray  # (B,) bool, beam ended on an obstacle

    @property
    def count(self) -> int:
        return int(self.angles.shape[0])

    def hit_points(self) -> np.ndarray:
        """(M, 2) robot-frame end points of the beams that hit something (what scan matching uses)."""
        a, r = self.angles[self.hit], self.lengths[self.hit]
        return np.column_stack([r * np.cos(a), r * np.sin(a)])


def scan_rays(ranges: np.ndarray, angles: np.ndarray, range_min: float, range_max: float,
               max_free_range: float) -> ScanRays:
    """The scan as rays for the grid: NaN / negative / below-minimum beams dropped, no-return beams (inf or
    >= range_max) kept as free-space rays without a hit.

    (The controller's :func:`toponav.control.scan.clean_scan` instead keeps every beam, in place, with a
    validity mask: its sectors and safety checks need a fixed beam layout.)

    ``ranges`` and ``angles`` must have the same length (the caller checks and reports it).
    """
    r = np.asarray(ranges, dtype=np.float64).ravel()
    a = np.asarray(angles, dtype=np.float64).ravel()
    rmax = range_max if math.isfinite(range_max) and range_max > 0 else np.inf
    with np.errstate(invalid="ignore"):
        rmin = range_min if math.isfinite(range_min) else 0.0
        # no return, or a return beyond the trusted range: free space up to that range, no hit
        no_return = np.isposinf(r) | (r >= rmax - 1e-6) | (r > max_free_range)
        hit = np.isfinite(r) & (r >= max(rmin, 0.0)) & ~no_return
    valid = np.isfinite(a) & (hit | no_return)
    free_len = min(max_free_range, rmax if math.isfinite(rmax) else max_free_range)
    lengths = np.where(hit, r, free_len)
    return ScanRays(angles=a[valid], lengths=lengths[valid], hit=hit[valid])


class OccupancyGrid:
    """Log-odds grid (rows = y, cols = x) whose cell (0, 0) lower-left corner sits at ``origin``."""

    def __init__(self, cfg: GridConfig | None = None) -> None:
        self.cfg = cfg or GridConfig()
        self.resolution = float(self.cfg.resolution)
        self.logodds = np.zeros((0, 0), dtype=np.float32)
        self.origin = (0.0, 0.0)
        self.version = 0  # bumps on every change, so consumers can cache derived products
        self._box: tuple[int, int, int, int] | None = None  # (r0, r1, c0, c1) of every cell ever updated

    # -- geometry -----------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.logodds.shape  # type: ignore[return-value]

    @property
    def empty(self) -> bool:
        return self.logodds.size == 0

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) covered by the grid."""
        h, w = self.shape
        x0, y0 = self.origin
        return (x0, y0, x0 + w * self.resolution, y0 + h * self.resolution)

    def world_to_cell(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) world points -> (col, row) integer arrays (may lie outside the grid)."""
        p = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        col = np.floor((p[:, 0] - self.origin[0]) / self.resolution).astype(np.int64)
        row = np.floor((p[:, 1] - self.origin[1]) / self.resolution).astype(np.int64)
        return col, row

    def cell_centres(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.stack([self.origin[0] + (np.asarray(cols) + 0.5) * self.resolution,
                         self.origin[1] + (np.asarray(rows) + 0.5) * self.resolution], axis=-1)

    def clear(self) -> None:
        self.logodds = np.zeros((0, 0), dtype=np.float32)
        self.origin = (0.0, 0.0)
        self._box = None
        self.version += 1

    def known_box(self) -> tuple[int, int, int, int] | None:
        """(row0, row1, col0, col1) bounding every cell a scan ever touched; None before the first scan.

        Frontier and area computations run on this box only: the grid itself grows in big steps and is
        mostly unobserved.
        """
        return self._box

    def ensure(self, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
        """Grow (never shrink) so that the box is covered, with a margin, up to ``max_size`` per side."""
        res = self.resolution
        if self.empty:
            half = self.cfg.initial_size / 2.0
            cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
            x0 = math.floor((min(xmin, cx - half)) / res) * res
            y0 = math.floor((min(ymin, cy - half)) / res) * res
            x1 = max(xmax, cx + half)
            y1 = max(ymax, cy + half)
            w = min(math.ceil((x1 - x0) / res), math.ceil(self.cfg.max_size / res))
            h = min(math.ceil((y1 - y0) / res), math.ceil(self.cfg.max_size / res))
            self.logodds = np.zeros((h, w), dtype=np.float32)
            self.origin = (x0, y0)
            self.version += 1
            return
        gx0, gy0, gx1, gy1 = self.bounds()
        if xmin >= gx0 and ymin >= gy0 and xmax <= gx1 and ymax <= gy1:
            return
        m = self.cfg.grow_margin
        limit = math.ceil(self.cfg.max_size / res)
        h, w = self.shape
        left = math.ceil((gx0 - xmin + m) / res) if xmin < gx0 else 0
        right = math.ceil((xmax - gx1 + m) / res) if xmax > gx1 else 0
        down = math.ceil((gy0 - ymin + m) / res) if ymin < gy0 else 0
        up = math.ceil((ymax - gy1 + m) / res) if ymax > gy1 else 0
        # respect the size limit: trim the growth, never the existing map
        left, right = _trim(left, right, limit - w)
        down, up = _trim(down, up, limit - h)
        if left + right + down + up == 0:
            return
        grown = np.zeros((h + down + up, w + left + right), dtype=np.float32)
        grown[down:down + h, left:left + w] = self.logodds
        self.logodds = grown
        if self._box is not None:
            r0, r1, c0, c1 = self._box
            self._box = (r0 + down, r1 + down, c0 + left, c1 + left)
        self.origin = (gx0 - left * res, gy0 - down * res)
        self.version += 1

    # -- integration --------------------------------------------------------------------------------
    def integrate(self, pose: tuple[float, float, float], rays: ScanRays) -> int:
        """Add one cleaned scan taken at ``pose`` (x, y, yaw). Returns the number of beams used.

        Free space: ``grid.free_space = "polygon"`` (default) fills the star-shaped region the scan
        outlines, cell by cell in a window around the robot (each cell looks up the beam nearest its
        bearing): no speckles between diverging beams, which a 64-beam lidar leaves beyond ~1 m.
        ``"rays"`` marks only the cells sampled along each beam (classic ray casting). Hits: the cell
        each returning beam ends in. Both fully vectorised.
        """
        stride = self.cfg.beam_stride
        angles, lengths, hit = rays.angles[::stride], rays.lengths[::stride], rays.hit[::stride]
        if angles.size == 0:
            return 0
        x, y, yaw = pose
        c, s = np.cos(angles + yaw), np.sin(angles + yaw)
        end = np.stack([x + c * lengths, y + s * lengths], axis=1)
        self.ensure(min(x, end[:, 0].min()), min(y, end[:, 1].min()),
                    max(x, end[:, 0].max()), max(y, end[:, 1].max()))
        h, w = self.shape
        hcol, hrow = self.world_to_cell(end[hit])
        hin = (hcol >= 0) & (hcol < w) & (hrow >= 0) & (hrow < h)
        hcol, hrow = hcol[hin], hrow[hin]
        # window: robot + every beam end, clipped to the grid
        ecol, erow = self.world_to_cell(np.vstack([end, [[x, y]]]))
        c0, c1 = max(int(ecol.min()), 0), min(int(ecol.max()) + 1, w)
        r0, r1 = max(int(erow.min()), 0), min(int(erow.max()) + 1, h)
        if c0 >= c1 or r0 >= r1:
            return int(angles.size)
        if self.cfg.free_space == "polygon":
            win_free = self._polygon_free(x, y, yaw, angles, lengths, c0, c1, r0, r1)
        else:
            win_free = self._ray_free(x, y, c, s, lengths, c0, c1, r0, r1)
        win_hit = np.zeros_like(win_free)
        win_hit[hrow - r0, hcol - c0] = True
        win_free &= ~win_hit
        if self._box is None:
            self._box = (r0, r1, c0, c1)
        else:
            b = self._box
            self._box = (min(b[0], r0), max(b[1], r1), min(b[2], c0), max(b[3], c1))
        window = self.logodds[r0:r1, c0:c1]  # a view: updated in place
        window[win_free] += self.cfg.l_free
        window[win_hit] += self.cfg.l_occ
        np.clip(window, self.cfg.l_min, self.cfg.l_max, out=window)
        self.version += 1
        return int(angles.size)

    def _ray_free(self, x: float, y: float, c: np.ndarray, s: np.ndarray, lengths: np.ndarray,
                  c0: int, c1: int, r0: int, r1: int) -> np.ndarray:
        """Cells sampled every ``resolution`` along each beam, up to half a cell before its end."""
        res = self.resolution
        steps = np.arange(0.0, float(lengths.max()), res, dtype=np.float64)
        free = steps[None, :] < (lengths[:, None] - 0.5 * res)
        px = x + c[:, None] * steps[None, :]
        py = y + s[:, None] * steps[None, :]
        fcol = np.floor((px[free] - self.origin[0]) / res).astype(np.int64) - c0
        frow = np.floor((py[free] - self.origin[1]) / res).astype(np.int64) - r0
        inside = (fcol >= 0) & (fcol < c1 - c0) & (frow >= 0) & (frow < r1 - r0)
        out = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        out[frow[inside], fcol[inside]] = True
        return out

    def _polygon_free(self, x: float, y: float, yaw: float, angles: np.ndarray, lengths: np.ndarray,
                      c0: int, c1: int, r0: int, r1: int) -> np.ndarray:
        """Cells whose centre is closer than the beam nearest its bearing (minus half a cell).

        A bearing between two beams takes the shorter of the two; bearings farther than one beam
        spacing from any beam (a limited field of view, dropped beams) stay unknown. The reach per
        bearing is tabulated on a fine angular grid first, so each cell costs one atan2 and a lookup.
        """
        res = self.resolution
        reach = _reach_table(np.asarray(angles, dtype=np.float64), lengths, _BINS)
        xs = (self.origin[0] + (np.arange(c0, c1) + 0.5) * res - x).astype(np.float32)
        ys = (self.origin[1] + (np.arange(r0, r1) + 0.5) * res - y).astype(np.float32)
        bearing = np.arctan2(ys[:, None], xs[None, :])  # (rows, cols) float32
        idx = ((bearing - np.float32(yaw - np.pi)) * np.float32(_BINS / (2 * np.pi))).astype(np.int64) % _BINS
        limit = np.maximum(reach[idx] - np.float32(0.5 * res), 0.0)
        return xs[None, :] ** 2 + ys[:, None] ** 2 < limit * limit

    # -- classification -----------------------------------------------------------------------------
    def free_mask(self) -> np.ndarray:
        return self.logodds < self.cfg.free_threshold

    def occupied_mask(self) -> np.ndarray:
        return self.logodds > self.cfg.occ_threshold

    def unknown_mask(self) -> np.ndarray:
        return ~(self.free_mask() | self.occupied_mask())

    def explored_area(self) -> float:
        """Area (m^2) of cells known to be free: the coverage metric (compare with a world's free area)."""
        return 0.0 if self.empty else float(np.count_nonzero(self.free_mask())) * self.resolution**2

    def known_area(self) -> float:
        """Area (m^2) of cells known to be free or occupied."""
        if self.empty:
            return 0.0
        known = np.count_nonzero((self.logodds < self.cfg.free_threshold) | (self.logodds > self.cfg.occ_threshold))
        return float(known) * self.resolution**2

    def frontier_mask(self) -> np.ndarray:
        """Known-free cells with an unknown 4-neighbour (outside the grid counts as unknown).

        Free cells touching an occupied cell (8-neighbourhood) are left out: along walls, beams that
        skim the wall leave speckles of unknown between free and occupied cells that are not a way
        into unexplored space.
        """
        out = np.zeros(self.shape, dtype=bool)
        if self._box is not None:
            r0, r1, c0, c1 = self._box
            out[r0:r1, c0:c1] = self._frontier_in(self.logodds[r0:r1, c0:c1])
        return out

    def _frontier_in(self, lo: np.ndarray) -> np.ndarray:
        """Frontier mask of a sub-array whose surroundings are unknown (the known box, or the grid)."""
        free = lo < self.cfg.free_threshold
        occupied = lo > self.cfg.occ_threshold
        unknown = np.pad(~(free | occupied), 1, constant_values=True)
        near_unknown = unknown[:-2, 1:-1] | unknown[2:, 1:-1] | unknown[1:-1, :-2] | unknown[1:-1, 2:]
        occ = np.pad(occupied, 1, constant_values=False)
        near_occ = np.zeros_like(free)
        for dr in (0, 1, 2):
            for dc in (0, 1, 2):
                near_occ |= occ[dr:dr + free.shape[0], dc:dc + free.shape[1]]
        return free & near_unknown & ~near_occ

    def frontier_clusters(self, min_cells: int) -> tuple[np.ndarray, np.ndarray]:
        """8-connected frontier clusters of at least ``min_cells``.

        Returns ``(points (K, 2), sizes (K,))``: for each cluster the frontier cell nearest to its
        centroid (a real free cell, unlike the centroid of a curved frontier).
        """
        from scipy import ndimage

        if self._box is None:
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        br0, br1, bc0, bc1 = self._box
        mask = self._frontier_in(self.logodds[br0:br1, bc0:bc1])
        if not mask.any():
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
        rows, cols = np.nonzero(labels)
        lab = labels[rows, cols]
        sizes = np.bincount(lab, minlength=n + 1)
        keep_labels = np.nonzero(sizes >= min_cells)[0]
        keep_labels = keep_labels[keep_labels > 0]
        if keep_labels.size == 0:
            return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
        mean_c = np.bincount(lab, weights=cols, minlength=n + 1) / np.maximum(sizes, 1)
        mean_r = np.bincount(lab, weights=rows, minlength=n + 1) / np.maximum(sizes, 1)
        d2 = (cols - mean_c[lab]) ** 2 + (rows - mean_r[lab]) ** 2
        order = np.lexsort((d2, lab))  # by label, then distance to the centroid
        first = np.ones(order.size, dtype=bool)
        first[1:] = lab[order][1:] != lab[order][:-1]
        best = order[first]
        best = best[np.isin(lab[best], keep_labels)]
        return self.cell_centres(cols[best] + bc0, rows[best] + br0), sizes[lab[best]]

    def passable(self, inflate: float) -> tuple[np.ndarray, tuple[int, int]]:
        """Known-free cells farther than ``inflate`` from every occupied cell, over the known box.

        Returns ``(mask, (row0, col0))``. Unknown cells do not shrink it (they are not obstacles), so
        cells on the free/unknown boundary (frontiers) stay passable.
        """
        from scipy import ndimage

        if self._box is None:
            return np.zeros((0, 0), dtype=bool), (0, 0)
        r0, r1, c0, c1 = self._box
        lo = self.logodds[r0:r1, c0:c1]
        blocked = lo > self.cfg.occ_threshold
        k = math.floor(inflate / self.resolution + 1e-9)
        if k > 0 and blocked.any():
            yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
            disk = (yy * yy + xx * xx) * self.resolution**2 <= inflate * inflate + 1e-12
            blocked = ndimage.binary_dilation(blocked, structure=disk)
        return (lo < self.cfg.free_threshold) & ~blocked, (r0, c0)

    def free_space_paths(self, sources: np.ndarray, targets: np.ndarray, inflate: float, limit: float,
                         spacing: float = 0.3) -> list[tuple[int, list[tuple[float, float]], float]]:
        """For each target point, the nearest source through passable cells (see :meth:`passable`).

        One multi-source Dijkstra (scipy, C) over the 8-connected passable cells of the known box, cut
        at ``limit`` metres. Returns per target ``(source index, polyline target -> source through the
        path's corners at least ``spacing`` apart, length in m)``, or ``(-1, [], inf)`` when no source
        is within reach.
        A point in the inflation itself (a place beside a wall) starts from the nearest passable cell
        within three cells. This is how the mapper joins a frontier to a place that saw it round a corner.
        """
        from scipy.sparse.csgraph import dijkstra

        from toponav.grid_graph import passable_graph

        none: list[tuple[int, list[tuple[float, float]], float]] = [(-1, [], math.inf)] * len(targets)
        mask, (r0, c0) = self.passable(inflate)
        if not mask.any() or len(sources) == 0 or len(targets) == 0:
            return none
        h, w = mask.shape
        graph, index = passable_graph(mask, self.resolution)
        rows, cols = np.nonzero(mask)  # node k of the graph is cell (rows[k], cols[k])

        def cells(xy: np.ndarray) -> np.ndarray:
            col, row = self.world_to_cell(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
            row, col = row - r0, col - c0
            out = np.full(row.shape, -1, dtype=np.int64)
            for dr, dc in _NEAREST_FIRST:
                rr, cc = row + dr, col + dc
                ok = (out < 0) & (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
                ok[ok] &= index[rr[ok], cc[ok]] >= 0
                out[ok] = index[rr[ok], cc[ok]]
            return out

        src, tgt = cells(sources), cells(targets)
        valid = np.flatnonzero(src >= 0)
        if valid.size == 0:
            return none
        dist, pred, origin = dijkstra(graph, indices=np.unique(src[valid]), min_only=True, limit=limit,
                                      return_predecessors=True)
        owner = {int(c): int(i) for i, c in zip(valid[::-1], src[valid][::-1])}  # cell -> (first) source
        out = []
        for t in tgt.tolist():
            if t < 0 or not math.isfinite(dist[t]):
                out.append((-1, [], math.inf))
                continue
            chain = [t]
            while pred[chain[-1]] >= 0:
                chain.append(int(pred[chain[-1]]))
            pts = self.cell_centres(cols[chain] + c0, rows[chain] + r0)
            out.append((owner[int(origin[t])], _thin(pts, spacing), float(dist[t])))
        return out

    def line_of_sight(self, a: tuple[float, float], b: tuple[float, float], clearance: float = 0.0) -> bool:
        """True when the segment a-b (widened by ``clearance`` on each side) crosses known-free cells only."""
        if self.empty:
            return False
        ax, ay = a
        bx, by = b
        length = math.hypot(bx - ax, by - ay)
        n = max(2, math.ceil(length / (0.5 * self.resolution)) + 1)
        t = np.linspace(0.0, 1.0, n)
        px, py = ax + t * (bx - ax), ay + t * (by - ay)
        if clearance > 0 and length > 1e-9:
            nx, ny = -(by - ay) / length, (bx - ax) / length
            offs = np.array([0.0, clearance, -clearance])
            px = (px[None, :] + offs[:, None] * nx).ravel()
            py = (py[None, :] + offs[:, None] * ny).ravel()
        col, row = self.world_to_cell(np.stack([px, py], axis=1))
        h, w = self.shape
        if (col < 0).any() or (col >= w).any() or (row < 0).any() or (row >= h).any():
            return False
        return bool((self.logodds[row, col] < self.cfg.free_threshold).all())

    def crosses_obstacle(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """True when the segment a-b crosses a cell the grid holds occupied (unknown and off-grid cells do not count).

        Weaker than :meth:`line_of_sight` on purpose: it asks whether the robot has *seen* a wall between
        two points, not whether it has seen all the space between them, so it can veto a place match
        across a mapped wall without vetoing one into space the scans have not covered.
        """
        if self.empty:
            return False
        ax, ay = a
        bx, by = b
        n = max(2, math.ceil(math.hypot(bx - ax, by - ay) / (0.5 * self.resolution)) + 1)
        t = np.linspace(0.0, 1.0, n)
        col, row = self.world_to_cell(np.stack([ax + t * (bx - ax), ay + t * (by - ay)], axis=1))
        h, w = self.shape
        inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        return bool((self.logodds[row[inside], col[inside]] > self.cfg.occ_threshold).any())

    def value_at(self, xy: np.ndarray) -> np.ndarray:
        """Log-odds at world points; NaN outside the grid."""
        col, row = self.world_to_cell(xy)
        h, w = self.shape
        inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        out = np.full(col.shape, np.nan, dtype=np.float32)
        out[inside] = self.logodds[row[inside], col[inside]]
        return out

    # -- export -------------------------------------------------------------------------------------
    def to_occupancy_values(self) -> np.ndarray:
        """ROS OccupancyGrid convention: -1 unknown, 0 free, 100 occupied (row-major, row 0 = lowest y)."""
        out = np.full(self.shape, -1, dtype=np.int8)
        out[self.free_mask()] = 0
        out[self.occupied_mask()] = 100
        return out

    def to_dict(self) -> dict[str, Any]:
        q = np.ascontiguousarray(self.logodds, dtype="<f4")  # exact (int8 quantisation flips threshold cells)
        h, w = self.shape
        return {
            "resolution": self.resolution,
            "origin": [float(self.origin[0]), float(self.origin[1])],
            "width": int(w),
            "height": int(h),
            "encoding": "float32le logodds, zlib, base64, row-major rows=y",
            "data": base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], cfg: GridConfig | None = None) -> OccupancyGrid:
        """Inverse of :meth:`to_dict`; raises ValueError on malformed data."""
        grid = cls(cfg)
        try:
            res = float(data["resolution"])
            w, h = int(data["width"]), int(data["height"])
            raw = zlib.decompress(base64.b64decode(data["data"]))
            q = np.frombuffer(raw, dtype="<f4")
            if q.size != w * h:
                raise ValueError(f"grid data has {q.size} cells, expected {w}x{h}")
            grid.resolution = res
            grid.origin = (float(data["origin"][0]), float(data["origin"][1]))
        except (KeyError, TypeError, IndexError, zlib.error, base64.binascii.Error) as exc:
            raise ValueError(f"malformed occupancy grid: {exc}") from None
        grid.logodds = q.reshape(h, w).astype(np.float32).copy()
        rows = np.nonzero(grid.logodds.any(axis=1))[0]
        cols = np.nonzero(grid.logodds.any(axis=0))[0]
        if rows.size:
            grid._box = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        grid.version += 1
        return grid


#: cell offsets within three cells, nearest first (where a point in the inflation looks for a passable cell)
_NEAREST_FIRST = sorted(((i, j) for i in range(-3, 4) for j in range(-3, 4)), key=lambda o: o[0] ** 2 + o[1] ** 2)

#: angular bins of the polygon fill's reach table (0.18 degrees: finer than any lidar we meet)
_BINS = 2048


def _reach_table(angles: np.ndarray, lengths: np.ndarray, bins: int) -> np.ndarray:
    """Free reach (m) per absolute bearing bin in the sensor frame, bin k centred at -pi + (k+0.5)*2pi/bins."""
    wrapped = wrap_angle(np.asarray(angles))
    order = np.argsort(wrapped)
    a, ln = wrapped[order], lengths[order]
    n = a.size
    spacing = float(np.median(np.diff(a))) if n > 1 else 2 * np.pi
    spacing = spacing if spacing > 0 else 2 * np.pi
    centres = -np.pi + (np.arange(bins) + 0.5) * (2 * np.pi / bins)
    hi = np.searchsorted(a, centres)  # first beam at or after the bearing
    lo = hi - 1
    hi_a = np.where(hi >= n, a[0] + 2 * np.pi, a[np.minimum(hi, n - 1)])
    lo_a = np.where(lo < 0, a[-1] - 2 * np.pi, a[np.maximum(lo, 0)])
    hi_i = np.where(hi >= n, 0, hi)
    lo_i = np.where(lo < 0, n - 1, lo)
    gap_hi, gap_lo = hi_a - centres, centres - lo_a
    both = (gap_lo <= spacing * 1.01) & (gap_hi <= spacing * 1.01)
    reach = np.where(both, np.minimum(ln[lo_i], ln[hi_i]), 0.0)
    # bearings covered by one beam only (the edges of a limited field of view): that beam's range
    reach = np.where(~both & (gap_lo <= spacing * 0.51), ln[lo_i], reach)
    reach = np.where(~both & (gap_hi <= spacing * 0.51), ln[hi_i], reach)
    return reach.astype(np.float32)


def _thin(pts: np.ndarray, spacing: float) -> list[tuple[float, float]]:
    """A cell path as a polyline: its corners (where the step direction changes), at least ``spacing`` apart.

    Keeping corners, not every n-th cell, keeps the way through a door: a straight chord between
    every-n-th cells cuts the door frame.
    """
    if len(pts) <= 2:
        return [(float(x), float(y)) for x, y in pts]
    steps = np.diff(pts, axis=0)
    turn = np.flatnonzero(np.any(np.abs(steps[1:] - steps[:-1]) > 1e-9, axis=1)) + 1
    keep = [0]
    for i in turn.tolist():
        if math.dist(pts[i], pts[keep[-1]]) >= spacing:
            keep.append(i)
    last = len(pts) - 1
    if math.dist(pts[last], pts[keep[-1]]) < spacing and len(keep) > 1:
        keep[-1] = last
    else:
        keep.append(last)
    return [(float(pts[i, 0]), float(pts[i, 1])) for i in keep]


def _trim(a: int, b: int, room: int) -> tuple[int, int]:
    """Shrink a pair of paddings so they sum to at most ``room`` (>= 0)."""
    room = max(room, 0)
    if a + b <= room:
        return a, b
    if a + b == 0:
        return 0, 0
    a2 = int(room * a / (a + b))
    return a2, room - a2

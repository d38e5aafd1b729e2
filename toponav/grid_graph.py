"""Shortest paths on grids: the one home of grid graphs (every grid search in toponav builds its graph here).

Neighbourhoods: :data:`NEIGHBOURS` (8-connected, step length in cells), :data:`STEPS` (8-connected, every step
1: breadth-first step counts) and :data:`NEIGHBOURS_16` (8 plus the knight moves: paths within 0.5 % of the
Euclidean length in open space, for the evaluation's shortest-path reference).

Two users plan on grids many times: the training task (a geodesic field per world and target) and the
carrot sub-goal source (a Dijkstra field from the goal every few control steps, on a grid whose free
cells change as the lidar sees more). Building the sparse graph is most of the cost of one plan when it
is rebuilt from scratch, so :class:`GridGraph` keeps one CSR structure with every 8-connected edge of the
grid and only swaps the edge weights: the step length between two free cells, ``+inf`` otherwise
(SciPy's Dijkstra never relaxes an infinite edge, so blocked edges are simply never used).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

#: (row offset, column offset, step length in cells) of the 8 neighbours.
NEIGHBOURS: tuple[tuple[int, int, float], ...] = (
    (-1, 0, 1.0), (1, 0, 1.0), (0, -1, 1.0), (0, 1, 1.0),
    (-1, -1, math.sqrt(2)), (-1, 1, math.sqrt(2)), (1, -1, math.sqrt(2)), (1, 1, math.sqrt(2)))
#: 8-connected with unit steps: distances are breadth-first step counts.
STEPS: tuple[tuple[int, int, float], ...] = tuple((dr, dc, 1.0) for dr, dc, _ in NEIGHBOURS)
#: every move of up to two cells whose offsets are coprime (8 neighbours + 8 knight moves), Euclidean lengths.
NEIGHBOURS_16: tuple[tuple[int, int, float], ...] = tuple(
    (dy, dx, math.hypot(dy, dx)) for dy in (-2, -1, 0, 1, 2) for dx in (-2, -1, 0, 1, 2)
    if (dy, dx) != (0, 0) and math.gcd(abs(dy), abs(dx)) == 1)


class GridGraph:
    """Every edge of an (H, W) grid of ``resolution``-metre cells (8-connected unless ``neighbours`` says
    otherwise), in one fixed CSR layout."""

    def __init__(self, shape: tuple[int, int], resolution: float,
                 neighbours: tuple[tuple[int, int, float], ...] = NEIGHBOURS) -> None:
        h, w = (int(v) for v in shape)
        if h < 1 or w < 1 or not resolution > 0:
            raise ValueError(f"grid shape must be positive and resolution > 0, got {shape}, {resolution}")
        self.shape = (h, w)
        self.resolution = float(resolution)
        idx = np.arange(h * w).reshape(h, w)
        src, dst, length, side_a, side_b, via = [], [], [], [], [], []
        for dr, dc, step in neighbours:
            r0, r1, c0, c1 = max(0, -dr), h - max(0, dr), max(0, -dc), w - max(0, dc)
            a = idx[r0:r1, c0:c1].ravel()
            src.append(a)
            dst.append(idx[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel())
            length.append(np.full(len(a), step * self.resolution))
            # the two cells a diagonal step passes between (for a straight step: its own ends)
            side_a.append(idx[r0 + dr : r1 + dr, c0:c1].ravel())
            side_b.append(idx[r0:r1, c0 + dc : c1 + dc].ravel())
            # a knight move must not cut a corner: the cell one step along its long axis must be free too
            vr, vc = (int(np.sign(dr)), 0) if abs(dr) == 2 else (0, int(np.sign(dc))) if abs(dc) == 2 else (0, 0)
            via.append(idx[r0 + vr : r1 + vr, c0 + vc : c1 + vc].ravel())
        src, dst, length = np.concatenate(src), np.concatenate(dst), np.concatenate(length)
        # CSR order sorts edges by (source, destination); remember where each edge lands so weights can be
        # written straight into the data array of a copy of this structure.
        order = np.lexsort((dst, src))
        self._src, self._dst, self._length = src[order], dst[order], length[order]
        self._side_a, self._side_b = np.concatenate(side_a)[order], np.concatenate(side_b)[order]
        self._via = np.concatenate(via)[order]
        self._knights = bool(any(abs(dr) == 2 or abs(dc) == 2 for dr, dc, _ in neighbours))
        self._indptr = np.searchsorted(self._src, np.arange(h * w + 1)).astype(np.int32)
        self._indices = self._dst.astype(np.int32)

    def graph(self, free: np.ndarray, cut_corners: bool = True) -> csr_matrix:
        """The grid graph with only edges between two ``free`` cells open (the others weigh +inf).

        ``cut_corners=False`` also closes a diagonal step between two blocked cells that touch at a corner: a
        wall running diagonally across the grid is then a wall, not a row of gaps."""
        flat = np.asarray(free, dtype=bool).reshape(-1)
        if flat.size != self.shape[0] * self.shape[1]:
            raise ValueError(f"free mask has {flat.size} cells, the grid {self.shape}")
        ok = flat[self._src] & flat[self._dst]
        if self._knights:
            ok &= flat[self._via]
        if not cut_corners:
            ok &= flat[self._side_a] | flat[self._side_b]
        weights = np.where(ok, self._length, np.inf)
        n = flat.size
        return csr_matrix((weights, self._indices, self._indptr), shape=(n, n))

    def distances(self, free: np.ndarray, source: tuple[int, int], limit: float = np.inf,
                  graph: csr_matrix | None = None, cut_corners: bool = True) -> np.ndarray:
        """(H, W) metres from cell ``source`` (row, col) along free cells; inf where unreachable or beyond ``limit``.

        Pass ``graph`` (from :meth:`graph`) to reuse it when the free mask has not changed.
        """
        r, c = (int(v) for v in source)
        g = self.graph(free, cut_corners) if graph is None else graph
        d = dijkstra(g, directed=True, indices=r * self.shape[1] + c, limit=limit)
        return d.reshape(self.shape)


@lru_cache(maxsize=16)
def grid_graph(shape: tuple[int, int], resolution: float,
               neighbours: tuple[tuple[int, int, float], ...] = NEIGHBOURS) -> GridGraph:
    """Shared :class:`GridGraph` per (shape, resolution, neighbours): planners on same-sized grids reuse one."""
    return GridGraph(shape, resolution, neighbours)


def passable_graph(mask: np.ndarray, resolution: float) -> tuple[csr_matrix, np.ndarray]:
    """Undirected 8-connected graph over the True cells of ``mask`` only, and the (H, W) node index (-1 off).

    For searches on a grid whose shape changes with every call (the mapper's growing map): numbering only
    the passable cells keeps the graph small, and nothing is worth caching between calls.
    """
    h, w = mask.shape
    index = np.full(mask.shape, -1, dtype=np.int64)
    rows, cols = np.nonzero(mask)
    index[rows, cols] = np.arange(rows.size)
    us, vs, ws = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        b = index[max(0, dr):h + min(0, dr), max(0, dc):w + min(0, dc)]
        a = index[max(0, -dr):h - max(0, dr), max(0, -dc):w - max(0, dc)]
        ok = (a >= 0) & (b >= 0)
        us.append(a[ok])
        vs.append(b[ok])
        ws.append(np.full(int(ok.sum()), math.hypot(dr, dc) * resolution))
    u, v, wt = np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    n = rows.size
    graph = csr_matrix((np.concatenate([wt, wt]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n))
    return graph, index

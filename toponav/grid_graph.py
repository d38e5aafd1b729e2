"""Shortest paths over an 8-connected occupancy grid, with the graph structure built once per grid shape.

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


class GridGraph:
    """Every 8-connected edge of an (H, W) grid of ``resolution``-metre cells, in one fixed CSR layout."""

    def __init__(self, shape: tuple[int, int], resolution: float) -> None:
        h, w = (int(v) for v in shape)
        if h < 1 or w < 1 or not resolution > 0:
            raise ValueError(f"grid shape must be positive and resolution > 0, got {shape}, {resolution}")
        self.shape = (h, w)
        self.resolution = float(resolution)
        idx = np.arange(h * w).reshape(h, w)
        src, dst, length, side_a, side_b = [], [], [], [], []
        for dr, dc, step in NEIGHBOURS:
            r0, r1, c0, c1 = max(0, -dr), h - max(0, dr), max(0, -dc), w - max(0, dc)
            a = idx[r0:r1, c0:c1].ravel()
            src.append(a)
            dst.append(idx[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel())
            length.append(np.full(len(a), step * self.resolution))
            # the two cells a diagonal step passes between (for a straight step: its own ends)
            side_a.append(idx[r0 + dr : r1 + dr, c0:c1].ravel())
            side_b.append(idx[r0:r1, c0 + dc : c1 + dc].ravel())
        src, dst, length = np.concatenate(src), np.concatenate(dst), np.concatenate(length)
        # CSR order sorts edges by (source, destination); remember where each edge lands so weights can be
        # written straight into the data array of a copy of this structure.
        order = np.lexsort((dst, src))
        self._src, self._dst, self._length = src[order], dst[order], length[order]
        self._side_a, self._side_b = np.concatenate(side_a)[order], np.concatenate(side_b)[order]
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
def grid_graph(shape: tuple[int, int], resolution: float) -> GridGraph:
    """Shared :class:`GridGraph` per (shape, resolution): planners on same-sized grids reuse one structure."""
    return GridGraph(shape, resolution)

"""Shortest paths over a weighted graph: one engine (scipy's Dijkstra on a CSR matrix, in C) for the mapper and
the planner.

The mapper asks for one path between two places on graphs of up to 10^5 nodes (``toponav bench mapper``), the
planner for the costs from the robot's node to every node several times per step; both ask again and again on
the same graph until it changes. :class:`GraphPaths` holds the CSR matrix of one graph version, keeps the last
few full searches, and answers a point-to-point query with a bounded bidirectional search when no full search
from that source is at hand. Grids have their own engine (:mod:`toponav.grid_graph`): their structure is fixed
and only the weights change.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


class GraphPaths:
    """Shortest paths on a graph of ``n`` nodes (indices ``0..n-1``) given as edges ``u -> v`` of weight ``w``.

    ``both_ways`` adds ``v -> u`` for every edge (an undirected graph given once per edge). Weights must be
    >= 0; an explicit 0 is an edge of cost 0.
    """

    #: bidirectional path search: first cost bound = this x the lower bound, then x growth
    #: (1.3 / 1.5 measured best on lattice graphs with 1.0-1.2 cost factors; any values stay exact)
    PATH_BOUND_START = 1.3
    PATH_BOUND_GROWTH = 1.5
    #: full searches kept (a planner step asks from one or two sources)
    CACHED_SOURCES = 8

    def __init__(self, n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, *, both_ways: bool = True) -> None:
        u, v, w = (np.asarray(a) for a in (u, v, w))
        self.n = int(n)
        if both_ways:
            u, v, w = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
        self.csr = csr_matrix((w, (u, v)), shape=(self.n, self.n))
        self.max_edge = float(w.max()) if len(w) else 0.0
        #: sum of the weights of every edge (once per direction given, as in the matrix's half for both_ways)
        self.total_cost = float(w[: len(w) // 2].sum() if both_ways else w.sum()) if len(w) else 0.0
        self._sssp: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # source -> (dist, pred)

    def from_source(self, source: int) -> tuple[np.ndarray, np.ndarray]:
        """(cost, predecessor) of every node from ``source`` (inf / -9999 where unreachable), cached."""
        if source not in self._sssp:
            if len(self._sssp) >= self.CACHED_SOURCES:
                self._sssp.pop(next(iter(self._sssp)))
            self._sssp[source] = dijkstra(self.csr, indices=source, return_predecessors=True)
        return self._sssp[source]

    def shortest_path(self, a: int, b: int, lower_bound: float = 0.0) -> tuple[list[int], float]:
        """Cheapest path a -> b as (node indices, total cost); ``([], inf)`` when b is unreachable.

        ``lower_bound`` is a lower bound on the cost (e.g. straight-line distance x the cheapest cost
        factor). Without a cached full search from ``a``: both ends search up to half a cost bound R (plus
        the longest edge); the best meeting node is optimal once its cost is <= R. R starts at
        PATH_BOUND_START x ``lower_bound`` and grows by PATH_BOUND_GROWTH; a full search settles the rest
        once the two searches cover most of the graph. Two half-radius searches settle about half the nodes
        one search of radius C would.
        """
        if a == b:
            return [a], 0.0
        cached = self._sssp.get(a)
        if cached is not None:
            dist, pred = cached
            return _unwind(pred, a, b, dist[b])
        bound = max(self.PATH_BOUND_START * lower_bound, self.max_edge)
        while bound < self.total_cost:
            lim = 0.5 * bound + self.max_edge
            da, pa = dijkstra(self.csr, indices=a, return_predecessors=True, limit=lim)
            db, pb = dijkstra(self.csr, indices=b, return_predecessors=True, limit=lim)
            total = da + db
            m = int(np.argmin(total))
            mu = float(total[m])
            if mu <= bound:
                fwd = [m]
                while fwd[-1] != a:
                    fwd.append(int(pa[fwd[-1]]))
                path = fwd[::-1]
                while path[-1] != b:
                    path.append(int(pb[path[-1]]))
                return path, mu
            if self.n <= 2 * np.count_nonzero(np.isfinite(da)):
                break  # the searches already cover most of the graph: finish with one full search
            bound *= self.PATH_BOUND_GROWTH
        dist, pred = dijkstra(self.csr, indices=a, return_predecessors=True)
        return _unwind(pred, a, b, dist[b])


def _unwind(pred: np.ndarray, a: int, b: int, cost: float) -> tuple[list[int], float]:
    if not np.isfinite(cost):
        return [], float("inf")
    path = [b]
    while path[-1] != a:
        path.append(int(pred[path[-1]]))
    return path[::-1], float(cost)

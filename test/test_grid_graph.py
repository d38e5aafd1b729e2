"""The shared 8-connected grid graph: exact distances, blocked cells, and the same field as a fresh build."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from toponav.grid_graph import NEIGHBOURS, NEIGHBOURS_16, STEPS, GridGraph, grid_graph, passable_graph


def test_open_grid_distances_are_octile() -> None:
    g = GridGraph((5, 7), 0.5)
    d = g.distances(np.ones((5, 7), dtype=bool), (0, 0))
    assert d[0, 6] == pytest.approx(6 * 0.5)
    assert d[4, 4] == pytest.approx(4 * math.sqrt(2) * 0.5)
    assert d[4, 6] == pytest.approx((4 * math.sqrt(2) + 2) * 0.5)  # octile distance


def test_walls_are_never_crossed_and_limit_cuts_off() -> None:
    free = np.ones((6, 6), dtype=bool)
    free[:5, 3] = False  # wall in column 3 with a gap in the last row
    g = GridGraph(free.shape, 1.0)
    d = g.distances(free, (0, 0))
    assert np.isinf(d[~free]).all()
    assert d[0, 5] > 5 + 4  # around through the gap
    assert np.isinf(g.distances(free, (0, 0), limit=3.0)[0, 5])
    closed = free.copy()
    closed[5, 3] = False
    assert np.isinf(g.distances(closed, (0, 0))[:, 4:]).all()


def test_same_field_as_a_graph_of_free_edges_only() -> None:
    """Edges weighted +inf must behave exactly like absent edges (what the planners used before)."""
    rng = np.random.default_rng(0)
    free = rng.random((30, 40)) > 0.25
    h, w = free.shape
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, costs = [], [], []
    for dr, dc, step in NEIGHBOURS:
        r0, r1, c0, c1 = max(0, -dr), h - max(0, dr), max(0, -dc), w - max(0, dc)
        a, b = idx[r0:r1, c0:c1].ravel(), idx[r0 + dr : r1 + dr, c0 + dc : c1 + dc].ravel()
        ok = free.ravel()[a] & free.ravel()[b]
        rows.append(a[ok])
        cols.append(b[ok])
        costs.append(np.full(int(ok.sum()), step * 0.1))
    ref = csr_matrix((np.concatenate(costs), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))
    src = int(np.flatnonzero(free.ravel())[0])
    expected = dijkstra(ref, directed=True, indices=src).reshape(h, w)
    got = grid_graph((h, w), 0.1).distances(free, divmod(src, w))
    assert np.array_equal(np.isinf(expected), np.isinf(got))
    assert np.allclose(expected[np.isfinite(expected)], got[np.isfinite(got)])


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="resolution"):
        GridGraph((3, 3), 0.0)
    with pytest.raises(ValueError, match="cells"):
        GridGraph((3, 3), 1.0).graph(np.ones((2, 2), dtype=bool))


def _reference_16(free: np.ndarray, src: tuple[int, int]) -> np.ndarray:
    """A plain heap Dijkstra over 16 moves where a knight move needs the cell one step along its long axis."""
    h, w = free.shape
    dist = np.full(free.shape, np.inf)
    dist[src] = 0.0
    heap = [(0.0, src)]
    while heap:
        d, (y, x) = heapq.heappop(heap)
        if d > dist[y, x]:
            continue
        for dy in (-2, -1, 0, 1, 2):
            for dx in (-2, -1, 0, 1, 2):
                if (dy, dx) == (0, 0) or math.gcd(abs(dy), abs(dx)) != 1:
                    continue
                yy, xx = y + dy, x + dx
                if not (0 <= yy < h and 0 <= xx < w and free[yy, xx]):
                    continue
                if (abs(dy) == 2 and not free[y + dy // 2, x]) or (abs(dx) == 2 and not free[y, x + dx // 2]):
                    continue
                if d + math.hypot(dy, dx) < dist[yy, xx]:
                    dist[yy, xx] = d + math.hypot(dy, dx)
                    heapq.heappush(heap, (dist[yy, xx], (yy, xx)))
    return dist


def test_sixteen_neighbours_match_a_direct_search_and_do_not_cut_corners() -> None:
    rng = np.random.default_rng(3)
    free = rng.random((25, 30)) > 0.3
    src = tuple(int(v) for v in np.argwhere(free)[0])
    got = GridGraph(free.shape, 1.0, NEIGHBOURS_16).distances(free, src)
    expected = _reference_16(free, src)
    assert np.array_equal(np.isinf(expected), np.isinf(got))
    assert np.allclose(expected[np.isfinite(expected)], got[np.isfinite(got)])
    # a knight move past a blocked cell on its long axis is not taken
    wall = np.ones((3, 3), dtype=bool)
    wall[1, 0] = wall[1, 1] = False
    assert GridGraph(wall.shape, 1.0, NEIGHBOURS_16).distances(wall, (0, 0))[2, 1] > math.sqrt(5) + 1e-9


def test_unit_steps_count_moves() -> None:
    free = np.ones((9, 9), dtype=bool)
    steps = GridGraph(free.shape, 1.0, STEPS).distances(free, (4, 4))
    rr, cc = np.mgrid[0:9, 0:9]
    assert np.array_equal(steps, np.maximum(abs(rr - 4), abs(cc - 4)).astype(float))


def test_passable_graph_gives_the_grid_graph_distances() -> None:
    rng = np.random.default_rng(5)
    free = rng.random((20, 26)) > 0.3
    graph, index = passable_graph(free, 0.1)
    assert graph.shape[0] == int(free.sum()) and (index >= 0).sum() == free.sum()
    src = tuple(int(v) for v in np.argwhere(free)[0])
    compact = dijkstra(graph, indices=int(index[src]))
    full = GridGraph(free.shape, 0.1).distances(free, src)
    assert np.allclose(compact, full[free])

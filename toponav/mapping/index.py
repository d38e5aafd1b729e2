"""Spatial index of place positions: a cKDTree over the bulk plus a short brute-force list of recent adds.

Rebuilding a KD-tree on every new place would cost O(n log n) per node at 100k nodes; instead new
places go to a small list that is scanned with numpy, and the tree is rebuilt once that list (or the
set of removed ids) grows past ~4 sqrt(n). Queries never iterate networkx nodes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree


class PlaceIndex:
    """id -> (x, y) with radius and k-nearest queries; ids are ints."""

    def __init__(self) -> None:
        self._xy: dict[int, tuple[float, float]] = {}
        self._tree: cKDTree | None = None
        self._tree_ids = np.zeros(0, dtype=np.int64)
        self._recent_ids: list[int] = []
        self._recent_xy = np.zeros((0, 2))
        self._removed: set[int] = set()

    def __len__(self) -> int:
        return len(self._xy)

    def __contains__(self, node_id: int) -> bool:
        return node_id in self._xy

    def position(self, node_id: int) -> tuple[float, float]:
        return self._xy[node_id]

    def clear(self) -> None:
        self.__init__()

    def add(self, node_id: int, x: float, y: float) -> None:
        if node_id in self._xy:
            self.remove(node_id)
        self._xy[node_id] = (float(x), float(y))
        self._removed.discard(node_id)
        self._recent_ids.append(node_id)
        self._recent_xy = np.vstack([self._recent_xy, [[x, y]]])
        if len(self._recent_ids) > max(256, 4 * int(math.sqrt(len(self._xy)))):
            self._rebuild()

    def remove(self, node_id: int) -> None:
        if node_id not in self._xy:
            return
        del self._xy[node_id]
        if node_id in self._recent_ids:
            i = self._recent_ids.index(node_id)
            self._recent_ids.pop(i)
            self._recent_xy = np.delete(self._recent_xy, i, axis=0)
        else:
            self._removed.add(node_id)
            if len(self._removed) > max(64, int(math.sqrt(len(self._xy) + 1))):
                self._rebuild()

    def _rebuild(self) -> None:
        ids = np.fromiter(self._xy.keys(), dtype=np.int64, count=len(self._xy))
        xy = np.array([self._xy[i] for i in ids.tolist()], dtype=np.float64).reshape(-1, 2)
        self._tree = cKDTree(xy) if len(xy) else None
        self._tree_ids = ids
        self._recent_ids = []
        self._recent_xy = np.zeros((0, 2))
        self._removed = set()

    def query(self, x: float, y: float, radius: float) -> list[tuple[float, int]]:
        """(distance, id) of every place within ``radius``, nearest first."""
        out: list[tuple[float, int]] = []
        if self._tree is not None:
            for j in self._tree.query_ball_point((x, y), radius):
                nid = int(self._tree_ids[j])
                if nid not in self._removed:
                    px, py = self._xy[nid]
                    out.append((math.hypot(px - x, py - y), nid))
        if self._recent_ids:
            d = np.hypot(self._recent_xy[:, 0] - x, self._recent_xy[:, 1] - y)
            for j in np.nonzero(d <= radius)[0].tolist():
                out.append((float(d[j]), self._recent_ids[j]))
        out.sort()
        return out

    def nearest(self, x: float, y: float, k: int = 1, radius: float = math.inf) -> list[tuple[float, int]]:
        """Up to ``k`` nearest places within ``radius``, nearest first."""
        out: list[tuple[float, int]] = []
        if self._tree is not None and len(self._tree_ids):
            kk = min(len(self._tree_ids), k + len(self._removed))
            d, j = self._tree.query((x, y), k=kk, distance_upper_bound=radius)
            d, j = np.atleast_1d(d), np.atleast_1d(j)
            for dist, jj in zip(d.tolist(), j.tolist()):
                if math.isfinite(dist) and jj < len(self._tree_ids):
                    nid = int(self._tree_ids[jj])
                    if nid not in self._removed:
                        out.append((dist, nid))
        if self._recent_ids:
            d = np.hypot(self._recent_xy[:, 0] - x, self._recent_xy[:, 1] - y)
            out.extend((float(dd), self._recent_ids[j]) for j, dd in enumerate(d.tolist()) if dd <= radius)
        out.sort()
        return out[:k]

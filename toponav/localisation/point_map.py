"""The local point map each scan is registered against and then added to: a voxel grid of averaged map points.

Why points and not the occupancy grid: the matcher wants sub-cell geometry (a 5 cm voxel mean is accurate to
about a centimetre after a few scans, a 10 cm grid cell to 5 cm), and a bounded set of points (cropped to about
the lidar range) keeps the KD-tree small. Why a cached target: the PCA normals of a few
thousand points cost about 5 ms (3,000 voxels, 2-core machine), so all of them are recomputed only after enough
voxels were added or dropped (``rebuild_fraction`` / ``rebuild_min_points``). In between, with
``target_incremental`` (the default), what each map addition changed joins the target at the next scan: the
KD-tree is rebuilt over the current voxel means (0.5 ms at 3,000) and only the normals the change can move are
recomputed (the voxels the addition opened or updated, and their nearest neighbours). Without it the target lagged
the map by up to 10 % of its voxels, and in the mazes the corrected trajectory came out about 1.5 % smaller than
the true one (maze 1000002 replayed: APE 0.21 m; the same with ground-truth odometry, and with exact ray-cast scans
at the true poses plus 2 cm range noise, so the matcher against a lagging map, not the odometry; noise-free scans
gave 3 mm). With it: 0.07 m. On the recorded forest runs it loses (0.10 -> 0.20 m), but on exact ray-cast scans of
the same forest the two targets differ by 7 mm: docs/localisation.md "Target freshness" and "What is left" have the
measurements.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from toponav.localisation.registration import RegistrationConfig, Target, finite_points, line_normals, residual_metric

_KEY_STRIDE = np.int64(1 << 31)  # voxel index pairs -> one int64 key (indices stay within +-2^30 voxels)


class PointMap:
    """Map-frame points, one running mean per ``cfg.map_voxel`` square, with a lazily rebuilt :class:`Target`."""

    def __init__(self, cfg: RegistrationConfig | None = None) -> None:
        self.cfg = cfg or RegistrationConfig()
        self.clear()

    def clear(self) -> None:
        """Forget every point (after relocalisation or a map correction the caller re-adds)."""
        self._keys = np.zeros(0, dtype=np.int64)
        self._sums = np.zeros((0, 2))
        self._counts = np.zeros(0)
        self._target: Target | None = None
        self._changed = 0  # voxels added or dropped since every normal was last computed
        self._built_size = 0
        # per voxel, aligned with _keys: the target's normal, line flag and residual metric, and whether the
        # voxel is new since the last target (its normal, and its neighbours', not computed yet)
        self._normals = np.zeros((0, 2))
        self._line = np.zeros(0, dtype=bool)
        self._omega = np.zeros((0, 2, 2))
        self._new = np.zeros(0, dtype=bool)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def points(self) -> np.ndarray:
        """(M, 2) voxel means in the map frame."""
        return self._sums / self._counts[:, None] if len(self._counts) else np.zeros((0, 2))

    def _key(self, points: np.ndarray) -> np.ndarray:
        ij = np.floor(points / self.cfg.map_voxel).astype(np.int64)
        return ij[:, 0] * _KEY_STRIDE + ij[:, 1]

    def add(self, points_map: np.ndarray) -> None:
        """Add (K, 2) map-frame points: each updates its voxel's mean, or opens a new voxel. NaN/inf rows dropped."""
        pts = finite_points(points_map)
        pts = pts[(np.abs(pts) < 1e8).all(axis=1)] if len(pts) else pts
        if len(pts) == 0:
            return
        uk, inv = np.unique(self._key(pts), return_inverse=True)
        sums = np.zeros((len(uk), 2))
        np.add.at(sums, inv, pts)
        counts = np.bincount(inv, minlength=len(uk)).astype(np.float64)
        order = np.argsort(self._keys)
        pos = np.searchsorted(self._keys[order], uk)
        pos_c = np.minimum(pos, max(len(order) - 1, 0))
        found = (pos < len(order)) & (self._keys[order[pos_c]] == uk) if len(order) else np.zeros(len(uk), bool)
        idx = order[pos_c[found]]
        self._sums[idx] += sums[found]
        self._counts[idx] += counts[found]
        self._new[idx] = True  # its mean moved: its normal and its neighbours' are due too
        new = ~found
        n_new = int(new.sum())
        self._keys = np.concatenate([self._keys, uk[new]])
        self._sums = np.concatenate([self._sums, sums[new]])
        self._counts = np.concatenate([self._counts, counts[new]])
        self._normals = np.concatenate([self._normals, np.tile([0.0, 1.0], (n_new, 1))])
        self._line = np.concatenate([self._line, np.zeros(n_new, dtype=bool)])
        self._omega = np.concatenate([self._omega, np.broadcast_to(np.eye(2), (n_new, 2, 2))])
        self._new = np.concatenate([self._new, np.ones(n_new, dtype=bool)])
        self._changed += n_new

    def crop(self, center: tuple[float, float], radius: float) -> None:
        """Drop voxels whose mean lies farther than ``radius`` from ``center``: bounds the map and the tree."""
        c = np.asarray(center, dtype=np.float64).reshape(2)
        if not len(self._keys) or not (np.isfinite(c).all() and np.isfinite(radius)):
            return  # a NaN pose must not wipe the map
        d2 = ((self.points - c) ** 2).sum(axis=1)
        self.retain(d2 <= float(radius) ** 2)

    def retain(self, keep: np.ndarray) -> None:
        """Keep only the voxels where ``keep`` (bool, aligned with :attr:`points`) is true.

        For filters the map itself cannot make: e.g. dropping points whose occupancy-grid cell is no longer
        occupied (returns of things that moved, ground hits on hills that later beams passed over).
        """
        keep = np.asarray(keep, dtype=bool).ravel()
        if keep.shape != self._keys.shape:
            raise ValueError(f"retain: mask of {keep.shape[0]} entries for a map of {len(self._keys)} voxels")
        dropped = int((~keep).sum())
        if dropped:
            self._keys, self._sums, self._counts = self._keys[keep], self._sums[keep], self._counts[keep]
            self._normals, self._line = self._normals[keep], self._line[keep]
            self._omega, self._new = self._omega[keep], self._new[keep]
            self._changed += dropped

    def target(self) -> Target | None:
        """The cached :class:`Target`. Every normal is recomputed when the voxels added/dropped since that was last
        done reach ``max(rebuild_min_points, rebuild_fraction * size then)``, or when there is no target yet; with
        ``target_incremental``, new voxels otherwise join at the next call (KD-tree rebuilt, normals of the new
        voxels and their neighbours computed, the rest kept). None when the map is empty."""
        if len(self._keys) < 3:
            self._target = None
            return None
        cfg = self.cfg
        threshold = max(cfg.rebuild_min_points, cfg.rebuild_fraction * self._built_size)
        if self._target is None or self._changed >= threshold:
            self._refresh(np.arange(len(self._keys)))
            self._changed = 0
            self._built_size = len(self._keys)
        elif cfg.target_incremental and self._new.any():
            self._refresh(None)
        return self._target

    def _refresh(self, which: np.ndarray | None) -> None:
        """A new target over every voxel mean; normals computed for ``which`` (None: the new voxels and the voxels
        among their ``normal_neighbours`` nearest, the only ones whose neighbourhood the new ones can change)."""
        cfg = self.cfg
        pts = np.ascontiguousarray(self.points)
        tree = cKDTree(pts)
        if which is None:
            fresh = np.flatnonzero(self._new)
            k = min(cfg.normal_neighbours, len(pts))
            _, idx = tree.query(pts[fresh], k=k, distance_upper_bound=cfg.normal_radius)
            idx = np.asarray(idx).ravel()
            which = np.union1d(fresh, idx[idx < len(pts)])
        normals, line = line_normals(tree, pts, which, cfg)
        self._normals[which], self._line[which] = normals, line
        self._omega[which] = residual_metric(normals, line)
        self._new[:] = False
        self._target = Target(points=pts, normals=self._normals.copy(), line=self._line.copy(), tree=tree,
                              omega=self._omega.copy())

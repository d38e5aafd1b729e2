"""The local point map each scan is registered against and then added to: a voxel grid of averaged map points.

Why points and not the occupancy grid: the matcher wants sub-cell geometry (a 5 cm voxel mean is accurate to
about a centimetre after a few scans, a 10 cm grid cell to 5 cm), and a bounded set of points (cropped to about
the lidar range) keeps the KD-tree small. Why a cached target: building the cKDTree and the PCA normals of a few
thousand points costs a few milliseconds, so it is rebuilt only after enough voxels were added or dropped
(``rebuild_fraction`` / ``rebuild_min_points``); between rebuilds the newest few scans' points are simply not
matched yet, while the mean of voxels already in the target moves by millimetres.
"""

from __future__ import annotations

import numpy as np

from toponav.localisation.registration import RegistrationConfig, Target, finite_points

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
        self._changed = 0  # voxels added or dropped since the target was built
        self._built_size = 0

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
        new = ~found
        self._keys = np.concatenate([self._keys, uk[new]])
        self._sums = np.concatenate([self._sums, sums[new]])
        self._counts = np.concatenate([self._counts, counts[new]])
        self._changed += int(new.sum())

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
            self._changed += dropped

    def target(self) -> Target | None:
        """The cached :class:`Target`; rebuilt when the voxels added/dropped since the last build reach
        ``max(rebuild_min_points, rebuild_fraction * size at that build)``, or when there is none yet. None
        when the map is empty."""
        if len(self._keys) < 3:
            self._target = None
            return None
        threshold = max(self.cfg.rebuild_min_points, self.cfg.rebuild_fraction * self._built_size)
        if self._target is None or self._changed >= threshold:
            self._target = Target.from_points(self.points, self.cfg)
            self._changed = 0
            self._built_size = len(self._keys)
        return self._target

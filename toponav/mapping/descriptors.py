"""Appearance descriptors of a place, so revisits are recognised even when odometry has drifted.

Two methods, both starting with open3d voxel down-sampling (even point density: near walls no longer
dominate far structure):

* ``scan_context`` (default): a 2-D scan-context signature (Kim & Kim 2018 idea, our own sizes): points
  binned into rings x sectors around the robot, value = points per bin. Matching takes the best
  column shift, so it is yaw invariant and also returns the relative heading. Cost ~0.1 ms.
* ``fpfh``: open3d FPFH features over the (voxelised) cloud, averaged into one 33-bin histogram.
  Rotation invariant; meant for /points clouds; ~2 ms, so only computed when a place is created.

Distances are in [0, 1]: 0 = identical, 1 = unrelated. open3d is imported lazily (0.6 s import), so
code that only reads graphs (the planner) never pays for it.
"""

from __future__ import annotations

import numpy as np

from toponav.localisation.registration import scan_points
from toponav.mapping.config import DescriptorConfig


def voxel_down_sample(points: np.ndarray, voxel: float) -> np.ndarray:
    """open3d voxel grid filter on (M, 2|3) points; returns the same column count."""
    if voxel <= 0 or len(points) == 0:
        return points
    import open3d as o3d

    dim = points.shape[1]
    p3 = points if dim == 3 else np.column_stack([points, np.zeros(len(points))])
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(p3, dtype=np.float64)))
    out = np.asarray(cloud.voxel_down_sample(voxel).points)
    return out[:, :dim]


def scan_context(points: np.ndarray, cfg: DescriptorConfig) -> np.ndarray:
    """(rings, sectors) float32 signature of (M, 2+) points around the origin."""
    sc = np.zeros((cfg.rings, cfg.sectors), dtype=np.float32)
    if len(points) == 0:
        return sc
    r = np.hypot(points[:, 0], points[:, 1])
    keep = r < cfg.max_radius
    r = r[keep]
    theta = np.arctan2(points[keep, 1], points[keep, 0])
    ring = np.minimum((r / cfg.max_radius * cfg.rings).astype(np.int64), cfg.rings - 1)
    sector = np.minimum(((theta + np.pi) / (2 * np.pi) * cfg.sectors).astype(np.int64), cfg.sectors - 1)
    np.add.at(sc, (ring, sector), 1.0)
    return sc


def scan_context_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Yaw-invariant scan-context distance in [0, 1] and the best sector shift of ``b``.

    For every column shift, 1 - mean cosine similarity of the columns that are non-empty in both;
    columns empty in one only count as dissimilar. Vectorised over all shifts at once.
    """
    _rings, sectors = a.shape
    an = np.linalg.norm(a, axis=0)
    bn = np.linalg.norm(b, axis=0)
    if not an.any() and not bn.any():
        return 0.0, 0
    if not an.any() or not bn.any():
        return 1.0, 0
    au = a / np.where(an > 0, an, 1.0)
    bu = b / np.where(bn > 0, bn, 1.0)
    idx = (np.arange(sectors)[None, :] + np.arange(sectors)[:, None]) % sectors  # (shift, col)
    b_rolled = bu[:, idx]  # (rings, shift, col)
    cos = np.einsum("rc,rkc->kc", au, b_rolled)  # (shift, col)
    a_has = an > 0
    b_has = (bn > 0)[idx]  # (shift, col)
    either = a_has[None, :] | b_has
    score = cos.sum(axis=1) / np.maximum(either.sum(axis=1), 1)
    k = int(np.argmax(score))
    return float(np.clip(1.0 - score[k], 0.0, 1.0)), k


def fpfh(points: np.ndarray, cfg: DescriptorConfig) -> np.ndarray:
    """Mean FPFH histogram (33,) of a cloud, L1-normalised (open3d)."""
    import open3d as o3d

    if len(points) < 5:
        return np.zeros(33, dtype=np.float32)
    p3 = points if points.shape[1] == 3 else np.column_stack([points, np.zeros(len(points))])
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.ascontiguousarray(p3, dtype=np.float64)))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=cfg.normal_radius, max_nn=30))
    feat = o3d.pipelines.registration.compute_fpfh_feature(
        cloud, o3d.geometry.KDTreeSearchParamHybrid(radius=cfg.fpfh_radius, max_nn=50))
    hist = np.asarray(feat.data).mean(axis=1)
    total = hist.sum()
    return (hist / total if total > 0 else hist).astype(np.float32)


class DescriptorModel:
    """Computes and compares descriptors with one config; descriptors are flat float32 arrays."""

    def __init__(self, cfg: DescriptorConfig | None = None) -> None:
        self.cfg = cfg or DescriptorConfig()

    def warm_up(self) -> None:
        """Import open3d now (about a second) rather than on the first scan, which would drop scans."""
        self.from_points(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [0.5, 0.5]]))

    @property
    def size(self) -> int:
        return self.cfg.rings * self.cfg.sectors if self.cfg.method == "scan_context" else 33

    def from_points(self, points: np.ndarray) -> np.ndarray:
        """(M, 2|3) points in the robot frame -> flat descriptor."""
        pts = np.asarray(points, dtype=np.float64)
        pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts.reshape(0, 2)
        # only the neighbourhood describes a place; it also keeps open3d's voxel grid bounded
        # (absurd ranges, e.g. 1e9 m from a broken driver, make it refuse the voxel size)
        pts = pts[np.hypot(pts[:, 0], pts[:, 1]) <= self.cfg.max_radius]
        pts = voxel_down_sample(pts, self.cfg.voxel)
        if self.cfg.method == "fpfh":
            return fpfh(pts, self.cfg)
        return scan_context(pts, self.cfg).ravel()

    def from_scan(self, ranges: np.ndarray, angles: np.ndarray, range_min: float = 0.0,
                  range_max: float = np.inf) -> np.ndarray:
        return self.from_points(scan_points(ranges, angles, range_min, range_max))

    def distance(self, a: np.ndarray | None, b: np.ndarray | None) -> float:
        """Distance in [0, 1]; 1 when either is missing or the sizes differ (e.g. another config)."""
        if a is None or b is None or a.size != b.size or a.size != self.size:
            return 1.0
        if self.cfg.method == "fpfh":
            return float(np.clip(0.5 * np.abs(a - b).sum(), 0.0, 1.0))
        shape = (self.cfg.rings, self.cfg.sectors)
        return scan_context_distance(a.reshape(shape), b.reshape(shape))[0]

    def distances(self, a: np.ndarray | None, others: list[np.ndarray | None]) -> np.ndarray:
        return np.array([self.distance(a, b) for b in others], dtype=np.float64)

"""Scan-to-map registration (issue 17): recovers known offsets, keeps the prior along a corridor, fails safely."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toponav.geometry import se2_apply, se2_between, se2_compose, se2_inverse, wrap_angle
from toponav.localisation.point_map import PointMap
from toponav.localisation.registration import (
    RegistrationConfig,
    Target,
    information_to_covariance,
    register,
    scan_points,
    voxel_downsample,
)

ANGLES = np.linspace(-math.pi, math.pi, 360, endpoint=False)
RANGE_MIN, RANGE_MAX = 0.05, 8.0


def _segments_room() -> np.ndarray:
    """An L-shaped 10 x 8 m room with a pillar box: corners and walls in every direction."""
    poly = [(0, 0), (10, 0), (10, 5), (6, 5), (6, 8), (0, 8), (0, 0)]
    box = [(3, 3), (4, 3), (4, 3.6), (3, 3.6), (3, 3)]
    segs = [(poly[i], poly[i + 1]) for i in range(len(poly) - 1)]
    segs += [(box[i], box[i + 1]) for i in range(len(box) - 1)]
    return np.array(segs, dtype=np.float64)


def _segments_corridor() -> np.ndarray:
    """Two parallel walls 2 m apart, 200 m long: no feature along x within the 8 m lidar range."""
    return np.array([[(-100, -1.0), (100, -1.0)], [(-100, 1.0), (100, 1.0)]], dtype=np.float64)


def _raycast(segments: np.ndarray, pose: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Ranges of a 360-beam lidar at ``pose`` against line segments (inf = no return), plus gaussian noise."""
    th = pose[2] + ANGLES
    d = np.stack([np.cos(th), np.sin(th)], axis=1)[:, None, :]  # (B, 1, 2)
    a, b = segments[None, :, 0, :], segments[None, :, 1, :]
    e = b - a
    o = a - pose[:2]
    den = d[..., 0] * e[..., 1] - d[..., 1] * e[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (o[..., 0] * e[..., 1] - o[..., 1] * e[..., 0]) / den
        u = (o[..., 0] * d[..., 1] - o[..., 1] * d[..., 0]) / den
    hit = (np.abs(den) > 1e-12) & (t > 0) & (u >= 0) & (u <= 1)
    r = np.where(hit, t, np.inf).min(axis=1)
    r[r >= RANGE_MAX] = np.inf
    fin = np.isfinite(r)
    r[fin] += np.random.default_rng(seed).normal(0.0, noise, int(fin.sum()))
    return r


def _map_from(segments: np.ndarray, poses: list[np.ndarray], noise: float = 0.01) -> PointMap:
    pm = PointMap()
    for i, p in enumerate(poses):
        pm.add(se2_apply(p, scan_points(_raycast(segments, p, noise, seed=100 + i), ANGLES, RANGE_MIN, RANGE_MAX)))
    return pm


def _err(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    d = se2_between(a, b)
    return math.hypot(d[0], d[1]), abs(float(wrap_angle(d[2])))


def test_recovers_known_offset_in_a_room() -> None:
    segs = _segments_room()
    pm = _map_from(segs, [np.array([2.0, 2.0, 0.0]), np.array([5.0, 2.5, 1.0]), np.array([2.0, 6.0, -0.5])])
    truth = np.array([3.0, 2.0, 0.4])
    scan = scan_points(_raycast(segs, truth, 0.01, seed=7), ANGLES, RANGE_MIN, RANGE_MAX)
    init = se2_compose(truth, np.array([0.3, 0.0, 0.0])) + np.array([0.0, 0.0, 0.15])
    assert _err(init, truth)[0] > 0.29  # the guess really is off
    res = register(scan, pm.target(), init)
    dt, dr = _err(res.pose, truth)
    assert res.ok, res.reason
    assert dt < 0.02 and dr < math.radians(0.5), (dt, math.degrees(dr))
    assert res.fitness > 0.9 and res.rmse < 0.03
    assert len(res.degenerate) == 0
    assert np.all(np.linalg.eigvalsh(res.information) > 0)
    assert np.allclose(res.covariance, res.covariance.T)


def test_corridor_keeps_the_prior_along_its_axis() -> None:
    segs = _segments_corridor()
    pm = _map_from(segs, [np.array([0.0, 0.0, 0.0]), np.array([1.0, 0.2, 0.1])])
    truth = np.array([0.5, 0.1, 0.05])
    scan = scan_points(_raycast(segs, truth, 0.01, seed=3), ANGLES, RANGE_MIN, RANGE_MAX)
    init = truth + np.array([0.4, 0.25, 0.08])  # off along x (unobservable), lateral y and yaw
    prior = np.diag([1 / 0.3**2, 1 / 0.3**2, 1 / 0.1**2])
    res = register(scan, pm.target(), init, prior)
    assert len(res.degenerate) == 1
    assert abs(abs(res.degenerate[0][0]) - 1.0) < 1e-3  # the corridor's axis, x
    assert abs(res.pose[0] - init[0]) < 1e-3  # kept at the odometry prior there
    assert abs(res.pose[1] - truth[1]) < 0.02  # lateral and yaw corrected
    assert abs(wrap_angle(res.pose[2] - truth[2])) < math.radians(0.5)
    # the posterior is wide along the axis (prior only) and tight across it (scan)
    assert res.covariance[0, 0] > 0.5 * 0.3**2 and res.covariance[1, 1] < 0.01**2
    # no prior at all: still no update along the axis (solution remapping), no blow-up
    res2 = register(scan, pm.target(), init)
    assert abs(res2.pose[0] - init[0]) < 1e-3 and abs(res2.pose[1] - truth[1]) < 0.02
    # ... and its covariance says so: finite, free along the axis
    axis = res2.degenerate[0]
    assert np.isfinite(res2.covariance).all() and axis @ res2.covariance @ axis > 1e6


def test_covariance_of_an_information_matrix_singular_to_working_precision() -> None:
    """The information of a loop-closure match (no prior) with one direction projected out, as recorded in
    stack_sim warehouse 1000006 on wheel odometry: ``np.linalg.inv`` raised LinAlgError on it (an exactly zero
    pivot here; other platforms may return rounding noise instead), which took the mapper's update down."""
    info = np.array([[float.fromhex(v) for v in row] for row in [
        ["0x1.271444dba41d9p+13", "0x1.9ddc1be6440f6p+9", "-0x1.4c0063f764aefp+14"],
        ["0x1.9ddc1be6440efp+9", "0x1.a3572679ac38bp+12", "0x1.1d46f76aae269p+14"],
        ["-0x1.4c0063f764aefp+14", "0x1.1d46f76aae269p+14", "0x1.a90a2662414d2p+16"]]])
    cov = information_to_covariance(info)
    free = np.linalg.eigh(0.5 * (info + info.T))[1][:, 0]
    assert np.isfinite(cov).all() and np.allclose(cov, cov.T)
    assert free @ cov @ free == pytest.approx(1e12, rel=1e-6)  # the direction the match left free gets the cap
    well = np.diag([4.0, 9.0, 100.0])  # an invertible one: the plain inverse
    assert np.allclose(information_to_covariance(well), np.linalg.inv(well))


@pytest.mark.parametrize("ranges", [np.zeros(0), np.full(360, np.nan), np.full(360, np.inf),
                                    np.full(360, -1.0), np.full(10, 1.0)])
def test_bad_scans_fail_safely(ranges: np.ndarray) -> None:
    pm = _map_from(_segments_room(), [np.array([2.0, 2.0, 0.0])])
    pts = scan_points(ranges, ANGLES, RANGE_MIN, RANGE_MAX)
    assert pts.shape[1] == 2 and np.isfinite(pts).all()
    init = np.array([2.0, 2.0, 0.0])
    res = register(pts, pm.target(), init)
    assert not res.ok and res.reason
    assert np.array_equal(res.pose, init)


def test_bad_inputs_never_raise() -> None:
    segs = _segments_room()
    pm = _map_from(segs, [np.array([2.0, 2.0, 0.0])])
    scan = scan_points(_raycast(segs, np.array([2.0, 2.0, 0.0])), ANGLES, RANGE_MIN, RANGE_MAX)
    assert not register(scan, None, np.zeros(3)).ok
    assert "empty target" in register(scan, Target.from_points(np.zeros((0, 2))), np.zeros(3)).reason
    assert not register(scan, pm.target(), np.array([np.nan, 0.0, 0.0])).ok
    assert not register(scan, pm.target(), np.zeros(3), prior=np.full((3, 3), np.nan)).ok
    assert not register(scan, pm.target(), np.zeros(3), prior=-np.eye(3)).ok
    nan_rows = np.vstack([scan, np.full((5, 2), np.nan)])
    assert register(nan_rows, pm.target(), np.array([2.0, 2.0, 0.0])).ok
    assert scan_points("garbage", ANGLES, RANGE_MIN, RANGE_MAX).shape == (0, 2)
    assert len(PointMap().add(np.full((3, 2), np.inf)) or PointMap()) == 0
    assert PointMap().target() is None


def test_scan_of_another_place_is_not_ok() -> None:
    room = _segments_room()
    pm = _map_from(room, [np.array([2.0, 2.0, 0.0]), np.array([5.0, 2.5, 1.0])])
    other = np.array([[(0, 0), (3, 0)], [(3, 0), (3, 12)], [(3, 12), (0, 12)], [(0, 12), (0, 0)],
                      [(1, 5), (2, 5.5)]], dtype=np.float64)  # a 3 x 12 m hall with a slanted shelf
    scan = scan_points(_raycast(other, np.array([1.5, 4.0, 0.0]), 0.01), ANGLES, RANGE_MIN, RANGE_MAX)
    res = register(scan, pm.target(), np.array([2.0, 2.0, 0.0]))
    assert not res.ok and res.reason, (res.fitness, res.rmse)


def test_point_map_voxels_crop_and_target_cache() -> None:
    cfg = RegistrationConfig(map_voxel=0.1, rebuild_min_points=20, rebuild_fraction=0.5, target_incremental=False)
    pm = PointMap(cfg)
    pts = np.column_stack([np.arange(100) * 0.1 + 0.05, np.full(100, 0.05)])
    pm.add(pts)
    pm.add(pts + 0.02)  # same voxels: means move, no new voxel
    assert len(pm) == 100
    assert np.allclose(pm.points[:, 1], 0.06)
    t1 = pm.target()
    pm.add(np.column_stack([np.arange(10) * 0.1 + 0.05, np.full(10, 1.05)]))  # 10 new < 50: cached
    assert pm.target() is t1
    pm.add(np.column_stack([np.arange(60) * 0.1 + 0.05, np.full(60, 2.05)]))
    t2 = pm.target()
    assert t2 is not t1 and len(t2) == 170
    pm.crop((float("nan"), 0.0), 3.0)
    assert len(pm) == 170  # a NaN pose leaves the map alone
    pm.crop((0.0, 0.0), 3.0)
    assert len(pm) < 170 and np.all(np.hypot(*pm.points.T) <= 3.0)
    n = len(pm)
    pm.retain(pm.points[:, 1] < 1.0)  # e.g. an occupancy-grid filter
    assert 0 < len(pm) < n and np.all(pm.points[:, 1] < 1.0)
    with pytest.raises(ValueError, match="retain"):
        pm.retain(np.ones(3, dtype=bool))
    pm.clear()
    assert len(pm) == 0 and pm.target() is None


def test_point_map_incremental_target_matches_a_full_build() -> None:
    """New voxels join the target at the next call (a lagging target shrank the maze maps 1.5 %), and the normals
    refreshed for them and their neighbours are the ones a build from scratch gives."""
    cfg = RegistrationConfig(map_voxel=0.1, rebuild_min_points=1000, rebuild_fraction=0.5)
    pm = PointMap(cfg)
    wall = np.column_stack([np.arange(100) * 0.1 + 0.05, np.full(100, 0.05)])
    pm.add(wall[:50])
    t1 = pm.target()
    assert pm.target() is t1  # nothing new: cached
    pm.add(wall[50:])  # the wall goes on ahead, a trunk appears, a seen voxel's mean moves
    pm.add(0.3 * np.column_stack([np.cos(np.arange(8)), np.sin(np.arange(8))]) + [3.0, 2.0])
    pm.add(wall[10:11] + np.array([0.0, 0.02]))
    t2 = pm.target()
    assert t2 is not t1 and len(t2) == len(pm) == 108
    full = Target.from_points(pm.points, cfg)
    assert np.array_equal(t2.points, full.points) and np.array_equal(t2.line, full.line)
    assert np.allclose(np.abs(t2.normals[t2.line] @ [0.0, 1.0]), 1.0, atol=1e-3) and np.allclose(t2.omega, full.omega)
    assert t2.line[:100].all() and not t2.line[100:].any()


def test_target_normals_and_lines() -> None:
    wall = np.column_stack([np.linspace(0, 3, 61), np.zeros(61)])
    trunk = 0.15 * np.column_stack([np.cos(np.linspace(0, 6.2, 12)), np.sin(np.linspace(0, 6.2, 12))]) + [5, 5]
    t = Target.from_points(np.vstack([wall, trunk]))
    assert t.line[:61].all() and np.allclose(np.abs(t.normals[:61, 1]), 1.0)
    assert not t.line[61:].any()  # a thin trunk: point-to-point, not a line


def test_scan_voxels_are_means_in_first_seen_order() -> None:
    """Each voxel gives the mean of its points (or its first point), voxels in the order first seen."""
    pts = np.array([[0.31, 0.02], [0.01, 0.01], [0.32, 0.04], [0.04, 0.03], [0.33, 0.03]])
    assert np.allclose(voxel_downsample(pts, 0.05, mean=True), [[0.32, 0.03], [0.025, 0.02]])
    assert np.allclose(voxel_downsample(pts, 0.05), pts[:2])
    assert voxel_downsample(pts, 0.0, mean=True) is pts
    assert voxel_downsample(np.zeros((0, 2)), 0.05, mean=True).shape == (0, 2)


def test_registration_uses_se2_inverse_consistently() -> None:
    """A scan registered to a target built in its own frame returns the identity from any small guess."""
    segs = _segments_room()
    pose = np.array([2.0, 2.0, 0.3])
    local = scan_points(_raycast(segs, pose), ANGLES, RANGE_MIN, RANGE_MAX)
    target = Target.from_points(local)
    res = register(local, target, se2_inverse(np.array([0.05, -0.03, 0.02])))
    assert res.ok and _err(res.pose, np.zeros(3))[0] < 1e-3


def test_a_tight_prior_starts_with_a_narrow_gate() -> None:
    """At 10 Hz the odometry guess is good to a centimetre: the gate starts near its final width, fewer iterations."""
    segs = _segments_room()
    pm = _map_from(segs, [np.array([2.0, 2.0, 0.0]), np.array([5.0, 2.5, 1.0])])
    truth = np.array([3.0, 2.0, 0.4])
    scan = scan_points(_raycast(segs, truth, 0.01, seed=5), ANGLES, RANGE_MIN, RANGE_MAX)
    init = truth + np.array([0.01, -0.01, 0.004])
    prior = np.diag(1.0 / np.array([0.01, 0.01, 0.005]) ** 2)
    with_prior = register(scan, pm.target(), init, prior)
    without = register(scan, pm.target(), init)
    assert with_prior.ok and without.ok
    assert with_prior.iterations <= 6 and without.iterations >= 9  # 8 shrinks from 1.0 m to 0.2 m without
    assert _err(with_prior.pose, truth)[0] < 0.01


def test_things_not_in_the_map_lose_their_pull() -> None:
    """Two boards 15 cm in front of walls (new pallets): the robust kernel keeps them from dragging the pose.

    Without the kernel (least squares) this ends about 2.2 cm off; with it about 0.8 cm.
    """
    segs = _segments_room()
    pm = _map_from(segs, [np.array([2.0, 2.0, 0.0]), np.array([5.0, 2.5, 1.0]), np.array([2.0, 6.0, -0.5])])
    cluttered = np.vstack([segs, [[(6.5, 0.15), (8.5, 0.15)]], [[(9.85, 1.0), (9.85, 3.0)]]])
    truth = np.array([3.0, 2.0, 0.4])
    scan = scan_points(_raycast(cluttered, truth, 0.01, seed=7), ANGLES, RANGE_MIN, RANGE_MAX)
    init = se2_compose(truth, np.array([0.3, 0.0, 0.0])) + np.array([0.0, 0.0, 0.15])
    res = register(scan, pm.target(), init)
    assert res.ok and _err(res.pose, truth)[0] < 0.015

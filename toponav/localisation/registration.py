"""2-D scan-to-map registration: point-to-line ICP with a robust kernel and the wheel-odometry prior.

Why our own 2-D matcher and not a 3-D library (measured by ``python -m toponav.experiments.compare_registration``,
table in docs/mapping.md): a planar scan embedded in 3-D leaves z and roll/pitch unconstrained, so small_gicp and
open3d need the points extruded into fake layers and still solve for six degrees of freedom of which three are
noise; neither takes a prior on the initial guess nor reports which directions the scan failed to constrain, and
both are the per-call cost of a Python <-> C++ round trip with a fresh KD-tree. In 2-D the problem is three
unknowns, a 3x3 normal equation per iteration, and a scipy cKDTree of the local map built once per few scans.

Method, per :func:`register` call:
  * correspondences: nearest target point of each scan voxel's mean return, within a gate that shrinks
    from ``gate_initial`` to ``gate_final`` over the iterations (wide enough first to pull in a 0.5 m / 10 deg
    odometry error, narrow at the end so that the inliers and the fit are judged on close matches);
  * residual: point-to-line where the target's neighbourhood is a line (walls, shelves: PCA of its k nearest
    neighbours), point-to-point elsewhere (tree trunks, corners, isolated returns), each weighted by a Cauchy
    kernel so that the points of things not in the map (a person, a new pallet) lose their pull;
  * Gauss-Newton in (x, y, yaw) with the odometry prior as an extra quadratic term;
  * degeneracy (Zhang, Kaess, Singh, ICRA 2016, "On degeneracy of optimization-based state estimation
    problems"): eigen-directions of the scan's own information that it constrains worse than
    ``degeneracy_std`` (a long featureless aisle along its axis) are not updated at all ("solution
    remapping"), so the pose keeps the odometry there instead of sliding on sensor noise, and they are
    reported in :attr:`Registration.degenerate` for the caller (the pose graph keeps the odometry edge there).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from toponav.config import param
from toponav.geometry import se2_apply, wrap_angle


@dataclass
class RegistrationConfig:
    """Every scan-matching and local-map default, once (the localiser's YAML section overrides them)."""

    max_iterations: int = param(30, "Gauss-Newton iterations at most; a 10 Hz odometry guess converges in 5-10",
                                min=1, max=500)
    gate_initial: float = param(1.0, "correspondence gate (m) at the first iteration: a 0.5 m / 10 deg guess error "
                                "moves a point 3 m away by about 1 m", min=0.01)
    gate_final: float = param(0.1, "correspondence gate (m) the shrinking stops at; inliers and fitness are counted "
                              "within it (2x the 5 cm voxel). 0.2 let a hillside's returns in the forest pull the "
                              "pose: replaying full-stack bags (docs/localisation.md), APE RMSE forest 0.46 -> 0.19 m, "
                              "maze 0.13 -> 0.10 m, warehouse 0.02 -> 0.03 m", min=0.01)
    gate_shrink: float = param(0.8, "the gate is multiplied by this each iteration until it reaches gate_final",
                               min=0.05, max=1.0)
    gate_prior_sigmas: float = param(3.0, "with a prior, the first gate only covers this many of its sigmas of point "
                                     "motion (never more than gate_initial); 0 = always start at gate_initial",
                                     min=0.0)
    kernel_scale: float = param(0.1, "Cauchy kernel scale (m): a residual e weighs 1 / (1 + (e / scale)^2), so "
                                "points 3x farther than this from the map pull 10x less", min=1e-4)
    scan_voxel: float = param(0.05, "scan voxel down-sampling (m) before matching: near returns are dense, so "
                              "this evens out their weight against far ones and bounds the cost", min=0.0)
    scan_voxel_mean: bool = param(
        True, "each scan voxel is matched as the mean of its returns, as the map's voxels are; false: its first "
        "return in beam order, which leans every voxel's point the same way round the scan. Replayed on 19 recorded "
        "bench runs (docs/localisation.md 'Scan voxel means'): mean APE RMSE 0.083 -> 0.067 and 0.096 -> 0.081 m")
    map_voxel: float = param(0.05, "local point map voxel (m): one averaged point per voxel", min=0.005)
    map_radius: float = param(10.0, "local map points farther than this from the robot are dropped by the "
                              "localiser's crop (m); a bit beyond the 8 m lidar range", min=0.5)
    normal_neighbours: int = param(8, "target neighbours (k) whose PCA gives a point's line direction", min=3,
                                   max=64)
    normal_radius: float = param(1.5, "neighbours farther than this (m) do not shape a normal; wide, as at grazing "
                                 "incidence a wall's returns lie up to 1 m apart and must still read as a line",
                                 min=0.01)
    line_ratio: float = param(0.1, "a target point lies on a line when its neighbourhood's eigenvalue ratio "
                              "(small / large) is below this: point-to-line there, point-to-point elsewhere "
                              "(trunks, corners, isolated returns)", min=0.0, max=1.0)
    point_sigma: float = param(0.03, "floor (m) of the residual std that scales the scan's information against "
                               "the odometry prior (lidar noise plus map voxel); the fit's rmse when larger",
                               min=1e-4)
    min_inliers: int = param(30, "a match needs at least this many scan points within gate_final of the map",
                             min=1)
    min_fitness: float = param(0.5, "and at least this fraction of its scan points there (a scan of another "
                               "place, or a guess too far off, scores low)", min=0.0, max=1.0)
    degeneracy_std: float = param(0.05, "a direction is degenerate (kept at the prior) when the scan alone "
                                  "constrains it worse than this std (m; yaw scaled by degeneracy_length)",
                                  min=1e-6)
    degeneracy_length: float = param(2.0, "metres per radian when yaw is compared with translation for "
                                     "degeneracy (a yaw error moves a point 2 m away by that much)", min=0.01)
    tol_translation: float = param(1e-3, "converged when a step moves less than this (m) ...; 0.1 mm, far below the "
                                   "range noise, left 5-14 % of the forest's scans 'not converged' (odometry only)",
                                   min=0.0)
    tol_rotation: float = param(1e-3, "... and turns less than this (rad), with the gate at gate_final", min=0.0)
    rebuild_fraction: float = param(0.1, "the point map recomputes every normal of its target when voxels "
                                    "added or dropped since the last build reach this fraction of it ...",
                                    min=0.0, max=1.0)
    rebuild_min_points: int = param(30, "... or this many, whichever is larger (a few scans of new ground at "
                                    "walking speed; keeps the rebuild off most 10 Hz updates)", min=1)
    target_incremental: bool = param(
        True, "between those rebuilds, what each map addition changed joins the target at the next scan (KD-tree "
        "rebuilt, only the normals it moves recomputed); false: it waits for the rebuild. Replayed bags, APE RMSE: "
        "mazes 0.08-0.21 -> 0.05-0.09 m, forests 0.08-0.14 -> 0.10-0.18 m (docs/localisation.md 'Target "
        "freshness')")


def scan_points(ranges: np.ndarray, angles: np.ndarray, range_min: float = 0.0,
                range_max: float = np.inf) -> np.ndarray:
    """(N, 2) sensor-frame points of the returns: finite, ``range_min <= r < range_max`` (a reading at
    ``range_max`` is LaserScan's no-return). NaN limits mean no limit.

    Bad data never raises: mismatched lengths, NaN, inf, non-numeric input give the valid part or an empty
    (0, 2) array, so one broken scan costs one registration (``ok=False``) or one descriptor, not the mapper.
    The one home of this conversion: the mapper's descriptors use it too.
    """
    try:
        r = np.asarray(ranges, dtype=np.float64).ravel()
        a = np.asarray(angles, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.zeros((0, 2))
    if r.shape != a.shape:
        return np.zeros((0, 2))
    range_min = range_min if np.isfinite(range_min) else 0.0
    range_max = range_max if range_max == range_max else np.inf  # NaN -> no limit
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(r) & np.isfinite(a) & (r >= range_min) & (r < range_max - 1e-6)
    r, a = r[valid], a[valid]
    return np.column_stack([r * np.cos(a), r * np.sin(a)])


def voxel_downsample(points: np.ndarray, voxel: float, mean: bool = False) -> np.ndarray:
    """One point per ``voxel`` square, in the order of each voxel's first point: that first point, or with
    ``mean`` the mean of the voxel's points. ``voxel <= 0`` returns the points unchanged."""
    if voxel <= 0 or len(points) == 0:
        return points
    keys = np.floor(points / voxel).astype(np.int64)
    _, first, inv = np.unique(keys[:, 0] * 2_000_003 + keys[:, 1], return_index=True, return_inverse=True)
    order = np.argsort(first)
    if not mean:
        return points[first[order]]
    sums = np.zeros((len(first), 2))
    np.add.at(sums, inv.ravel(), points)
    return (sums / np.bincount(inv.ravel(), minlength=len(first))[:, None])[order]


def finite_points(points: np.ndarray) -> np.ndarray:
    """(N, 2) finite rows of ``points``; anything not shaped as 2-D points gives an empty array."""
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        return np.zeros((0, 2))
    return pts[np.isfinite(pts).all(axis=1)]


def line_normals(tree: cKDTree, points: np.ndarray, which: np.ndarray, cfg: RegistrationConfig
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (len(which), 2) and line flags of ``points[which]``, from the PCA (closed-form 2x2) of each
    one's ``normal_neighbours`` nearest neighbours among all ``points`` (``tree`` is their cKDTree).

    A point lies on a line when the small eigenvalue is below ``line_ratio`` times the large one; elsewhere the
    normal is meaningless (point-to-point). Computing a subset is what lets :class:`PointMap` refresh only the
    normals that new voxels can have changed.
    """
    which = np.asarray(which, dtype=np.int64)
    n = len(which)
    normals = np.zeros((n, 2))
    normals[:, 1] = 1.0
    line = np.zeros(n, dtype=bool)
    m = len(points)
    if m < 3 or n == 0:
        return normals, line
    k = min(cfg.normal_neighbours, m)
    d, idx = tree.query(points[which], k=k, distance_upper_bound=cfg.normal_radius)
    d, idx = d.reshape(n, k), idx.reshape(n, k)
    mask = np.isfinite(d)
    nb = np.concatenate([points, np.zeros((1, 2))])[np.minimum(idx, m)]  # (n, k, 2), misses -> padded
    cnt = mask.sum(axis=1)
    w = mask / np.maximum(cnt, 1)[:, None]
    mean = np.einsum("mk,mkd->md", w, nb)
    dev = (nb - mean[:, None, :]) * mask[:, :, None]
    cxx = np.einsum("mk,mk->m", w, dev[:, :, 0] * dev[:, :, 0])
    cyy = np.einsum("mk,mk->m", w, dev[:, :, 1] * dev[:, :, 1])
    cxy = np.einsum("mk,mk->m", w, dev[:, :, 0] * dev[:, :, 1])
    half = 0.5 * (cxx + cyy)
    rad = np.sqrt((0.5 * (cxx - cyy)) ** 2 + cxy**2)
    lam_small, lam_big = half - rad, half + rad
    theta = 0.5 * np.arctan2(2.0 * cxy, cxx - cyy)  # direction of the major axis (the line)
    normals = np.column_stack([-np.sin(theta), np.cos(theta)])
    line = (cnt >= 3) & (lam_big > 0) & (lam_small <= cfg.line_ratio * np.maximum(lam_big, 1e-12))
    return normals, line


def residual_metric(normals: np.ndarray, line: np.ndarray) -> np.ndarray:
    """(M, 2, 2) residual metric per target point: n n^T on lines (point-to-line), identity elsewhere."""
    omega = np.broadcast_to(np.eye(2), (len(normals), 2, 2)).copy()
    omega[line] = np.einsum("mi,mj->mij", normals[line], normals[line])
    return omega


@dataclass
class Target:
    """What a scan is matched against: points, their normals and line flags, and a cKDTree, built once."""

    points: np.ndarray  # (M, 2)
    normals: np.ndarray  # (M, 2) unit normal of the local line (PCA); meaningful where ``line``
    line: np.ndarray  # (M,) bool: point-to-line residual here, point-to-point elsewhere
    tree: cKDTree
    omega: np.ndarray = field(repr=False)  # (M, 2, 2) residual metric: n n^T on lines, I elsewhere

    @classmethod
    def from_points(cls, points: np.ndarray, cfg: RegistrationConfig | None = None) -> Target:
        """Normals from the PCA of each point's ``normal_neighbours`` nearest neighbours (closed-form 2x2)."""
        cfg = cfg or RegistrationConfig()
        pts = np.ascontiguousarray(finite_points(points))
        tree = cKDTree(pts)
        normals, line = line_normals(tree, pts, np.arange(len(pts)), cfg)
        return cls(points=pts, normals=normals, line=line, tree=tree, omega=residual_metric(normals, line))

    def __len__(self) -> int:
        return len(self.points)


@dataclass
class Registration:
    """Result of one :func:`register` call; ``ok`` says whether the pose is safe to use."""

    pose: np.ndarray  # (3,) x, y, yaw of the scan origin in the target's frame after registration
    covariance: np.ndarray  # (3, 3) posterior (scan term + prior)
    information: np.ndarray  # (3, 3) scan term only (J^T W J / sigma^2), zero along ``degenerate``: what a
    #                          pose-graph edge from this match is worth
    inliers: int
    fitness: float  # inlier fraction of the (down-sampled) scan points
    rmse: float  # m, inlier residual (point-to-line on lines, point-to-point elsewhere)
    iterations: int
    converged: bool
    degenerate: np.ndarray  # (k, 3) unit directions in (x, y, yaw) the scan left unconstrained (prior kept)
    ok: bool  # converged, enough inliers and fitness
    reason: str  # why not ok ("" when ok)


def information_to_covariance(information: np.ndarray, max_variance: float = 1e12) -> np.ndarray:
    """The covariance of a 3x3 information matrix, also where it leaves a direction free.

    A match without a prior along an aisle has no information along it (``_degeneracy`` projects it out), so the
    matrix is singular to working precision: ``np.linalg.inv`` then raises on some matrices (an exactly zero
    pivot; stack_sim warehouse 1000006 on wheel odometry, a loop-closure check) and returns rounding noise of
    either sign on others. Here an eigen-direction whose information is below ``1e-9`` of the largest (rounding
    noise: a direction the match left free) gets ``max_variance``, the others their inverse eigenvalue: finite and
    symmetric, never an exception."""
    a = np.asarray(information, dtype=np.float64)
    w, v = np.linalg.eigh(0.5 * (a + a.T))
    free = w <= 1e-9 * max(float(w.max()), 0.0)
    return (v / np.where(free, 1.0 / max_variance, np.maximum(w, 1.0 / max_variance))) @ v.T


def _failed(init: np.ndarray, prior: np.ndarray | None, reason: str) -> Registration:
    pose = np.asarray(init, dtype=np.float64).ravel()[:3] if np.size(init) >= 3 else np.zeros(3)
    cov = np.full((3, 3), np.inf)
    if prior is not None:
        with np.errstate(all="ignore"), contextlib.suppress(np.linalg.LinAlgError):
            cov = np.linalg.inv(prior + 1e-12 * np.eye(3))
    return Registration(pose=pose.copy(), covariance=cov, information=np.zeros((3, 3)), inliers=0, fitness=0.0,
                        rmse=math.inf, iterations=0, converged=False, degenerate=np.zeros((0, 3)), ok=False,
                        reason=reason)


def _normal_equations(target: Target, scan: np.ndarray, pose: np.ndarray, gate: float, scale: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Robust-weighted ``H = sum w J^T Omega J`` and ``g = sum w J^T Omega r`` at ``pose``.

    Returns H, g, the inlier mask (a correspondence within ``gate``) and the residual norms e (inf if none).
    """
    q = se2_apply(pose, scan)
    d, idx = target.tree.query(q, k=1, distance_upper_bound=gate)
    inl = np.isfinite(d)
    e = np.full(len(scan), np.inf)
    if not inl.any():
        return np.zeros((3, 3)), np.zeros(3), inl, e
    qi, j = q[inl], idx[inl]
    r0, r1 = qi[:, 0] - target.points[j, 0], qi[:, 1] - target.points[j, 1]
    rx, ry = qi[:, 0] - pose[0], qi[:, 1] - pose[1]  # d(q)/d(yaw) = (-ry, rx)
    a, b, c = target.omega[j, 0, 0], target.omega[j, 0, 1], target.omega[j, 1, 1]
    # J = [[1, 0, -ry], [0, 1, rx]], Omega = [[a, b], [b, c]]: the 3x3 J^T Omega J and J^T Omega r written out
    # (one weighted matrix product instead of per-point 2x3 einsums: 5x faster at 360 points)
    p0, p1 = a * r0 + b * r1, b * r0 + c * r1
    u, v = b * rx - a * ry, c * rx - b * ry
    e2 = r0 * p0 + r1 * p1
    w = 1.0 / (1.0 + e2 / (scale * scale))
    terms = np.stack([a, b, u, c, v, rx * v - ry * u, p0, p1, rx * p1 - ry * p0])
    s = terms @ w
    h = np.array([[s[0], s[1], s[2]], [s[1], s[3], s[4]], [s[2], s[4], s[5]]])
    g = s[6:9]
    e[inl] = np.sqrt(np.maximum(e2, 0.0))
    return h, g, inl, e


def _degeneracy(info: np.ndarray, cfg: RegistrationConfig) -> tuple[np.ndarray, np.ndarray]:
    """(projector that keeps the well-constrained directions, (k, 3) unit degenerate directions), both in (x, y, yaw).

    Eigen-analysis in scaled coordinates u = (x, y, L * yaw) so that the threshold compares like with like.
    """
    s_inv = np.diag([1.0, 1.0, 1.0 / cfg.degeneracy_length])
    lam, vec = np.linalg.eigh(s_inv @ info @ s_inv)
    bad = lam < 1.0 / cfg.degeneracy_std**2
    good = vec[:, ~bad]
    s = np.diag([1.0, 1.0, cfg.degeneracy_length])
    proj = s_inv @ (good @ good.T) @ s  # delta_xi -> S^-1 P_u S delta_xi
    dirs = (s_inv @ vec[:, bad]).T
    dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-12)
    return proj, dirs


def _initial_gate(scan: np.ndarray, prior: np.ndarray | None, cfg: RegistrationConfig) -> float:
    """The first correspondence gate: ``gate_initial``, or less when the prior says the guess is better.

    A scan point at range r moves by at most ``|dt| + r |dyaw|`` under a pose error (dt, dyaw); with the
    prior's 3-sigma bounds on both (``gate_prior_sigmas``) that is all the gate needs to cover. At 10 Hz the
    odometry step is good to about a centimetre, so the gate starts near ``gate_final`` and the iterations
    that only shrink the gate are skipped (3-5 instead of 8-10).
    """
    if prior is None or cfg.gate_prior_sigmas <= 0:
        return cfg.gate_initial
    with np.errstate(all="ignore"):
        try:
            cov = np.linalg.inv(prior)
        except np.linalg.LinAlgError:
            return cfg.gate_initial
    if not np.isfinite(cov).all():
        return cfg.gate_initial
    sig_t = math.sqrt(max(float(np.linalg.eigvalsh(cov[:2, :2]).max()), 0.0))
    sig_r = math.sqrt(max(float(cov[2, 2]), 0.0))
    reach = float(np.sqrt((scan**2).sum(axis=1)).max())
    bound = cfg.gate_prior_sigmas * (sig_t + reach * sig_r)
    return float(min(cfg.gate_initial, max(cfg.gate_final, bound)))


def register(scan: np.ndarray, target: Target | None, init: np.ndarray, prior: np.ndarray | None = None,
             cfg: RegistrationConfig | None = None) -> Registration:
    """Register robot-frame ``scan`` points to ``target`` starting from ``init`` (the odometry prediction).

    ``prior`` is the (3, 3) information matrix of ``init`` (from the odometry noise since the last corrected
    pose); None means no prior. Never raises on bad data: an empty/NaN scan, an empty target, a non-finite
    guess give ``ok=False`` with a reason and the guess as the pose.
    """
    cfg = cfg or RegistrationConfig()
    try:
        x0 = np.asarray(init, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return _failed(np.zeros(3), None, "initial pose is not numeric")
    if x0.shape != (3,) or not np.isfinite(x0).all():
        return _failed(np.zeros(3), None, f"initial pose must be 3 finite numbers, got {np.asarray(init).tolist()}")
    if prior is not None:
        try:
            prior = np.asarray(prior, dtype=np.float64)
        except (TypeError, ValueError):
            return _failed(x0, None, "prior is not numeric")
        if prior.shape != (3, 3) or not np.isfinite(prior).all():
            return _failed(x0, None, "prior must be a finite 3x3 information matrix")
        prior = 0.5 * (prior + prior.T)
        if np.linalg.eigvalsh(prior).min() < -1e-9 * max(1.0, float(np.abs(prior).max())):
            return _failed(x0, None, "prior information matrix is not positive semi-definite")
    if target is None or len(target) < 3:
        return _failed(x0, prior, "empty target (no local map yet)")
    pts = voxel_downsample(finite_points(scan), cfg.scan_voxel, cfg.scan_voxel_mean)
    if len(pts) < max(cfg.min_inliers, 3):
        return _failed(x0, prior, f"too few valid scan points ({len(pts)} < {max(cfg.min_inliers, 3)})")

    prior_m = np.zeros((3, 3)) if prior is None else prior
    inv_var = 1.0 / cfg.point_sigma**2
    x = x0.copy()
    gate = _initial_gate(pts, prior, cfg)
    converged = False
    it = 0
    for it in range(1, cfg.max_iterations + 1):  # noqa: B007 (the count is reported)
        h, g, inl, _ = _normal_equations(target, pts, x, gate, cfg.kernel_scale)
        if inl.sum() < 3:
            break
        h, g = h * inv_var, g * inv_var
        dx = x - x0
        dx[2] = wrap_angle(dx[2])
        proj, _ = _degeneracy(h, cfg)
        try:
            step = np.linalg.solve(h + prior_m + 1e-9 * np.eye(3), -(g + prior_m @ dx))
        except np.linalg.LinAlgError:
            break
        step = proj @ step  # solution remapping: no update along directions the scan does not constrain
        x = x + step
        x[2] = wrap_angle(x[2])
        at_final = gate <= cfg.gate_final + 1e-12
        if at_final and math.hypot(step[0], step[1]) < cfg.tol_translation and abs(step[2]) < cfg.tol_rotation:
            converged = True
            break
        gate = max(cfg.gate_final, gate * cfg.gate_shrink)

    h, _, inl, e = _normal_equations(target, pts, x, cfg.gate_final, cfg.kernel_scale)
    n_in = int(inl.sum())
    rmse = float(np.sqrt(np.mean(e[inl] ** 2))) if n_in else math.inf
    sigma = max(rmse if n_in else cfg.point_sigma, cfg.point_sigma)
    proj, dirs = _degeneracy(h / sigma**2, cfg)
    info = proj.T @ (h / sigma**2) @ proj  # the scan claims nothing along the directions it left to the prior
    cov = information_to_covariance(info + prior_m)
    fitness = n_in / len(pts)
    reason = ""
    if not converged:
        reason = f"not converged after {it} iterations"
    elif n_in < cfg.min_inliers:
        reason = f"too few inliers ({n_in} < {cfg.min_inliers})"
    elif fitness < cfg.min_fitness:
        reason = f"low fitness ({fitness:.2f} < {cfg.min_fitness})"
    return Registration(pose=x, covariance=cov, information=info, inliers=n_in, fitness=float(fitness), rmse=rmse,
                        iterations=it, converged=converged, degenerate=dirs, ok=not reason, reason=reason)

"""Which scan-to-map registration the mapper uses, chosen by measurement (issue 17).

``python -m toponav.experiments.compare_registration [--worlds 3] [--anchors 4] [--trials 5] [--noise M]``

Real PyBullet scans (``sim.pybullet_agv.AgvSim``, 360 beams) in held-out warehouse / maze / forest worlds
(seeds >= 1,000,000). For each anchor (a free pose) a local map is built from scans at the anchor and three
nearby free poses (true poses), then a scan from a fourth nearby pose is registered from initial guesses
0.2-0.5 m and 3-10 deg off the truth. Candidates:

* ``toponav-2d``: :func:`toponav.localisation.registration.register` (point-to-line / point-to-point ICP in
  (x, y, yaw), Cauchy kernel, shrinking gate); target from :class:`~toponav.localisation.point_map.PointMap`.
* ``small_gicp-{ICP,PLANE_ICP,GICP}``: small_gicp 1.0.1 ``align`` on the 2-D points extruded to five z layers
  5 cm apart (a single layer leaves every covariance and normal degenerate in z); the target's tree and
  normals/covariances are built once per map, the scan's preprocessing is timed with each call.
* ``open3d-p2plane`` (and ``-cauchy``, with open3d's Cauchy robust kernel at our kernel scale): open3d
  ``registration_icp`` point-to-plane on the same extruded clouds, target normals estimated once per map.

All run on one thread (OMP_NUM_THREADS=1, ``num_threads=1``), with a 1.0 m correspondence distance (our gate
starts there). Success: final error < 5 cm and < 1 deg. A second table times the 10 Hz use: a robot
teleported along a free straight line 5 cm per scan, each scan registered from the previous corrected pose
composed with a noisy odometry step (``--odo-sigma``, default 1 cm / 0.3 deg per step: pessimistic) with that
step's prior, then added to the map (``PointMap.add`` + ``crop`` + ``target``), timed separately.
Wall-clock, this thread's CPU time and the load average are printed; compare rows measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core for every candidate (open3d uses OpenMP)

import numpy as np

from toponav.geometry import matrix_to_se2, se2_apply, se2_between, se2_compose, se2_to_matrix, wrap_angle
from toponav.localisation.point_map import PointMap
from toponav.localisation.registration import RegistrationConfig, register, scan_points
from toponav.robot import LidarParams
from toponav.worlds import heldout_seeds, make_world

FAMILIES = ("warehouse", "maze", "forest")
LAYERS = np.array([-0.1, -0.05, 0.0, 0.05, 0.1])
MAX_CORR = 1.0
SUCCESS_T, SUCCESS_R = 0.05, math.radians(1.0)


@dataclass
class Stats:
    err_t: list[float] = field(default_factory=list)
    err_r: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def add(self, est: np.ndarray, truth: np.ndarray, ms: float, cpu_ms: float) -> None:
        d = se2_between(truth, est)
        self.err_t.append(math.hypot(d[0], d[1]))
        self.err_r.append(abs(float(wrap_angle(d[2]))))
        self.ms.append(ms)
        self.cpu_ms.append(cpu_ms)

    def row(self) -> tuple[float, ...]:
        t, r = np.array(self.err_t), np.array(self.err_r)
        succ = float(np.mean((t < SUCCESS_T) & (r < SUCCESS_R)))
        return (succ, float(np.median(t)), float(np.degrees(np.median(r))), *_med_p95(self.ms),
                *_med_p95(self.cpu_ms))


def _med_p95(v: list[float]) -> tuple[float, float]:
    return float(np.median(v)), float(np.percentile(v, 95))


def _extrude(points2: np.ndarray) -> np.ndarray:
    n = len(points2)
    z = np.repeat(LAYERS, n)
    return np.column_stack([np.tile(points2, (len(LAYERS), 1)), z])


class Candidates:
    """Per-map prepared targets and one ``(scan2d, init) -> pose`` callable per method."""

    def __init__(self, map_points: np.ndarray, cfg: RegistrationConfig) -> None:
        import open3d as o3d
        import small_gicp

        self.cfg = cfg
        pm = PointMap(cfg)
        pm.add(map_points)
        self.target = pm.target()
        pts3 = _extrude(pm.points)
        self.sg_target = small_gicp.PointCloud(pts3)
        small_gicp.estimate_normals_covariances(self.sg_target, num_neighbors=10)
        self.sg_tree = small_gicp.KdTree(self.sg_target)
        self.o3d_target = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts3))
        self.o3d_target.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=0.3, max_nn=10))
        self._sg, self._o3d = small_gicp, o3d

    def methods(self) -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
        out: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
            "toponav-2d": lambda scan, init: register(scan, self.target, init, cfg=self.cfg).pose}
        for kind in ("ICP", "PLANE_ICP", "GICP"):
            out[f"small_gicp-{kind}"] = lambda scan, init, kind=kind: self._small_gicp(scan, init, kind)
        out["open3d-p2plane"] = lambda scan, init: self._open3d(scan, init, robust=False)
        out["open3d-p2plane-cauchy"] = lambda scan, init: self._open3d(scan, init, robust=True)
        return out

    def _small_gicp(self, scan: np.ndarray, init: np.ndarray, kind: str) -> np.ndarray:
        src, _ = self._sg.preprocess_points(_extrude(scan), downsampling_resolution=self.cfg.scan_voxel,
                                            num_neighbors=10, num_threads=1)
        res = self._sg.align(self.sg_target, src, self.sg_tree, init_T_target_source=se2_to_matrix(init),
                             registration_type=kind, max_correspondence_distance=MAX_CORR, num_threads=1,
                             max_iterations=30)
        return matrix_to_se2(res.T_target_source)

    def _open3d(self, scan: np.ndarray, init: np.ndarray, robust: bool) -> np.ndarray:
        o3d = self._o3d
        src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(_extrude(scan)))
        src = src.voxel_down_sample(self.cfg.scan_voxel)
        reg = o3d.pipelines.registration
        est = (reg.TransformationEstimationPointToPlane(reg.CauchyLoss(k=self.cfg.kernel_scale)) if robust
               else reg.TransformationEstimationPointToPlane())
        res = reg.registration_icp(src, self.o3d_target, MAX_CORR, se2_to_matrix(init), est,
                                   reg.ICPConvergenceCriteria(max_iteration=30))
        return matrix_to_se2(np.asarray(res.transformation))


def _free_pose(world, rng: np.random.Generator, near: np.ndarray | None = None, radius: float = 1.0,
               clearance: float = 0.45) -> np.ndarray | None:
    x0, y0, x1, y1 = world.bounds
    for _ in range(500):
        if near is None:
            xy = rng.uniform([x0 + 0.5, y0 + 0.5], [x1 - 0.5, y1 - 0.5])
        else:
            a, r = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.uniform())
            xy = near[:2] + r * np.array([math.cos(a), math.sin(a)])
        if world.clearance(xy[None])[0] > clearance:
            return np.array([xy[0], xy[1], rng.uniform(-math.pi, math.pi)])
    return None


def _scan_at(sim, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Teleport, scan; returns the true pose after settling and the robot-frame points."""
    sim.reset(pose=tuple(float(v) for v in pose))
    truth = np.asarray(sim.pose, dtype=np.float64)
    lid = sim.lidar
    return truth, scan_points(sim.scan(), lid.angles(), lid.range_min, lid.range_max)


def _perturb(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a, d = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 0.5)
    dyaw = math.radians(rng.uniform(3, 10)) * rng.choice([-1, 1])
    return np.array([truth[0] + d * math.cos(a), truth[1] + d * math.sin(a), wrap_angle(truth[2] + dyaw)])


def _track(sim, world, rng: np.random.Generator, cfg: RegistrationConfig, steps: int,
           times: dict[str, list[float]], odo_sigma: tuple[float, float] = (0.01, 0.3)) -> tuple[float, float] | None:
    """Scan-rate tracking along a free straight line; returns the final (translation, yaw) error."""
    start = _free_pose(world, rng, clearance=0.6)
    if start is None:
        return None
    best, heading = 0.0, 0.0
    for h in np.linspace(-math.pi, math.pi, 24, endpoint=False):  # the freest direction
        along = start[:2] + np.outer(np.arange(1, steps + 1) * 0.05, [math.cos(h), math.sin(h)])
        free = int(np.argmin(np.append(world.clearance(along) > 0.35, False)))
        if free > best:
            best, heading = free, h
    if best < 20:
        return None
    sigma = np.array([odo_sigma[0], odo_sigma[0], math.radians(odo_sigma[1])])  # per 5 cm step
    prior = np.diag(1.0 / sigma**2)
    pm = PointMap(cfg)
    truth_prev, pts = _scan_at(sim, np.array([start[0], start[1], heading]))
    est = truth_prev.copy()
    pm.add(se2_apply(est, pts))
    for i in range(1, int(best)):
        pose = np.array([start[0] + 0.05 * i * math.cos(heading), start[1] + 0.05 * i * math.sin(heading),
                         heading + 0.3 * math.sin(0.05 * i)])
        truth, pts = _scan_at(sim, pose)
        odo = se2_between(truth_prev, truth) + rng.normal(0.0, sigma)
        init = se2_compose(est, odo)
        t0, c0 = time.perf_counter(), time.thread_time()
        res = register(pts, pm.target(), init, prior, cfg)
        t1, c1 = time.perf_counter(), time.thread_time()
        est = res.pose if res.ok else init
        pm.add(se2_apply(est, pts))
        pm.crop((float(est[0]), float(est[1])), cfg.map_radius)
        pm.target()
        t2, c2 = time.perf_counter(), time.thread_time()
        for key, v in (("reg", t1 - t0), ("reg_cpu", c1 - c0), ("map", t2 - t1), ("map_cpu", c2 - c1)):
            times.setdefault(key, []).append(1e3 * v)
        truth_prev = truth
    d = se2_between(truth_prev, est)
    return math.hypot(d[0], d[1]), abs(float(wrap_angle(d[2])))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=3, help="held-out worlds per family")
    ap.add_argument("--anchors", type=int, default=4, help="local maps per world")
    ap.add_argument("--trials", type=int, default=5, help="perturbed initial guesses per map")
    ap.add_argument("--track-steps", type=int, default=80, help="scans per tracking run (5 cm apart)")
    ap.add_argument("--noise", type=float, default=None,
                    help="lidar range noise std (m); default: the sim's LidarParams default")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--odo-sigma", type=float, nargs=2, default=(0.01, 0.3), metavar=("M", "DEG"),
                    help="tracking: odometry noise std per 5 cm step (translation m, yaw deg), also the prior")
    args = ap.parse_args(argv)

    from sim.pybullet_agv import AgvSim

    lidar = LidarParams() if args.noise is None else LidarParams(noise_std=args.noise)
    cfg = RegistrationConfig()
    print(f"lidar: {lidar.beams} beams, noise_std {lidar.noise_std} m, range {lidar.range_max} m; "
          f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows: dict[tuple[str, str], Stats] = {}
    track_rows: list[tuple[str, dict[str, list[float]], float]] = []
    for family in args.families.split(","):
        times: dict[str, list[float]] = {}
        finals: list[tuple[float, float]] = []
        for seed in heldout_seeds(args.worlds):
            world = make_world(family, seed)
            sim = AgvSim(world, lidar=lidar, seed=seed)
            rng = np.random.default_rng(seed)
            try:
                for _ in range(args.anchors):
                    anchor = _free_pose(world, rng)
                    if anchor is None:
                        continue
                    map_pts = []
                    for k in range(4):
                        p = anchor if k == 0 else _free_pose(world, rng, near=anchor, radius=1.0)
                        if p is None:
                            continue
                        truth, pts = _scan_at(sim, p)
                        map_pts.append(se2_apply(truth, pts))
                    q = _free_pose(world, rng, near=anchor, radius=0.5)
                    if q is None:
                        continue
                    truth, scan = _scan_at(sim, q)
                    cands = Candidates(np.concatenate(map_pts), cfg)
                    methods = cands.methods()
                    for _ in range(args.trials):
                        init = _perturb(truth, rng)
                        for name, fn in methods.items():
                            t0, c0 = time.perf_counter(), time.thread_time()
                            est = fn(scan, init)
                            ms, cpu = 1e3 * (time.perf_counter() - t0), 1e3 * (time.thread_time() - c0)
                            rows.setdefault((family, name), Stats()).add(est, truth, ms, cpu)
                    # the floor set by the data, not by convergence: the same matcher started at the truth
                    t0, c0 = time.perf_counter(), time.thread_time()
                    est = methods["toponav-2d"](scan, truth)
                    ms, cpu = 1e3 * (time.perf_counter() - t0), 1e3 * (time.thread_time() - c0)
                    rows.setdefault((family, "toponav-2d from truth"), Stats()).add(est, truth, ms, cpu)
                fin = _track(sim, world, rng, cfg, args.track_steps, times, tuple(args.odo_sigma))
                if fin is not None:
                    finals.append(fin)
            finally:
                sim.close()
        if times:
            track_rows.append((family, times, float(np.max([f[0] for f in finals]))))

    print("\nRegistration from a perturbed guess (0.2-0.5 m, 3-10 deg); success = < 5 cm and < 1 deg; "
          "wall ms and this thread's CPU ms (excludes other processes) per call")
    print(f"{'family':10s} {'method':22s} {'trials':>6s} {'success':>8s} {'med err cm':>10s} {'med err deg':>11s} "
          f"{'med ms':>7s} {'p95 ms':>7s} {'med cpu':>7s} {'p95 cpu':>7s}")
    for (family, name), st in sorted(rows.items()):
        succ, et, er, med, p95, cmed, cp95 = st.row()
        print(f"{family:10s} {name:22s} {len(st.ms):6d} {100 * succ:7.0f}% {100 * et:10.2f} {er:11.2f} "
              f"{med:7.2f} {p95:7.2f} {cmed:7.2f} {cp95:7.2f}")
    print("\nScan-rate tracking with toponav-2d (5 cm per scan, odometry prior, map add + crop + target after each "
          "scan); ms per scan, CPU ms in brackets")
    print(f"{'family':10s} {'scans':>6s} {'register med':>16s} {'register p95':>16s} {'map med':>16s} "
          f"{'map mean':>16s} {'map p95':>16s} {'worst final err cm':>18s}")
    for family, t, fin in track_rows:
        def p95(v: list[float]) -> float:
            return float(np.percentile(v, 95))

        cells = ""
        for fn, key in ((np.median, "reg"), (p95, "reg"), (np.median, "map"), (np.mean, "map"), (p95, "map")):
            cell = f"{fn(t[key]):.2f} ({fn(t[key + '_cpu']):.2f})"
            cells += f" {cell:>16s}"
        print(f"{family:10s} {len(t['reg']):6d}{cells} {100 * fin:18.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

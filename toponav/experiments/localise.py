"""``toponav localise``: the mapper's localisation re-run offline on a recorded bag, against its ground truth.

Why it exists: every localisation default in docs/localisation.md was chosen by replaying recorded runs in
process, and a user tuning the mapper for their robot needs the same loop: the scans and wheel odometry the
mapper node paired (:func:`read_scans`), through ``TopoMap.update`` with the package defaults and any ``--set``
overrides, and the corrected trajectory's APE / RPE against ground truth by evo (the metrics of
``toponav bench localisation``). Deterministic: the same bag and settings give the same numbers.

Two switches take the recorded run apart:
  * ``--true-odometry`` feeds the ground-truth pose as odometry: what is left is the matcher's own error;
  * ``--raycast WORLD --seed S`` replaces each recorded scan by an exact 2-D ray cast of that world at the true
    pose (the twin's, with the simulated lidar's noise or ``--noise-std 0 --noise-range 0``): the simulator's 3-D
    effects (hills, ground returns, chassis tilt) drop out.

Besides APE it reports the *shape* of the error: the scale and rotation about the start that best map the true
trajectory onto the corrected one (least squares) and what remains after them. A map built too small shows as a
negative scale long before its APE says why (that is how the lagging scan-matching target was found).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: (stamp, odometry pose at the scan, ranges, angle_min, angle_increment, range_min, range_max)
Scan = tuple[float, tuple[float, float, float], np.ndarray, float, float, float, float]


def read_scans(bag: str | Path, limit: int = 0) -> list[Scan]:
    """(stamp, wheel-odometry pose at the scan, ranges, angle_min, angle_increment, range_min, range_max) of the
    bag's scans (the first ``limit``, 0 = all) that have odometry at their stamp, paired as the mapper node pairs
    them (:class:`~toponav.localisation.frames.OdomHistory`: interpolated, else the nearest within 0.25 s)."""
    from toponav.bags import open_bag
    from toponav.evaluation import fastcdr
    from toponav.evaluation.run import in_namespace
    from toponav.geometry import quaternion_to_yaw
    from toponav.localisation.frames import OdomHistory
    from toponav.mapping.config import TopoMapperConfig

    odom: list[tuple[float, float, float, float]] = []
    scans: list[tuple[float, np.ndarray, float, float, float, float]] = []
    with open_bag(bag) as b:
        local = in_namespace(b.topics, b.custom_data.get("toponav.namespace", "/"))
        rec = {name: r for r, name in local.items()}
        want = {rec[t] for t in ("/odom", "/scan") if t in rec}
        for topic, _stamp, data in b.messages(want):
            if local[topic] == "/odom":
                t, p, _ = fastcdr.odometry(data)
                odom.append((t, p[0], p[1], quaternion_to_yaw(*p[3:7])))
            else:
                t, amin, ainc, rmin, rmax, ranges = fastcdr.laser_scan(data)
                scans.append((t, np.array(ranges, dtype=np.float64), amin, ainc, rmin, rmax))
    if not odom or not scans:
        return []
    age = TopoMapperConfig().max_odom_age  # the node's default
    history = OdomHistory(max_skew=0.0, max_gap=2 * age, max_age=age, history=None)
    for t, x, y, yaw in sorted(odom):
        history.add(t, (x, y, yaw))
    out = []
    for t, ranges, amin, ainc, rmin, rmax in sorted(scans, key=lambda s: s[0]):
        pose = history.at(t)
        if pose is not None:
            out.append((t, (float(pose[0]), float(pose[1]), float(pose[2])), ranges, amin, ainc, rmin, rmax))
            if limit and len(out) >= limit:
                break
    return out


def poses_at(t: np.ndarray, xyyaw: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """(N, 3) poses of a trajectory (``t``, ``xyyaw``) at ``stamps``: linear in x, y and the unwrapped yaw, held
    at the ends."""
    t = np.asarray(t, dtype=np.float64)
    xyyaw = np.asarray(xyyaw, dtype=np.float64)
    yaw = np.unwrap(xyyaw[:, 2])
    out = np.column_stack([np.interp(stamps, t, xyyaw[:, 0]), np.interp(stamps, t, xyyaw[:, 1]),
                           np.interp(stamps, t, yaw)])
    out[:, 2] = (out[:, 2] + math.pi) % (2 * math.pi) - math.pi
    return out


@dataclass
class Shape:
    """Scale and rotation about the start that best map the true path onto the estimate (least squares), and the
    RMS of what they leave (m)."""

    scale: float  # fraction: -0.01 = the estimate is 1 % smaller than the truth
    rotation: float  # rad
    residual: float


def shape_fit(true_xy: np.ndarray, est_xy: np.ndarray) -> Shape:
    """Fit est - true ~ (s I + r J)(true - true[0]) (small scale s and rotation r; J the 90-degree rotation)."""
    d = np.asarray(true_xy, dtype=np.float64) - true_xy[0]
    e = np.asarray(est_xy, dtype=np.float64) - true_xy
    a = np.zeros((2 * len(d), 2))
    a[0::2, 0], a[1::2, 0] = d[:, 0], d[:, 1]
    a[0::2, 1], a[1::2, 1] = -d[:, 1], d[:, 0]
    sol, *_ = np.linalg.lstsq(a, e.ravel(), rcond=None)
    res = (e.ravel() - a @ sol).reshape(-1, 2)
    return Shape(scale=float(sol[0]), rotation=float(sol[1]), residual=float(np.sqrt((res**2).sum(axis=1).mean())))


def raycast_scans(scans: list[Scan], true: np.ndarray, world: Any, noise_std: float, noise_range: float,
                  seed: int = 0) -> list[Scan]:
    """``scans`` with their ranges replaced by the twin's exact 2-D ray cast of ``world`` at the ``true`` poses,
    with the simulated lidar's noise model (same beams, limits and stamps). ValueError when the recorded beams are
    not evenly spread as :class:`~toponav.robot.LidarParams` lays them out."""
    from toponav.robot import LidarParams
    from toponav.sim.twin import VecAgvTwin

    if not scans:
        return []
    _, _, ranges, amin, ainc, rmin, rmax = scans[0]
    beams = len(ranges)
    full = abs(beams * ainc - 2 * math.pi) < 1e-4  # LaserScan fields are float32
    fov = 2 * math.pi if full else min((beams - 1) * ainc, 2 * math.pi)
    lidar = LidarParams(beams=beams, fov=fov, range_min=rmin, range_max=rmax, noise_std=noise_std,
                        noise_range=noise_range)
    angles = lidar.angles()
    if not np.allclose(angles, amin + ainc * np.arange(beams), atol=1e-4):
        raise ValueError(f"the bag's beams (angle_min {amin:.4f}, increment {ainc:.6f}, {beams} beams) are not laid "
                         "out as the simulated lidar's: cannot ray-cast the same scan")
    twin = VecAgvTwin(world, 1, lidar=lidar, seed=seed)
    out = []
    for (t, odom, _r, a0, inc, lo, hi), pose in zip(scans, true, strict=True):
        cast = twin.scan(np.asarray(pose, dtype=np.float64).reshape(1, 3))[0].astype(np.float64)
        out.append((t, odom, cast, a0, inc, lo, hi))
    return out


@dataclass
class Replay:
    """What :func:`replay` produced: the corrected pose per scan, how many scans matched, the update times (ms,
    wall and thread CPU) and the places the map ended with."""

    stamps: np.ndarray
    poses: np.ndarray
    matched: int
    update_ms: np.ndarray
    update_cpu_ms: np.ndarray
    places: int


def replay(scans: list[Scan], cfg: Any, odometry: np.ndarray | None = None) -> Replay:
    """Every scan through a fresh ``TopoMap(cfg)``, with the recorded odometry or ``odometry`` (N, 3) instead.

    The one home of this loop: ``bench localisation`` times the mapper update with it."""
    from toponav.mapping import TopoMap

    tm = TopoMap(cfg)
    stamps, poses, wall, cpu = [], [], [], []
    matched = 0
    for k, (t, pose, ranges, amin, ainc, rmin, rmax) in enumerate(scans):
        odom = tuple(odometry[k]) if odometry is not None else pose
        angles = amin + ainc * np.arange(len(ranges))
        c0, t0 = time.thread_time(), time.perf_counter()
        res = tm.update(odom, ranges, angles, t, range_min=rmin, range_max=rmax)
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
        matched += not any("matching failed" in m for m in res.messages)
        stamps.append(t)
        poses.append(np.asarray(res.pose, dtype=np.float64).copy())
    return Replay(np.asarray(stamps), np.asarray(poses).reshape(-1, 3), matched, np.asarray(wall), np.asarray(cpu),
                  tm.num_places)


def kiss_icp_replay(scans: list[Scan], odometry: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The same scans through KISS-ICP (Vizzo et al., "KISS-ICP: In defense of point-to-point ICP", RA-L 2023;
    ``kiss-icp`` on PyPI): the library baseline beside our localiser. Returns (stamps, (N, 3) poses in ``odom``).

    Set up as a wheeled robot would run it: the planar returns at z = 0 (its maintainers' advice for 2-D
    scans), the odometry increment since the last scan (the recorded odometry, or ``odometry`` (N, 3) instead)
    as each frame's initial guess instead of its constant-velocity model (what kinematic-icp, its wheeled
    sibling, does), no deskewing (the simulated lidar takes each scan at one instant), its own defaults
    otherwise (voxel = range_max / 100, adaptive threshold), one thread. It is scan-to-map odometry: no odometry
    prior in the least squares, no loop closure. A scan with fewer than 10 returns advances on the odometry
    increment alone."""
    from kiss_icp.config import KISSConfig
    from kiss_icp.kiss_icp import KissICP

    from toponav.geometry import matrix_to_se2, se2_between, se2_to_matrix

    if not scans:
        return np.zeros(0), np.zeros((0, 3))
    cfg = KISSConfig()
    cfg.data.deskew = False
    far = [s[6] for s in scans if np.isfinite(s[6])]
    near = [s[5] for s in scans if np.isfinite(s[5])]
    cfg.data.max_range = float(max(far)) if far else 100.0
    cfg.data.min_range = float(min(near)) if near else 0.0
    cfg.mapping.voxel_size = cfg.data.max_range / 100.0
    cfg.registration.max_num_threads = 1
    kiss = KissICP(cfg)
    odom = [s[1] for s in scans] if odometry is None else [tuple(p) for p in odometry]
    base = se2_to_matrix(odom[0])
    poses = np.zeros((len(scans), 3))
    for k, (_t, _pose, ranges, amin, ainc, rmin, rmax) in enumerate(scans):
        if k:
            kiss.last_delta = se2_to_matrix(se2_between(np.asarray(odom[k - 1]), np.asarray(odom[k])))
        r = np.asarray(ranges, dtype=np.float64)
        a = amin + ainc * np.arange(len(r))
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(r) & (r >= rmin) & (r < rmax - 1e-6)
        if ok.sum() >= 10:
            pts = np.column_stack([r[ok] * np.cos(a[ok]), r[ok] * np.sin(a[ok]), np.zeros(int(ok.sum()))])
            kiss.register_frame(pts, np.zeros(len(pts)))
        else:
            kiss.last_pose = kiss.last_pose @ kiss.last_delta
        poses[k] = matrix_to_se2(base @ kiss.last_pose)
    return np.array([s[0] for s in scans]), poses


def kiss_icp_errors(scans: list[Scan], ref_tum: Path, out: Path, odometry: np.ndarray | None = None) -> Any:
    """KISS-ICP's trajectory on ``scans`` (:func:`kiss_icp_replay`, ``odometry`` as there) written to
    ``out / kiss_icp.tum`` and scored against the ground truth's TUM file ``ref_tum`` (the one the corrected pose
    was scored against) by the same evo call: an ``ErrorStats``."""
    from toponav.evaluation.trajectory_error import Trajectory, trajectory_error, write_tum

    stamps, poses = kiss_icp_replay(scans, odometry)
    est = write_tum(Trajectory(name="kiss_icp", topic="kiss_icp", t=stamps, xyyaw=poses), out / "kiss_icp.tum")
    return trajectory_error(ref_tum, est)


def _overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--set {item!r}: want NAME=VALUE, e.g. localisation.registration.target_incremental="
                             "false")
        out[name.strip()] = value.strip()
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="a recorded run with /scan, /odom and ground_truth/pose (a simulated run)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a mapper parameter, as in the mapper's YAML (e.g. localisation.map_add_distance=0.2); "
                             "repeatable")
    parser.add_argument("--scans", type=int, default=0, help="replay only the first N scans (0 = all)")
    parser.add_argument("--true-odometry", action="store_true",
                        help="feed the ground-truth pose as odometry (the matcher's own error remains)")
    parser.add_argument("--raycast", metavar="WORLD", default="",
                        help="replace the scans by exact 2-D ray casts of this world (family, barn:<i>, map:<name> "
                             "or JSON) at the true poses; with --seed, the run's world seed")
    parser.add_argument("--seed", type=int, default=0, help="world seed for --raycast")
    parser.add_argument("--noise-std", type=float, default=None,
                        help="--raycast range noise, constant part (m); default the simulated lidar's")
    parser.add_argument("--noise-range", type=float, default=None,
                        help="--raycast range noise, fraction of the range; default the simulated lidar's")
    parser.add_argument("--noise-seed", type=int, default=0,
                        help="--raycast noise draw: another seed, another realisation of the same noise model")
    parser.add_argument("--kiss-icp", action="store_true",
                        help="also run KISS-ICP (kiss-icp, PyPI) on the same scans and odometry and print its errors")
    parser.add_argument("--out", default="", help="folder for the TUM files (default: a temporary one)")


def run(ns: argparse.Namespace) -> int:
    from toponav import config
    from toponav.config import ConfigError
    from toponav.evaluation.trajectory_error import (
        REFERENCE,
        Trajectory,
        TrajectoryError,
        read_trajectories,
        trajectory_error,
        write_tum,
    )
    from toponav.mapping import MapperConfig
    from toponav.robot import LidarParams

    bag = Path(ns.bag)
    if not bag.exists():
        print(f"localise: {bag} does not exist")
        return 2
    try:
        overrides = _overrides(ns.set)
        cfg = config.build(MapperConfig, overrides)
    except (ValueError, ConfigError) as exc:
        print(f"localise: {exc}")
        return 2
    if ns.scans < 0:
        print(f"localise: --scans must be >= 0, got {ns.scans}")
        return 2
    try:
        trajs = read_trajectories(bag)
        scans = read_scans(bag, ns.scans)
    except Exception as exc:  # a corrupt or foreign bag: say so, do not trace back
        print(f"localise: cannot read {bag}: {type(exc).__name__}: {exc}")
        return 2
    gt = trajs.trajectories.get(REFERENCE)
    if gt is None or len(gt.t) < 2:
        print(f"localise: {bag} has no ground truth to measure against (a simulated run records ground_truth/pose)")
        return 2
    if not scans:
        print(f"localise: {bag} has no scans with odometry within 0.25 s")
        return 2
    stamps = np.array([s[0] for s in scans])
    true = poses_at(gt.t, gt.xyyaw, stamps)
    mode = []
    if ns.raycast:
        from toponav.worlds import WorldError, make_world

        lid = LidarParams()
        noise_std = lid.noise_std if ns.noise_std is None else ns.noise_std
        noise_range = lid.noise_range if ns.noise_range is None else ns.noise_range
        try:
            world = make_world(ns.raycast, seed=ns.seed)
            scans = raycast_scans(scans, true, world, noise_std, noise_range, ns.noise_seed)
        except (ValueError, WorldError) as exc:
            print(f"localise: --raycast: {exc}")
            return 2
        mode.append(f"scans ray-cast in {world.name} at the true poses (noise {noise_std} m + {noise_range} r, "
                    f"draw {ns.noise_seed})")
    if ns.true_odometry:
        mode.append("ground-truth odometry")
    out = Path(ns.out) if ns.out else Path(tempfile.mkdtemp(prefix="toponav_localise_"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"localise: --out {out}: {exc}")
        return 2
    result = replay(scans, cfg, true if ns.true_odometry else None)
    est = Trajectory(name="pose", topic="localise", t=result.stamps, xyyaw=result.poses)
    ref_file, est_file = write_tum(gt, out / "ground_truth.tum"), write_tum(est, out / "localised.tum")
    try:
        stats = trajectory_error(ref_file, est_file)
    except TrajectoryError as exc:
        print(f"localise: {exc}")
        return 2
    shape = shape_fit(true[:, :2], result.poses[:, :2])
    changed = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "package defaults"
    print(f"{bag}: {len(scans)} scans ({'; '.join(mode) or 'as recorded'}), mapper: {changed}")
    rpe = f"{stats.rpe_rmse:.3f} m" if stats.rpe_rmse is not None else f"- ({stats.note})"
    print(f"  APE RMSE {stats.ape_rmse:.3f} m (max {stats.ape_max:.3f} m), RPE per 10 m {rpe}; scans matched "
          f"{result.matched}/{len(scans)}")
    print(f"  shape about the start: scale {shape.scale * 100:+.2f} %, rotation {math.degrees(shape.rotation):+.2f} "
          f"deg, {shape.residual:.3f} m left after both")
    print(f"  mapper update {np.median(result.update_ms):.2f} ms median, {np.percentile(result.update_ms, 95):.1f} ms "
          f"p95 (wall); TUM files in {out}")
    if ns.kiss_icp:
        try:
            kiss = kiss_icp_errors(scans, ref_file, out, true if ns.true_odometry else None)
        except ImportError as exc:
            print(f"localise: --kiss-icp: {exc} (bash scripts/setup.sh installs kiss-icp)")
            return 2
        rpe = f"{kiss.rpe_rmse:.3f} m" if kiss.rpe_rmse is not None else f"- ({kiss.note})"
        print(f"  KISS-ICP on the same scans and odometry: APE RMSE {kiss.ape_rmse:.3f} m (max {kiss.ape_max:.3f} m), "
              f"RPE per 10 m {rpe}")
    return 0

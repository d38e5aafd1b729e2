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

Several bags (``toponav localise <runs>/*/bag --jobs 2``) are replayed with the same settings, each in its own
process, and summarised per world family: how many runs of 150 m or more stay within the benchmark's 0.10 m, mean
and max APE. A localiser change moves single runs both ways by about the run-to-run spread (docs/localisation.md),
so it is judged on many recorded runs at once: ``--json`` keeps a result, ``--baseline`` prints another beside it.

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

APE_LIMIT = 0.10  # m: issue 17's bound on the corrected pose's APE RMSE (``bench localisation`` judges by it too)
LONG_RUN = 150.0  # m: runs this long are judged


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
    parser.add_argument("bag", nargs="+",
                        help="recorded runs with /scan, /odom and ground_truth/pose (simulated runs); several bags are "
                             "replayed with the same settings and summarised per world family")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a mapper parameter, as in the mapper's YAML (e.g. localisation.map_add_distance=0.2); "
                             "repeatable")
    parser.add_argument("--scans", type=int, default=0, help="replay only the first N scans (0 = all)")
    parser.add_argument("--true-odometry", action="store_true",
                        help="feed the ground-truth pose as odometry (the matcher's own error remains)")
    parser.add_argument("--raycast", metavar="WORLD", default="",
                        help="replace the scans by exact 2-D ray casts of this world (family, barn:<i>, map:<name> "
                             "or JSON) at the true poses, with --seed the run's world seed; 'bag': the world and "
                             "seed the bag's metadata names (the only choice with several bags)")
    parser.add_argument("--seed", type=int, default=0, help="world seed for --raycast")
    parser.add_argument("--noise-std", type=float, default=None,
                        help="--raycast range noise, constant part (m); default the simulated lidar's")
    parser.add_argument("--noise-range", type=float, default=None,
                        help="--raycast range noise, fraction of the range; default the simulated lidar's")
    parser.add_argument("--noise-seed", type=int, default=0,
                        help="--raycast noise draw: another seed, another realisation of the same noise model")
    parser.add_argument("--kiss-icp", action="store_true",
                        help="also run KISS-ICP (kiss-icp, PyPI) on the same scans and odometry and print its errors")
    parser.add_argument("--out", default="",
                        help="folder for the TUM files (default: a temporary one); with several bags one sub-folder "
                             "per bag")
    parser.add_argument("--jobs", type=int, default=1,
                        help="bags replayed at once (processes); each replay is single-threaded and deterministic, "
                             "so the numbers do not depend on it")
    parser.add_argument("--json", default="", metavar="FILE",
                        help="write every bag's result (APE, RPE, shape, driven distance) to FILE, e.g. to compare "
                             "settings later with --baseline")
    parser.add_argument("--baseline", default="", metavar="FILE",
                        help="an earlier --json: print each bag's APE before -> now and the per-family counts of "
                             "both")


@dataclass
class BagResult:
    """One replayed bag: its errors and shape, the lines the report prints for it, or why it could not be replayed
    (``error``; the numbers are then NaN)."""

    bag: str
    world: str = ""  # "forest-1000001", "map-depot-0": from the bag's metadata, else its folder
    family: str = ""  # "forest", "map:depot"
    scans: int = 0
    matched: int = 0
    driven: float = math.nan  # m, the ground-truth path's length (evo, as bench localisation reports it)
    ape: float = math.nan
    ape_max: float = math.nan
    rpe: float = math.nan
    scale: float = math.nan
    rotation: float = math.nan  # rad
    residual: float = math.nan
    update_ms: float = math.nan  # median wall time of the mapper update
    kiss_ape: float = math.nan
    lines: tuple[str, ...] = ()
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "lines"}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


@dataclass
class ReplayOptions:
    """Everything but the bag that decides a replay (picklable, for the worker processes)."""

    overrides: dict[str, str]
    scans: int = 0
    true_odometry: bool = False
    raycast: str = ""
    seed: int = 0
    noise_std: float | None = None
    noise_range: float | None = None
    noise_seed: int = 0
    kiss_icp: bool = False
    out: str = ""


def bag_world(bag: str | Path) -> tuple[str, str, int | None]:
    """(world name, family, seed) of a recorded run: the recorder's metadata (``toponav.world``, ``toponav.seed``),
    else the bag folder's parent name (``<runs>/forest-1000001/bag``, as the benchmarks lay them out)."""
    from toponav.bags import open_bag

    spec, seed = "", None
    try:
        with open_bag(bag) as b:
            spec = b.custom_data.get("toponav.world", "")
            raw = b.custom_data.get("toponav.seed", "")
            seed = int(raw) if raw not in ("", "-1") else None
    except Exception:  # an unreadable bag says so when its scans are read
        pass
    path = Path(bag).resolve()
    folder = path.parent.name if path.name == "bag" else path.name
    if not spec:
        fam, _, tail = folder.rpartition("-")
        return folder, (fam if fam and tail.isdigit() else folder), None
    name = spec.replace(":", "-") + (f"-{seed}" if seed is not None else "")
    return name, spec, seed


def replay_bag(bag: str, opts: ReplayOptions) -> BagResult:
    """Replay one bag with ``opts`` and measure it; never raises on a bad bag (``error`` says why)."""
    from toponav import config
    from toponav.evaluation.trajectory_error import (
        REFERENCE,
        Trajectory,
        TrajectoryError,
        path_length,
        read_trajectories,
        trajectory_error,
        write_tum,
    )
    from toponav.mapping import MapperConfig
    from toponav.robot import LidarParams

    res = BagResult(bag=str(bag))
    path = Path(bag)
    if not path.exists():
        res.error = f"{bag} does not exist"
        return res
    res.world, res.family, bag_seed = bag_world(path)
    cfg = config.build(MapperConfig, opts.overrides)  # checked by the caller: raises only on a caller's bug
    try:
        trajs = read_trajectories(path)
        scans = read_scans(path, opts.scans)
    except Exception as exc:  # a corrupt or foreign bag: say so, do not trace back
        res.error = f"cannot read {bag}: {type(exc).__name__}: {exc}"
        return res
    gt = trajs.trajectories.get(REFERENCE)
    if gt is None or len(gt.t) < 2:
        res.error = f"{bag} has no ground truth to measure against (a simulated run records ground_truth/pose)"
        return res
    if not scans:
        res.error = f"{bag} has no scans with odometry within 0.25 s"
        return res
    stamps = np.array([s[0] for s in scans])
    true = poses_at(gt.t, gt.xyyaw, stamps)
    mode = []
    if opts.raycast:
        from toponav.worlds import WorldError, make_world

        lid = LidarParams()
        noise_std = lid.noise_std if opts.noise_std is None else opts.noise_std
        noise_range = lid.noise_range if opts.noise_range is None else opts.noise_range
        spec, seed = opts.raycast, opts.seed
        if spec == "bag":
            if res.family == res.world:
                res.error = f"--raycast bag: {bag} names no world in its metadata (toponav.world)"
                return res
            spec, seed = res.family, bag_seed or 0
        try:
            world = make_world(spec, seed=seed)
            scans = raycast_scans(scans, true, world, noise_std, noise_range, opts.noise_seed)
        except (ValueError, WorldError) as exc:
            res.error = f"--raycast: {exc}"
            return res
        mode.append(f"scans ray-cast in {world.name} at the true poses (noise {noise_std} m + {noise_range} r, "
                    f"draw {opts.noise_seed})")
    if opts.true_odometry:
        mode.append("ground-truth odometry")
    out = Path(opts.out) if opts.out else Path(tempfile.mkdtemp(prefix="toponav_localise_"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        res.error = f"--out {out}: {exc}"
        return res
    result = replay(scans, cfg, true if opts.true_odometry else None)
    est = Trajectory(name="pose", topic="localise", t=result.stamps, xyyaw=result.poses)
    ref_file, est_file = write_tum(gt, out / "ground_truth.tum"), write_tum(est, out / "localised.tum")
    try:
        stats = trajectory_error(ref_file, est_file)
    except TrajectoryError as exc:
        res.error = str(exc)
        return res
    shape = shape_fit(true[:, :2], result.poses[:, :2])
    res.scans, res.matched = len(scans), result.matched
    res.driven = path_length(ref_file)  # as bench localisation measures it, so the same runs are judged
    res.ape, res.ape_max = stats.ape_rmse, stats.ape_max
    res.rpe = stats.rpe_rmse if stats.rpe_rmse is not None else math.nan
    res.scale, res.rotation, res.residual = shape.scale, shape.rotation, shape.residual
    res.update_ms = float(np.median(result.update_ms))
    changed = ", ".join(f"{k}={v}" for k, v in opts.overrides.items()) or "package defaults"
    rpe = f"{stats.rpe_rmse:.3f} m" if stats.rpe_rmse is not None else f"- ({stats.note})"
    lines = [f"{bag}: {len(scans)} scans ({'; '.join(mode) or 'as recorded'}), mapper: {changed}",
             f"  APE RMSE {stats.ape_rmse:.3f} m (max {stats.ape_max:.3f} m), RPE per 10 m {rpe}; scans matched "
             f"{result.matched}/{len(scans)}",
             f"  shape about the start: scale {shape.scale * 100:+.2f} %, rotation {math.degrees(shape.rotation):+.2f} "
             f"deg, {shape.residual:.3f} m left after both",
             f"  mapper update {res.update_ms:.2f} ms median, {np.percentile(result.update_ms, 95):.1f} "
             f"ms p95 (wall); TUM files in {out}"]
    if opts.kiss_icp:
        try:
            kiss = kiss_icp_errors(scans, ref_file, out, true if opts.true_odometry else None)
        except ImportError as exc:
            res.error = f"--kiss-icp: {exc} (bash scripts/setup.sh installs kiss-icp)"
            res.lines = tuple(lines)
            return res
        res.kiss_ape = kiss.ape_rmse
        rpe = f"{kiss.rpe_rmse:.3f} m" if kiss.rpe_rmse is not None else f"- ({kiss.note})"
        lines.append(f"  KISS-ICP on the same scans and odometry: APE RMSE {kiss.ape_rmse:.3f} m (max "
                     f"{kiss.ape_max:.3f} m), RPE per 10 m {rpe}")
    res.lines = tuple(lines)
    return res


def summary_lines(results: list[BagResult], baseline: dict[str, float] | None = None) -> list[str]:
    """The per-bag table and the per-family counts of runs within :data:`APE_LIMIT`: of the runs of :data:`LONG_RUN`
    m or more (the ones ``bench localisation`` judges; shorter ones are listed, not counted), or of every run when
    none is that long. ``baseline`` maps a bag path to an earlier APE: its column and counts are printed beside."""
    ok = [r for r in results if not r.error]
    lines = ["", f"{len(ok)} of {len(results)} bags replayed; APE RMSE limit {APE_LIMIT} m on runs of >= "
             f"{LONG_RUN:.0f} m",
             "| world | bag | driven (m) | APE (m) | " + ("before (m) | " if baseline else "") +
             "scale (%) | rotation (deg) | left after both (m) |",
             "|---|---|---:|---:|" + ("---:|" if baseline else "") + "---:|---:|---:|"]
    for r in sorted(ok, key=lambda r: (r.family, r.world, r.bag)):
        before = baseline.get(r.bag, math.nan) if baseline else math.nan
        lines.append(f"| {r.world} | {r.bag} | {r.driven:.1f} | {r.ape:.3f} | " +
                     (f"{before:.3f} | " if baseline else "") +
                     f"{r.scale * 100:+.2f} | {math.degrees(r.rotation):+.2f} | {r.residual:.3f} |")
    judged = [r for r in ok if r.driven >= LONG_RUN]
    if not judged:  # short replays (--scans): count them all, and say so
        judged = ok
        lines += ["", f"(no run of >= {LONG_RUN:.0f} m: the counts below are over every replayed run)"]
    lines += ["", "| family | runs | within " + f"{APE_LIMIT} m | mean APE (m) | max APE (m) |" +
              (" before: within | before: mean | before: max |" if baseline else ""),
              "|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if baseline else "")]
    for fam in [*sorted({r.family for r in judged}), "all"]:
        runs = [r for r in judged if fam in ("all", r.family)]
        ape = np.array([r.ape for r in runs])
        row = f"| {fam} | {len(runs)} | {int((ape <= APE_LIMIT).sum())} | {ape.mean():.3f} | {ape.max():.3f} |"
        if baseline:
            old = np.array([baseline.get(r.bag, math.nan) for r in runs])
            old = old[np.isfinite(old)]
            row += (f" {int((old <= APE_LIMIT).sum())}/{len(old)} | {old.mean():.3f} | {old.max():.3f} |" if len(old)
                    else " - | - | - |")
        lines.append(row)
    for r in results:
        if r.error:
            lines.append(f"not replayed: {r.error}")
    return lines


def run(ns: argparse.Namespace) -> int:
    import json
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from toponav import config
    from toponav.config import ConfigError
    from toponav.mapping import MapperConfig

    try:
        overrides = _overrides(ns.set)
        config.build(MapperConfig, overrides)
    except (ValueError, ConfigError) as exc:
        print(f"localise: {exc}")
        return 2
    if ns.scans < 0:
        print(f"localise: --scans must be >= 0, got {ns.scans}")
        return 2
    if ns.jobs < 1:
        print(f"localise: --jobs must be >= 1, got {ns.jobs}")
        return 2
    bags = list(ns.bag)
    if len(bags) > 1 and ns.raycast not in ("", "bag"):
        print(f"localise: --raycast {ns.raycast} names one world for {len(bags)} bags: use --raycast bag (each bag's "
              "own world) or replay them one at a time")
        return 2
    baseline: dict[str, float] | None = None
    if ns.baseline:
        try:
            rows = json.loads(Path(ns.baseline).read_text())["bags"]
            baseline = {str(r["bag"]): float(r["ape"]) for r in rows if r.get("ape") is not None}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"localise: --baseline {ns.baseline}: not an earlier --json ({type(exc).__name__}: {exc})")
            return 2
    outs = [ns.out] if len(bags) == 1 else (
        [str(Path(ns.out) / f"{i:03d}-{bag_world(b)[0]}") for i, b in enumerate(bags)] if ns.out else [""] * len(bags))
    opts = [ReplayOptions(overrides=overrides, scans=ns.scans, true_odometry=ns.true_odometry, raycast=ns.raycast,
                          seed=ns.seed, noise_std=ns.noise_std, noise_range=ns.noise_range, noise_seed=ns.noise_seed,
                          kiss_icp=ns.kiss_icp, out=o) for o in outs]
    results: list[BagResult] = []
    if ns.jobs > 1 and len(bags) > 1:
        with ProcessPoolExecutor(max_workers=min(ns.jobs, len(bags)), mp_context=get_context("spawn")) as pool:
            for res in pool.map(replay_bag, bags, opts):
                results.append(_report(res))
    else:
        results = [_report(replay_bag(b, o)) for b, o in zip(bags, opts, strict=True)]
    if len(bags) > 1:
        print("\n".join(summary_lines(results, baseline)))
    if ns.json:
        try:
            Path(ns.json).write_text(json.dumps({"overrides": overrides, "true_odometry": ns.true_odometry,
                                                 "raycast": ns.raycast, "bags": [r.to_json() for r in results]},
                                                indent=1))
        except OSError as exc:
            print(f"localise: --json {ns.json}: {exc}")
            return 2
    return 2 if any(r.error for r in results) else 0


def _report(res: BagResult) -> BagResult:
    """Print one bag's lines (or its error) as it finishes."""
    for line in res.lines:
        print(line)
    if res.error:
        print(f"localise: {res.error}")
    return res

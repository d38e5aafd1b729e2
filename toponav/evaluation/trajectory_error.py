"""Trajectory error of a recorded run: the localiser's corrected pose and the odometry against ground truth.

Up to four trajectories are read from one bag (relative names, resolved in the bag's recording namespace as
:func:`toponav.evaluation.run.load_run` does):

==============  ======================  ===============================================  ==================
name            topic                   message                                          frame
==============  ======================  ===============================================  ==================
ground_truth    ``ground_truth/pose``   geometry_msgs/PoseStamped (sim only)             map
odom            ``odom``                nav_msgs/Odometry (the sim's odometry with       odom (= map at t=0
                                        ``odometry: wheels``: wheels + gyro)             in the sim)
wheel_odom      ``wheel_odom``          nav_msgs/Odometry (sim only: the wheels alone,   odom
                                        yaw from their difference)
pose            ``pose``                geometry_msgs/PoseWithCovarianceStamped: the     map
                                        mapper's corrected pose, stamped with the scan
==============  ======================  ===============================================  ==================

Each is written as a TUM file (``t x y z qx qy qz qw``) with evo's own writer, and the metrics are computed by
the `evo <https://github.com/MichaelGrupp/evo>`_ library on those files read back, so a user gets the same
numbers from the exports with evo's command line (``evo_ape tum ground_truth.tum odom.tum``, see
docs/evaluation.md). We do not compute the metrics ourselves. The exports are **planar** (z = 0, a yaw-only
quaternion): the stack localises in 2-D (REP 105's ``map`` for a ground robot), and the forest's terrain
height and tilt, which the ground truth carries and no 2-D estimate can, would otherwise count as error.

* **APE**: absolute translation error, RMSE over all poses matched by stamp, with **no alignment**: the
  corrected pose and wheel odometry both start at the true start pose (odom = map at t=0 in the sim), so the
  error is what the planner and controller see, not a best-fit shape error. ``start_error`` (the APE at the
  first matched pose) checks that premise.
* **RPE per 10 m**: relative translation error over segments of 10 m of ground-truth path (evo's RPE with
  ``delta=10, delta_unit=meters``), RMSE over the segments. ``all_pairs=True``: every pose starts a segment
  (evo keeps the pairs whose path distance is within 10 % of 10 m), so the number does not depend on where
  non-overlapping segments happen to start, as KITTI's odometry metric uses every starting frame;
  ``pairs_from_reference=True``: the segments are cut on the ground truth's path, so the corrected pose and
  odometry are judged on the same segments. RMSE / 10 m is the drift rate (0.05 m per 10 m = 0.5 %).

A run without ``pose`` (no localiser running) reports it as missing, not as zero.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toponav.bags import open_bag
from toponav.config import param
from toponav.evaluation import fastcdr
from toponav.evaluation.run import in_namespace
from toponav.geometry import quaternion_to_yaw

#: trajectory name -> (topic relative to the robot's namespace, decoder name in :mod:`fastcdr`)
SOURCES: dict[str, tuple[str, str]] = {
    "ground_truth": ("/ground_truth/pose", "pose_stamped"),
    "odom": ("/odom", "odometry"),
    "wheel_odom": ("/wheel_odom", "odometry"),
    "pose": ("/pose", "pose_with_covariance_stamped"),
}
REFERENCE = "ground_truth"
ESTIMATES = ("pose", "odom", "wheel_odom")


class TrajectoryError(ValueError):
    """A bag that cannot be evaluated at all (no ground truth): the message says why."""


@dataclass
class TrajectoryErrorConfig:
    """How trajectories are matched and segmented (evo's options; see the module docstring)."""

    rpe_delta: float = param(10.0, "RPE segment length (m of ground-truth path): drift per 10 m, the scale of "
                             "a room or an aisle, where a drifting pose shows before the APE grows", min=0.1)
    rpe_delta_tol: float = param(0.1, "a segment's ground-truth path may differ from rpe_delta by this fraction "
                                 "(evo's rel_delta_tol; all_pairs mode)", min=0.0, max=1.0)
    max_time_diff: float = param(0.01, "largest stamp difference (s) of a matched pose pair: the sim stamps ground "
                                 "truth, odometry and scans on the same steps, so matches are exact", min=0.0)


@dataclass
class Trajectory:
    """A planar trajectory: stamps (s, increasing, unique) and (x, y, yaw) rows."""

    name: str
    topic: str
    t: np.ndarray
    xyyaw: np.ndarray


@dataclass
class BagTrajectories:
    """What :func:`read_trajectories` found: the trajectories present (a missing topic is absent) and why any
    poses were dropped."""

    bag: str
    trajectories: dict[str, Trajectory] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ErrorStats:
    """APE / RPE of one estimate against the ground truth (m); ``rpe_rmse`` None when the run is shorter than
    one segment (the reason in ``note``)."""

    ape_rmse: float
    ape_max: float
    start_error: float
    matched: int
    rpe_rmse: float | None = None
    rpe_segments: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _yaw(q: tuple[float, ...]) -> float:
    return quaternion_to_yaw(q[0], q[1], q[2], q[3])


def _decode(kind: str, data: bytes) -> tuple[float, float, float, float]:
    """(t, x, y, yaw) of one message of the given decoder kind."""
    if kind == "odometry":
        t, p, _ = fastcdr.odometry(data)
        return t, p[0], p[1], _yaw(p[3:7])
    t, x, y, _z, *q = getattr(fastcdr, kind)(data)
    return t, x, y, _yaw(q)


def _clean(name: str, topic: str, rows: list[tuple[float, float, float, float]], warnings: list[str]
           ) -> Trajectory | None:
    """Rows -> a trajectory sorted by stamp, non-finite poses and repeated stamps dropped (with a warning)."""
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        warnings.append(f"{topic}: {int((~finite).sum())} non-finite poses dropped")
        arr = arr[finite]
    if not len(arr):
        return None
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    keep = np.r_[np.diff(arr[:, 0]) > 0, True]  # of a repeated stamp, the last message wins
    if not keep.all():
        warnings.append(f"{topic}: {int((~keep).sum())} poses with a repeated stamp dropped")
        arr = arr[keep]
    return Trajectory(name, topic, arr[:, 0], arr[:, 1:])


def read_trajectories(path: str | Path, *, namespace: str | None = None) -> BagTrajectories:
    """Read ground truth, wheel odometry and the corrected pose from a bag (each only when recorded).

    BagError when the bag cannot be opened; a malformed message is skipped with a warning.
    """
    out = BagTrajectories(bag=str(path))
    with open_bag(path) as bag:
        out.warnings.extend(bag.warnings)
        ns = bag.custom_data.get("toponav.namespace", "/") if namespace is None else namespace
        local = in_namespace(bag.topics, ns)
        by_local = {name: rec for rec, name in local.items() if bag.topics[rec].known}
        wanted = {by_local[topic]: (name, kind) for name, (topic, kind) in SOURCES.items() if topic in by_local}
        rows: dict[str, list[tuple[float, float, float, float]]] = {rec: [] for rec in wanted}
        bad = 0
        for rec, _stamp, data in bag.messages(wanted):
            try:
                rows[rec].append(_decode(wanted[rec][1], data))
            except (fastcdr.CdrError, ValueError) as exc:
                bad += 1
                if bad <= 3:
                    out.warnings.append(f"{path}: skipped a malformed {rec} message ({exc})")
        if bad:
            out.warnings.append(f"{path}: {bad} malformed pose messages skipped")
    for rec, (name, _) in wanted.items():
        traj = _clean(name, rec, rows[rec], out.warnings)
        if traj is not None:
            out.trajectories[name] = traj
    return out


def _evo_trajectory(traj: Trajectory) -> Any:
    from evo.core.trajectory import PoseTrajectory3D

    n = len(traj.t)
    xyz = np.zeros((n, 3))
    xyz[:, :2] = traj.xyyaw[:, :2]
    half = traj.xyyaw[:, 2] / 2.0
    wxyz = np.zeros((n, 4))
    wxyz[:, 0], wxyz[:, 3] = np.cos(half), np.sin(half)
    return PoseTrajectory3D(positions_xyz=xyz, orientations_quat_wxyz=wxyz, timestamps=traj.t.copy())


def write_tum(traj: Trajectory, path: str | Path) -> Path:
    """One planar trajectory as a TUM file, written by evo (``t x y 0 0 0 sin(yaw/2) cos(yaw/2)``)."""
    from evo.tools import file_interface

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file_interface.write_tum_trajectory_file(path, _evo_trajectory(traj))
    return path


def export_tum(trajs: BagTrajectories, folder: str | Path) -> dict[str, Path]:
    """Every trajectory of ``trajs`` as ``<folder>/<name>.tum``."""
    return {name: write_tum(t, Path(folder) / f"{name}.tum") for name, t in trajs.trajectories.items()}


def path_length(tum: str | Path) -> float:
    """Length (m) of a TUM trajectory, by evo."""
    from evo.tools import file_interface

    return float(file_interface.read_tum_trajectory_file(tum).path_length)


def trajectory_error(ref_tum: str | Path, est_tum: str | Path, cfg: TrajectoryErrorConfig | None = None
                     ) -> ErrorStats:
    """APE (translation, no alignment) and RPE per ``rpe_delta`` m of ``est_tum`` against ``ref_tum``, by evo.

    TrajectoryError when no pose of the estimate matches a ground-truth stamp.
    """
    from evo import main_ape, main_rpe
    from evo.core import sync
    from evo.core.metrics import PoseRelation, Unit
    from evo.tools import file_interface

    cfg = cfg or TrajectoryErrorConfig()
    ref = file_interface.read_tum_trajectory_file(ref_tum)
    est = file_interface.read_tum_trajectory_file(est_tum)
    try:
        ref, est = sync.associate_trajectories(ref, est, max_diff=cfg.max_time_diff)
    except sync.SyncException as exc:
        raise TrajectoryError(f"{est_tum}: no pose matches a ground-truth stamp within {cfg.max_time_diff} s "
                              f"({exc})") from None
    ape = main_ape.ape(copy.deepcopy(ref), copy.deepcopy(est), PoseRelation.translation_part, align=False,
                       correct_scale=False)
    errors = ape.np_arrays["error_array"]
    out = ErrorStats(ape_rmse=float(ape.stats["rmse"]), ape_max=float(ape.stats["max"]),
                     start_error=float(errors[0]), matched=len(errors))
    try:
        rpe = main_rpe.rpe(copy.deepcopy(ref), copy.deepcopy(est), PoseRelation.translation_part,
                           delta=cfg.rpe_delta, delta_unit=Unit.meters, rel_delta_tol=cfg.rpe_delta_tol,
                           all_pairs=True, pairs_from_reference=True, align=False)
    except Exception as exc:  # evo raises its MetricsException (and others) when no segment is that long
        out.note = f"no RPE: {type(exc).__name__}: {exc}"
        return out
    out.rpe_rmse = float(rpe.stats["rmse"])
    out.rpe_segments = len(rpe.np_arrays["error_array"])
    return out


@dataclass
class RunErrors:
    """One bag's trajectory errors: ``estimates`` maps each of :data:`ESTIMATES` to its stats, or None when the
    bag does not have it (the reason in ``missing``)."""

    bag: str
    path_length: float
    duration: float
    estimates: dict[str, ErrorStats | None]
    missing: dict[str, str]
    tum: dict[str, str]
    warnings: list[str]

    def ape(self, name: str) -> float | None:
        stats = self.estimates.get(name)
        return None if stats is None else stats.ape_rmse

    def rpe(self, name: str) -> float | None:
        stats = self.estimates.get(name)
        return None if stats is None else stats.rpe_rmse

    def to_dict(self) -> dict[str, Any]:
        return {"bag": self.bag, "path_length": self.path_length, "duration": self.duration,
                "estimates": {k: (v.to_dict() if v else None) for k, v in self.estimates.items()},
                "missing": self.missing, "tum": self.tum, "warnings": self.warnings}


def evaluate_bag(bag: str | Path, out: str | Path, cfg: TrajectoryErrorConfig | None = None, *,
                 namespace: str | None = None) -> RunErrors:
    """Read the bag, export the TUM files into ``out`` and compute every estimate's error against ground truth.

    TrajectoryError when the bag has no ground truth (``ground_truth/pose``: simulated runs only); an estimate
    without poses, or without any matching ground-truth stamp, is reported missing with the reason.
    """
    trajs = read_trajectories(bag, namespace=namespace)
    gt = trajs.trajectories.get(REFERENCE)
    if gt is None or len(gt.t) < 2:
        raise TrajectoryError(f"{bag}: no ground truth ({SOURCES[REFERENCE][0]}) to measure against: trajectory "
                              "error needs a simulated run")
    files = export_tum(trajs, out)
    estimates: dict[str, ErrorStats | None] = {}
    missing: dict[str, str] = {}
    for name in ESTIMATES:
        topic = SOURCES[name][0].lstrip("/")
        if name not in files:
            estimates[name], missing[name] = None, f"not recorded: the bag has no {topic} messages"
            continue
        try:
            estimates[name] = trajectory_error(files[REFERENCE], files[name], cfg)
        except TrajectoryError as exc:
            estimates[name], missing[name] = None, str(exc)
    return RunErrors(bag=str(bag), path_length=path_length(files[REFERENCE]), duration=float(gt.t[-1] - gt.t[0]),
                     estimates=estimates, missing=missing, tum={k: str(v) for k, v in files.items()},
                     warnings=trajs.warnings)


def ratio(worse: float | None, better: float | None) -> float | None:
    """``worse / better`` (how many times lower ``better`` is), None when either is missing; inf for 0."""
    if worse is None or better is None:
        return None
    return math.inf if better == 0 else worse / better


def main(argv: list[str] | None = None) -> int:
    """``python -m toponav.evaluation.trajectory_error BAG [OUT]``: export the TUM files and print the errors."""
    import argparse
    import json

    from toponav.bags import BagError

    parser = argparse.ArgumentParser(prog="python -m toponav.evaluation.trajectory_error", description=__doc__.split(
        "\n")[0])
    parser.add_argument("bag")
    parser.add_argument("out", nargs="?", default="", help="folder for the TUM files (default: <bag>_tum)")
    parser.add_argument("--namespace", default=None, help="robot namespace of a multi-robot bag")
    args = parser.parse_args(argv)
    try:
        res = evaluate_bag(args.bag, args.out or args.bag.rstrip("/") + "_tum", namespace=args.namespace)
    except (TrajectoryError, BagError) as exc:
        print(f"error: {exc}")
        return 1
    print(json.dumps(res.to_dict(), indent=1))
    return 0


__all__ = ["ESTIMATES", "REFERENCE", "SOURCES", "BagTrajectories", "ErrorStats", "RunErrors", "Trajectory",
           "TrajectoryError", "TrajectoryErrorConfig", "evaluate_bag", "export_tum", "path_length", "ratio",
           "read_trajectories", "trajectory_error", "write_tum"]


if __name__ == "__main__":
    raise SystemExit(main())

"""``toponav bench localisation``: drift of the stack's corrected pose against raw wheel odometry, full-stack runs.

Every run is a full ROS stack run like ``toponav bench stack``'s (:class:`toponav.ros_nodes.stack_run.StackRunner`:
launch/sim_navigation.launch.xml through toponav's launcher, real node processes on a private ROS_DOMAIN_ID, in
lockstep, a bag recorded), with the sim's **odometry** (``sim_node: odometry: wheels``: wheels for distance, a
gyro for yaw, as a real AGV base reports it) and the sim's sensor noise defaults, on held-out worlds (seeds >=
1000000) of several families plus a map_server map.

**Long runs, as a robot at work drives them: shuttle missions.** A goal-directed run drives 20-130 m, too
short to show drift, so each run is a delivery shuttle: drive to the world's goal, then back to the start
(home), then to the goal again, ..., each leg a goal on ``goal_pose`` as a user sends it (RViz's 2D Goal
Pose), the planner and mapper keeping their graph between legs. The run ends at the first arrival after the
ground-truth driven distance reaches ``--distance`` (150 m), after ``--max-legs`` legs, when a leg fails
(its sim-time budget, ``toponav bench stack``'s rule, is spent, the stack fails, ...) or after
``--max-sim-time``. The return legs revisit the places of the way out, which is when loop closures happen,
as on a real AGV going back and forth between stations. The first leg is the world's goal, sent by the sim
before step 1 (lockstep), later legs by the runner. A leg on which the planner reports ``done`` (it believes
it arrived) for 5 s sim while the ground truth is farther than the tolerance counts as **missed**, and the
robot goes on to its next leg, as a robot with a drifted pose would; "legs reached" counts the true arrivals.

Per run, from the bag (:mod:`toponav.evaluation.trajectory_error`: TUM exports, metrics by evo): driven distance
(ground-truth path length), APE translation RMSE with no alignment of the corrected pose (topic ``pose``), of raw
wheel odometry (``wheel_odom``: the wheels alone, yaw from their difference) and of the odometry the stack is fed
(``odom``: wheels + gyro), the ratios, RPE translation RMSE per 10 m of each, and whether every leg reached its
goal. A bag without ``pose`` (the mapper publishes no corrected pose) shows ``n/a`` for it. The summary checks the
issue's criteria on the runs of >= 150 m: corrected APE RMSE <= 0.10 m, and >= 10x lower than raw wheel odometry
in the same run (the table gives the ratio to the gyro-aided ``odom`` beside it).

**Mapper update time**: the scans and wheel odometry of the longest recorded run are replayed in process through
``TopoMap(MapperConfig()).update`` (the mapper's defaults, correction included once it is in them), once at the
bag's beam count (the demo's lidar) and once resampled to 360 beams (nearest beam), median and p95 ms.

Writes ``bench_localisation.md`` / ``.json`` into ``--out`` (default runs/bench_localisation), each run's bag,
logs and TUM files under ``--out/<world>/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from toponav.config import param
from toponav.experiments.bench_stack import WorldCase, build_matrix, sim_budget
from toponav.experiments.localise import APE_LIMIT, LONG_RUN, read_scans, replay
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.ros_nodes.stack_run import Navigator, StackOutcome, StackRunConfig, StackRunner, _read_planner

FAMILIES = ("warehouse", "maze", "forest")
MAPS = ("map:depot",)
RATIO_LIMIT = 10.0  # wheel-odometry APE / corrected APE, at least
TIMING_BEAMS = 360
DONE_WAIT = 5.0  # sim s of the planner reporting "done" off target before the shuttle goes on (it ticks at 2 Hz)


@dataclass
class LocalisationBenchOptions:
    """``toponav bench localisation``'s options (``--quick`` and ``--verbose`` are switches, added by hand)."""

    seeds: int = param(3, "held-out seeds per family (--quick: the first seed of the first family only)", min=0)
    first_seed: int = param(0, "offset of the first held-out seed (1000000 + this)", min=0)
    families: str = param(",".join(FAMILIES), "families of the matrix, comma-separated ('' = none)")
    worlds: str = param(",".join(MAPS), "extra worlds, comma-separated: map_server maps (map:<name>, a map.yaml) "
                        "or world JSON files, run after the family seeds ('' = none)")
    distance: float = param(LONG_RUN, "shuttle between goal and start until the ground-truth driven distance "
                            "reaches this (m); the pass criteria judge runs of >= 150 m", min=0.0)
    max_legs: int = param(12, "at most this many goal/home legs per run", min=1)
    max_sim_time: float = param(900.0, "a run ends after this much sim time (s), whatever its legs", min=10.0)
    tolerance: float = param(0.5, "goal tolerance (m)", min=0.05)
    rtf: float | None = param(None, "sim real_time_factor (None: 0 = as fast as the nodes allow, in lockstep)")
    params_file: str = param("", "base parameter YAML (empty: the shipped config/sim_navigation.yaml); wheel "
                             "odometry is set on top")
    kiss_icp: bool = param(True, "also run KISS-ICP (kiss-icp, PyPI: point-to-point scan-to-map odometry) on each "
                           "run's recorded scans, the run's odometry as its initial guess: a library baseline in "
                           "the same runs")
    timing_scans: int = param(3000, "scans replayed per beam count for the mapper update timing, from the start of "
                              "the longest run (5 min at 10 Hz; 0 = no timing)", min=0)
    out: str = param("runs/bench_localisation", "output folder (table, JSON, bags, TUM files)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, LocalisationBenchOptions)
    parser.add_argument("--quick", action="store_true", help="two runs (the first seed of the first family and the "
                        "first extra world), for a check of the pipeline in a few minutes")
    parser.add_argument("--verbose", action="store_true", help="show every node's output")


def matrix(args: LocalisationBenchOptions, quick: bool = False) -> list[WorldCase]:
    """The runs: ``seeds`` held-out seeds of each family, then the extra worlds; ``quick``: the first of each."""
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    if quick:
        return build_matrix(1 if families else 0, families[:1], worlds[:1], args.first_seed)
    return build_matrix(args.seeds, families, worlds, args.first_seed)


# -- the shuttle mission -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shuttle:
    """What a shuttle run drives: goal and home in turn until ``distance`` m, at most ``max_legs`` legs and
    ``max_sim_time`` s; ``leg_budget``: sim s per leg."""

    home: tuple[float, float]
    distance: float
    max_legs: int
    max_sim_time: float
    leg_budget: float


class ShuttleNavigator(Navigator):
    """Nav2-simple-commander style navigator that sends goal, home, goal, ... (see the module docstring).

    Each leg is :meth:`Navigator.follow_goal` with that leg's goal and budget; the ground-truth pose the
    navigator polls adds up the driven distance that decides when to stop (the bag's is reported).
    """

    def __init__(self, *args: Any, shuttle: Shuttle, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shuttle = shuttle
        self.driven = 0.0
        self.legs: list[dict[str, Any]] = []
        self.completed = False  # the mission ended by distance, leg count or sim time, not by a failure
        self.believed = False  # this leg: the planner says it arrived, the ground truth disagrees
        self._last_xy: tuple[float, float] | None = None
        self._done_since: float | None = None

    def _look(self) -> bool:
        ok = super()._look()
        if self.pose is not None:
            xy = (self.pose.pose.position.x, self.pose.pose.position.y)
            if self._last_xy is not None:
                self.driven += math.hypot(xy[0] - self._last_xy[0], xy[1] - self._last_xy[1])
            self._last_xy = xy
        return ok and not (self.started and self._arrived_off_target())

    def _arrived_off_target(self) -> bool:
        """The planner has reported ``done`` (goal reached, in its own pose) for DONE_WAIT sim s while the
        ground truth is not within tolerance (else follow_goal has already ended the leg): the robot would
        go on to its next task, so the leg ends, counted as missed. Without this a drifted odometry stops the
        mission at the first leg for 90 s and ends it."""
        _read_planner(self.probe, self.res)
        if self.res.planner_state != "done" or self.sim_t - (self.res.goal_sent_at or 0.0) < 1.0:
            self._done_since = None
            return False
        self._done_since = self.sim_t if self._done_since is None else self._done_since
        if self.sim_t - self._done_since < DONE_WAIT:
            return False
        self.believed = True
        self.res.reason = (f"the planner believes it reached ({self.cfg.goal[0]:.1f}, {self.cfg.goal[1]:.1f}); "
                           f"ground truth farther than {self.cfg.tolerance} m")
        return True

    def _send_leg(self, goal: tuple[float, float]) -> None:
        self.publish_goal(goal)
        self.res.goal_sent_at = self.sim_t
        self.say(f"[{self.cfg.tag}] leg {len(self.legs) + 1}: goal ({goal[0]:.1f}, {goal[1]:.1f}) sent at sim "
                 f"t={self.sim_t:.1f} s after {self.driven:.0f} m")

    def follow_goal(self) -> None:
        res, sh, first = self.res, self.shuttle, self.cfg
        t0 = res.goal_sent_at or 0.0
        targets = (first.goal, sh.home)
        for leg in range(sh.max_legs):
            left = sh.max_sim_time - (self.sim_t - t0)
            if left <= 0:
                break
            self.cfg = replace(first, goal=targets[leg % 2], budget=min(sh.leg_budget, left))
            if leg:
                self._send_leg(self.cfg.goal)
            res.reached, self.believed, self._done_since = False, False, None
            super().follow_goal()
            self.legs.append({"goal": list(self.cfg.goal), "reached": res.reached, "missed": self.believed,
                              "sim_time": self.sim_t, "driven": self.driven, "reason": res.reason})
            if not (res.reached or self.believed) and (self.interrupted or self.wall_limit or res.hung
                                                        or self.launch_reason):
                break  # the stack itself failed; a leg that only ran out of time goes on to the next target
                # (a navigation stall is not what this bench measures, and the pose keeps being corrected)
            if self.driven >= sh.distance:
                self.completed = True
                break
        else:
            self.completed = True
        if self.legs and self.legs[-1]["sim_time"] - t0 >= sh.max_sim_time:
            self.completed = True
        self.cfg = first
        res.goal_sent_at = t0  # CPU per sim second covers the whole mission
        res.reached = bool(self.legs) and all(leg["reached"] for leg in self.legs)
        res.time_to_goal = (self.legs[-1]["sim_time"] - t0) if res.reached else None

    def failure(self) -> str:
        """Navigator's category; a mission that drove its distance but missed goals (its pose drifted, the
        planner stopped off target) is 'missed goal' rather than the fallback 'timeout'."""
        base = super().failure()
        missed = sum(bool(leg["missed"]) for leg in self.legs)
        return f"missed goal ({missed} of {len(self.legs)} legs)" if base == "timeout" and self.completed \
            and missed else base


def run_shuttle(cfg: StackRunConfig, shuttle: Shuttle, *, console: Any = None, verbose: bool = False,
                stop: threading.Event | None = None) -> tuple[StackOutcome, list[dict[str, Any]]]:
    """One shuttle run: :class:`StackRunner` with the shuttle navigator in place of its one-goal Navigator.

    Returns the outcome and the legs driven.
    """
    made: list[ShuttleNavigator] = []

    def factory(*args: Any, **kwargs: Any) -> ShuttleNavigator:
        made.append(ShuttleNavigator(*args, shuttle=shuttle, **kwargs))
        return made[-1]

    outcome = StackRunner(cfg, console=console, verbose=verbose, stop=stop, navigator=factory).run()
    return outcome, (made[0].legs if made else [])


# -- rows, summary, table ------------------------------------------------------------------------------------
def run_row(case: WorldCase, outcome: dict[str, Any], legs: list[dict[str, Any]], errors: dict[str, Any] | None,
            error: str = "") -> dict[str, Any]:
    """One JSON-ready row: the outcome, the legs, and the trajectory errors (``errors``: RunErrors.to_dict())."""
    from toponav.evaluation.trajectory_error import ratio

    est = (errors or {}).get("estimates", {})

    def stat(name: str, key: str) -> float | None:
        return (est.get(name) or {}).get(key)

    ape_pose, ape_odom = stat("pose", "ape_rmse"), stat("odom", "ape_rmse")
    ape_wheels, ape_kiss = stat("wheel_odom", "ape_rmse"), stat("kiss_icp", "ape_rmse")
    return {
        "world": case.label, "spec": case.spec, "seed": case.seed,
        "distance": (errors or {}).get("path_length"), "duration": (errors or {}).get("duration"),
        # the criterion's ratio: raw wheel odometry (``wheel_odom``; bags from before the sim's gyro have only
        # ``odom``, which was wheels alone then) over the corrected pose; ``ratio_odom``: the stack's own
        # odometry input (wheels + gyro) over the corrected pose
        "ape_pose": ape_pose, "ape_odom": ape_odom, "ape_wheels": ape_wheels,
        "ratio": ratio(ape_wheels if ape_wheels is not None else ape_odom, ape_pose),
        "ratio_odom": ratio(ape_odom, ape_pose),
        "ape_kiss": ape_kiss, "ratio_kiss": ratio(ape_kiss, ape_pose), "rpe_kiss": stat("kiss_icp", "rpe_rmse"),
        "rpe_pose": stat("pose", "rpe_rmse"), "rpe_odom": stat("odom", "rpe_rmse"),
        "rpe_wheels": stat("wheel_odom", "rpe_rmse"),
        "start_error_pose": stat("pose", "start_error"), "start_error_odom": stat("odom", "start_error"),
        "missing": (errors or {}).get("missing", {}),
        "reached": bool(outcome.get("reached")), "legs": len(legs),
        "legs_reached": sum(bool(x["reached"]) for x in legs),
        "failure": outcome.get("failure", ""), "reason": outcome.get("reason", ""), "error": error,
        "sim_time": outcome.get("sim_time"), "rtf": outcome.get("rtf"), "wall_time": outcome.get("wall_time"),
        "cpu_per_sim_s": outcome.get("cpu_per_sim_s") or {},
    }


def verdict(rows: Sequence[dict[str, Any]], *, long_run: float = LONG_RUN, ape_limit: float = APE_LIMIT,
            ratio_limit: float = RATIO_LIMIT) -> dict[str, Any]:
    """The issue's criteria on the runs of >= ``long_run`` m: ``passed`` True/False, or None (n/a) when no long
    run has a corrected pose to judge; ``text`` says which and why."""
    long = [r for r in rows if (r.get("distance") or 0.0) >= long_run]
    judged = [r for r in long if r.get("ape_pose") is not None]
    out: dict[str, Any] = {"long_runs": len(long), "judged": len(judged), "passed": None}
    if not long:
        out["text"] = f"n/a: no run drove {long_run:.0f} m or more"
        return out
    if not judged:
        out["text"] = (f"n/a: none of the {len(long)} runs of >= {long_run:.0f} m has a corrected pose (topic `pose` "
                       "not recorded: the mapper publishes none yet)")
        return out
    worst_ape = max(r["ape_pose"] for r in judged)
    ratios = [r["ratio"] for r in judged if r["ratio"] is not None]
    worst_ratio = min(ratios) if ratios else None
    ape_ok = worst_ape <= ape_limit
    ratio_ok = worst_ratio is not None and worst_ratio >= ratio_limit and len(ratios) == len(judged)
    out.update(worst_ape=worst_ape, worst_ratio=worst_ratio, passed=ape_ok and ratio_ok and len(judged) == len(long))
    missing = f"; {len(long) - len(judged)} long runs without a corrected pose" if len(judged) < len(long) else ""
    out["text"] = (f"{'PASS' if out['passed'] else 'FAIL'}: {len(judged)} runs of >= {long_run:.0f} m: corrected "
                   f"APE RMSE max {worst_ape:.3f} m (<= {ape_limit:.2f} m: {'yes' if ape_ok else 'no'}), wheel "
                   f"odometry / corrected min x{_f(worst_ratio, '{:.1f}')} (>= {ratio_limit:.0f}: "
                   f"{'yes' if ratio_ok else 'no'}){missing}")
    return out


def _f(v: Any, fmt: str = "{:.3f}") -> str:
    if v is None:
        return "n/a"
    return "inf" if isinstance(v, float) and math.isinf(v) else fmt.format(v)


def markdown(rows: Sequence[dict[str, Any]], header: str, timing: dict[str, Any] | None = None) -> str:
    """The per-run table, the verdict line and the mapper timing."""
    lines = [header, "",
             "| world | driven (m) | APE corrected (m) | APE wheel odom (m) | wheel odom / corrected | "
             "APE odom, wheels + gyro (m) | odom / corrected | APE KISS-ICP (m) | KISS-ICP / corrected | "
             "RPE/10 m corrected (m) | RPE/10 m wheel odom (m) | RPE/10 m odom (m) | RPE/10 m KISS-ICP (m) | "
             "legs reached | failure |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['world']} | {_f(r['distance'], '{:.1f}')} | {_f(r['ape_pose'])} | "
                     f"{_f(r['ape_wheels'])} | {_f(r['ratio'], 'x{:.1f}')} | {_f(r['ape_odom'])} | "
                     f"{_f(r['ratio_odom'], 'x{:.1f}')} | {_f(r['ape_kiss'])} | "
                     f"{_f(r['ratio_kiss'], 'x{:.1f}')} | {_f(r['rpe_pose'])} | {_f(r['rpe_wheels'])} | "
                     f"{_f(r['rpe_odom'])} | {_f(r['rpe_kiss'])} | "
                     f"{r['legs_reached']}/{r['legs']}{' (all)' if r['reached'] else ''} | "
                     f"{r['failure'] or r['error'] or '–'} |")
    notes = sorted({m for r in rows for m in (r.get("missing") or {}).values()})
    if notes:
        lines += ["", "n/a: " + "; ".join(notes) + "."]
    lines += ["", f"**Criteria** (corrected APE RMSE <= {APE_LIMIT:.2f} m on runs of >= {LONG_RUN:.0f} m, and >= "
                  f"{RATIO_LIMIT:.0f}x lower than raw wheel odometry in the same runs): {verdict(rows)['text']}."]
    if timing:
        lines += ["", timing_markdown(timing)]
    return "\n".join(lines) + "\n"


# -- mapper update timing ------------------------------------------------------------------------------------
def resample(ranges: np.ndarray, amin: float, ainc: float, beams: int) -> tuple[np.ndarray, np.ndarray]:
    """``ranges`` over the same field of view at ``beams`` beams, each the nearest recorded beam (no invented
    ranges: interpolating across an edge would put points in free space). Returns (ranges, angles)."""
    n = len(ranges)
    fov = ainc * n
    inc = fov / beams
    angles = amin + inc * np.arange(beams)
    idx = np.clip(np.rint((angles - amin) / ainc).astype(np.int64), 0, n - 1) if ainc else np.zeros(beams, np.int64)
    return ranges[idx], angles


def time_updates(scans: Sequence[tuple], beams: int | None = None) -> dict[str, float]:
    """Replay ``scans`` (:func:`read_scans`) through a fresh ``TopoMap(MapperConfig())``
    (:func:`toponav.experiments.localise.replay`), at the recorded beam count (``beams`` None) or resampled; wall and
    thread-CPU ms per update (median, p95) and the beam count."""
    from toponav.mapping import MapperConfig

    if not scans:
        return {}
    if beams is not None:
        scans = [(t, pose, resample(ranges, amin, ainc, beams)[0], amin, ainc * len(ranges) / beams, rmin, rmax)
                 for t, pose, ranges, amin, ainc, rmin, rmax in scans]
    run = replay(list(scans), MapperConfig())
    w, c = run.update_ms, run.update_cpu_ms
    return {"beams": len(scans[-1][2]), "updates": len(w), "median_ms": float(np.median(w)),
            "p95_ms": float(np.percentile(w, 95)),
            "cpu_median_ms": float(np.median(c)), "cpu_p95_ms": float(np.percentile(c, 95)), "places": run.places}


def mapper_timing(bag: str | Path, scans_limit: int) -> dict[str, Any]:
    """:func:`time_updates` at the bag's beam count and at 360 beams (once when they are the same)."""
    scans = read_scans(bag, scans_limit)
    if not scans:
        return {"bag": str(bag), "error": "no scans with odometry in the bag"}
    out: dict[str, Any] = {"bag": str(bag), "load_before": os.getloadavg()[0], "runs": [time_updates(scans)]}
    if out["runs"][0]["beams"] != TIMING_BEAMS:
        out["runs"].append(time_updates(scans, TIMING_BEAMS))
    out["load_after"] = os.getloadavg()[0]
    return out


def timing_markdown(timing: dict[str, Any]) -> str:
    if timing.get("error"):
        return f"Mapper update timing: not measured ({timing['error']})."
    lines = [f"Mapper update with the mapper's defaults (`TopoMap(MapperConfig()).update`), the scans and wheel "
             f"odometry of `{timing['bag']}` replayed in process (load average {timing['load_before']:.2f} before, "
             f"{timing['load_after']:.2f} after; wall time on a shared machine, thread CPU beside it):", "",
             "| beams | updates | median (ms) | p95 (ms) | CPU median (ms) | CPU p95 (ms) | places |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in timing["runs"]:
        lines.append(f"| {r['beams']} | {r['updates']} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} | "
                     f"{r['cpu_median_ms']:.2f} | {r['cpu_p95_ms']:.2f} | {r['places']} |")
    return "\n".join(lines)


# -- the bench -----------------------------------------------------------------------------------------------
def _header(args: LocalisationBenchOptions, quick: bool, started: datetime, machine: str, rows: list, planned: int,
            lockstep: bool, rtf: float) -> str:
    took = (datetime.now(UTC) - started).total_seconds()
    cmd = ("toponav bench localisation " + " ".join(sys.argv[3:])) if sys.argv[1:3] == ["bench", "localisation"] \
        else "toponav bench localisation" + (" --quick" if quick else "")
    partial = "" if len(rows) >= planned else f" **Partial: {len(rows)} of {planned} runs so far.**"
    return (f"## toponav bench localisation\n\nCommand `{cmd.strip()}`, {started.strftime('%Y-%m-%d %H:%M UTC')}, "
            f"{took / 60:.1f} min, on {machine}; load average {os.getloadavg()[0]:.2f} at the end. Lockstep "
            f"{'on' if lockstep else 'off'}, real_time_factor {rtf:g}, sim odometry: wheels + gyro. Shuttle runs: "
            f"goal, home, goal, ... until {args.distance:.0f} m driven (at most {args.max_legs} legs, "
            f"{args.max_sim_time:.0f} s sim). APE: translation RMSE against ground truth, no alignment; RPE: "
            f"translation RMSE over 10 m segments of ground-truth path (evo, all pairs). Corrected pose = topic "
            f"`pose`, raw wheel odometry = `wheel_odom`, odometry (wheels + gyro, the stack's input) = `odom`."
            + partial)


def _write(out: Path, rows: list[dict[str, Any]], header: str, timing: dict[str, Any] | None, meta: dict) -> str:
    md = markdown(rows, header, timing)
    (out / "bench_localisation.md").write_text(md)
    (out / "bench_localisation.json").write_text(json.dumps(
        {**meta, "rows": rows, "verdict": verdict(rows), "timing": timing}, indent=1, default=float))
    return md


def run(ns: argparse.Namespace) -> int:
    from toponav.experiments.bench_all import machine
    from toponav.experiments.bench_stack import _lockstep_declared
    from toponav.ros_nodes.stack_run import FULL_STACK, default_rtf, missing_nodes, stop_on_signals

    args = dataclass_from_args(LocalisationBenchOptions, ns)  # ConfigError: toponav.cli says it, exit 2
    cases = matrix(args, ns.quick)
    if not cases:
        print("[bench localisation] no worlds: give --families and/or --worlds", file=sys.stderr)
        return 2
    if missing := missing_nodes(FULL_STACK):
        print(f"[bench localisation] cannot run: node(s) {', '.join(missing)} not installed", file=sys.stderr)
        return 3
    lockstep = _lockstep_declared()
    rtf = default_rtf(args.rtf, lockstep)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started, host = datetime.now(UTC), machine()
    print(f"[bench localisation] {len(cases)} runs: {', '.join(c.label for c in cases)}; shuttle to "
          f"{args.distance:.0f} m; wheel odometry; lockstep {'on' if lockstep else 'off'}, rtf {rtf:g}")
    rows: list[dict[str, Any]] = []
    timing: dict[str, Any] | None = None

    def write() -> str:
        header = _header(args, ns.quick, started, host, rows, len(cases), lockstep, rtf)
        meta = {"started": started.isoformat(), "machine": host, "lockstep": lockstep, "rtf": rtf,
                "options": args.__dict__, "quick": bool(ns.quick), "planned_runs": len(cases)}
        return _write(out, rows, header, timing, meta)

    with stop_on_signals() as stop:
        for case in cases:
            if stop.is_set():
                print("[bench localisation] interrupted: the rows so far are written, marked partial", file=sys.stderr)
                break
            rows.append(_one_run(case, args, out, lockstep, rtf, ns.verbose, stop))
            write()
            r = rows[-1]
            print(f"[bench localisation] {r['world']:22s} {_f(r['distance'], '{:6.1f}')} m  APE corrected "
                  f"{_f(r['ape_pose'])} m, wheel odom {_f(r['ape_wheels'])} m (x{_f(r['ratio'], '{:.1f}')}), odom "
                  f"{_f(r['ape_odom'])} m (x{_f(r['ratio_odom'], '{:.1f}')}), KISS-ICP {_f(r['ape_kiss'])} m  RPE/10 m "
                  f"{_f(r['rpe_pose'])} / {_f(r['rpe_wheels'])} / {_f(r['rpe_odom'])} m  "
                  f"legs {r['legs_reached']}/{r['legs']}  "
                  f"{r['failure'] or r['error'] or 'ok'}  wall {_f(r['wall_time'], '{:.0f}')} s")
    driven = [r for r in rows if r["distance"]]  # the longest run: the biggest map, the most loop closures
    bag = out / max(driven, key=lambda r: r["distance"])["world"] / "bag" if driven else None
    if args.timing_scans and bag is not None and not stop.is_set():
        print(f"[bench localisation] timing the mapper update on {bag} ...")
        timing = mapper_timing(bag, args.timing_scans)
    print(write())
    print(f"[bench localisation] wrote {out / 'bench_localisation.md'} and {out / 'bench_localisation.json'}")
    return 130 if stop.is_set() else 0


def _kiss_icp(run_dir: Path, ref_tum: str | Path) -> tuple[dict[str, Any] | None, str]:
    """KISS-ICP's errors on the run's recorded scans (``tum/kiss_icp.tum``) against the ground truth ``ref_tum``
    that :func:`evaluate_bag` exported, or None and why not."""
    from toponav.experiments.localise import kiss_icp_errors, read_scans

    try:
        scans = read_scans(run_dir / "bag")
        if not scans:
            return None, "KISS-ICP: no scans with odometry in the bag"
        return kiss_icp_errors(scans, Path(ref_tum), run_dir / "tum").to_dict(), ""
    except ImportError as exc:
        return None, f"KISS-ICP: kiss-icp not importable ({exc})"
    except Exception as exc:  # a baseline's failure must not cost the run's own row
        return None, f"KISS-ICP failed: {type(exc).__name__}: {exc}"


def _one_run(case: WorldCase, args: LocalisationBenchOptions, out: Path, lockstep: bool, rtf: float, verbose: bool,
             stop: threading.Event) -> dict[str, Any]:
    """Drive one shuttle run and evaluate its bag; a bad world or an unreadable bag is an error row."""
    from toponav.bags import BagError
    from toponav.evaluation.metrics import shortest_path_length
    from toponav.evaluation.trajectory_error import REFERENCE, TrajectoryError, evaluate_bag
    from toponav.ros_nodes.stack_run import find_free_domain
    from toponav.worlds import DEFAULT_ROBOT_RADIUS, WorldError, make_world

    try:
        world = make_world(case.spec, case.seed)
    except WorldError as exc:
        return run_row(case, {"failure": "bad world", "reason": str(exc)}, [], None, error=f"bad world: {exc}")
    start, goal = (float(world.start[0]), float(world.start[1])), (float(world.goal[0]), float(world.goal[1]))
    shortest = shortest_path_length(world, start, goal, DEFAULT_ROBOT_RADIUS)
    leg_budget = sim_budget(shortest, math.dist(start, goal))
    shuttle = Shuttle(home=start, distance=args.distance, max_legs=args.max_legs, max_sim_time=args.max_sim_time,
                      leg_budget=leg_budget)
    run_dir = out / case.label
    cfg = StackRunConfig(world=case.spec, seed=case.seed, out=run_dir, goal=goal, budget=leg_budget,
                         wall_timeout=120.0 + 2.0 * args.max_sim_time, tolerance=args.tolerance, rtf=rtf,
                         lockstep=lockstep, domain_id=find_free_domain(), params_file=args.params_file,
                         overrides={"sim_node": {"odometry": "wheels"}}, progress_every=0.0,
                         tag=f"localisation {case.label}")
    print(f"[bench localisation] {case.label}: shortest start-goal path {_f(shortest, '{:.1f}')} m, leg budget "
          f"{leg_budget:.0f} s sim")
    res, legs = run_shuttle(cfg, shuttle, console=sys.stdout if verbose else None, verbose=verbose, stop=stop)
    outcome = res.to_dict()
    errors, error = None, ""
    try:
        errors = evaluate_bag(run_dir / "bag", run_dir / "tum").to_dict()
    except (TrajectoryError, BagError, OSError) as exc:
        error = f"evaluation failed: {exc}"
    if errors is not None and args.kiss_icp:
        errors["estimates"]["kiss_icp"], why = _kiss_icp(run_dir, errors["tum"][REFERENCE])
        if why:
            errors["missing"]["kiss_icp"] = why
    (run_dir / "outcome.json").write_text(json.dumps({"outcome": outcome, "legs": legs, "errors": errors}, indent=1,
                                                     default=float))
    return run_row(case, outcome, legs, errors, error)

"""``toponav bench stack``: the full ROS stack, real node processes through the launcher, across worlds.

Every run is what ``toponav demo`` does (:class:`toponav.ros_nodes.stack_run.StackRunner`): the launch file
brings up sim_node, topo_mapper, subgoal_planner and hodat_controller (and the bag recorder) on a private
ROS_DOMAIN_ID, in lockstep when the launch file offers it; the goal is sent on /goal_pose and the run ends at
the goal, when the sim-time budget is spent, or on a failure. Worlds run one after another (the stack fills a
small machine), each on its own domain.

Default matrix: 5 held-out seeds (``toponav.worlds.heldout_seeds``) of each family (warehouse, maze, forest),
plus every world file / map_server map given on the command line. ``--quick``: one seed per family.

Methods, side by side through the same nodes and worlds:

* ``toponav``: the shipped defaults (heuristic sub-goal scorer, DWA under the safety layer, the sim's noisy wheel
  odometry corrected by the mapper's localiser); ``--planner``, ``--controller`` and ``--odometry`` change this
  method's nodes (``--odometry`` also the baseline's);
* ``toponav_gt`` (on request: ``--methods toponav,toponav_gt``): the same stack given the true pose as odometry
  with the correction off, the reference for "does the localiser cost anything" (issue 17);
* ``explore_lite``: the classic baseline, m-explore's explore_lite frontier cost (potential_scale 3 x
  distance - gain_scale 1 x frontier size, toponav.planning.explore_lite) + DWA. Goal handling (the straight
  last leg to a goal the map has reached), blacklisting and the controller are the same planner code for
  both, so the comparison isolates sub-goal selection.

Sim-time budget per world (:func:`sim_budget`)::

    budget = 60 s + 8 s per metre of the world's shortest start-goal path (disc of the robot's radius)

i.e. a start-up allowance plus eight times the time the path takes at the controller's max_v of 1 m/s, so
budgets scale with the world and a robot that explores is not cut off in a big one.

Per run: reached, failure reason (timeout, collision, node died, node hung, no frontier left, stuck, ...),
time to goal, path length, SPL, collisions, min clearance, lidar coverage, achieved real-time factor and
every process's CPU seconds per sim second. Writes ``bench_stack.md``, ``bench_stack.json`` and one PNG of
every trajectory into ``--out`` (default runs/bench_stack); each run's bag and logs stay under
``--out/<method>/<world>/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toponav.config import param
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args

FAMILIES = ("warehouse", "maze", "forest")
METHODS = ("toponav", "explore_lite", "toponav_gt")
DEFAULT_METHODS = ("toponav", "explore_lite")
GROUND_TRUTH = "toponav_gt"
BASELINE = "explore_lite"
BUDGET_BASE = 60.0  # s: start-up, first scans, turning on the spot
BUDGET_PER_METRE = 8.0  # s per metre of shortest path: 8x driving it at max_v 1 m/s
BUDGET_RULE = (f"budget = {BUDGET_BASE:g} s + {BUDGET_PER_METRE:g} s per metre of the shortest start-goal "
               "path (8x the time to drive it at max_v 1 m/s)")


@dataclass(frozen=True)
class WorldCase:
    """One world of the matrix: a spec for make_world / the launch arg ``world``, a seed, a short label."""

    spec: str
    seed: int
    label: str


def sim_budget(shortest: float | None, straight: float, *, base: float = BUDGET_BASE,
               per_metre: float = BUDGET_PER_METRE, cap: float | None = None) -> float:
    """The run's sim-time budget (s) from the world's shortest path (m; None: unknown, the straight line is
    used instead), optionally capped (``--max-budget``)."""
    length = shortest if shortest is not None and math.isfinite(shortest) else straight
    budget = base + per_metre * max(0.0, float(length))
    return min(budget, cap) if cap else budget


def _label(spec: str, seed: int) -> str:
    if spec in FAMILIES or spec == "empty" or (":" in spec and not os.path.exists(spec)):
        return f"{spec.replace(':', '-')}-{seed}"
    name = Path(spec).name
    if name in ("map.yaml", "world.json"):  # a folder per map: name it after the folder
        name = Path(spec).resolve().parent.name + "-" + name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def build_matrix(seeds: int, families: Sequence[str] = FAMILIES, worlds: Iterable[str] = (),
                 first_seed: int = 0) -> list[WorldCase]:
    """``seeds`` held-out seeds of each family, then every extra world spec (seed 0) in the order given."""
    from toponav.worlds import heldout_seeds

    out = [WorldCase(f, s, _label(f, s)) for f in families for s in heldout_seeds(seeds, first_seed)]
    for spec in worlds:
        # a file is passed as an absolute path: the node processes need not share our working directory
        path = Path(spec).expanduser()
        out.append(WorldCase(str(path.resolve()) if path.exists() else spec, 0, _label(spec, 0)))
    return out


def method_overrides(method: str, *, planner: str = "heuristic", controller: str = "dwa",
                     odometry: str = "wheels") -> dict[str, dict[str, Any]]:
    """Per-node parameters (on top of the shipped sim_navigation.yaml) that make ``method``."""
    if method == GROUND_TRUTH:
        return {"subgoal_planner": {"planner": {"mode": planner}}, "hodat_controller": {"mode": controller},
                "sim_node": {"odometry": "ground_truth"}, "topo_mapper": {"localisation": {"enabled": False}}}
    if method == "toponav":
        plan: dict[str, Any] = {"mode": planner}
        ctrl = controller
    elif method == BASELINE:
        plan = {"mode": "explore_lite", "rnd": {"enabled": False}}  # explore_lite has no novelty term
        ctrl = "dwa"
    else:
        raise ValueError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    return {"subgoal_planner": {"planner": plan}, "hodat_controller": {"mode": ctrl},
            "sim_node": {"odometry": odometry}}


def run_row(method: str, case: WorldCase, outcome: dict[str, Any], metrics: dict[str, Any], budget: float,
            png: str = "") -> dict[str, Any]:
    """One row of the results from the runner's outcome and the bag's metrics (JSON-ready)."""
    collisions = metrics.get("collisions")
    collisions = int(outcome.get("live_collisions", 0)) if collisions is None else int(collisions)
    cpu = outcome.get("cpu_per_sim_s") or {}
    return {
        "method": method, "world": case.label, "spec": case.spec, "seed": case.seed,
        "reached": bool(outcome.get("reached")),
        "success": bool(outcome.get("reached")) and collisions == 0 and not outcome.get("failure"),
        "failure": outcome.get("failure", ""), "reason": outcome.get("reason", ""),
        # from the bag (the first recorded pose within the tolerance): the runner notices the arrival by polling
        # on the wall clock, which on a loaded machine lagged up to 17 s of sim time behind it (explore_lite,
        # warehouse 1000000: 161.6 s against 144.75 s in the bag, same trajectory)
        "time_to_goal": (metrics.get("time_to_goal") if metrics.get("time_to_goal") is not None
                         else outcome.get("time_to_goal")) if outcome.get("reached") else None,
        "sim_time": outcome.get("sim_time"), "budget": budget,
        "path_length": metrics.get("path_length"), "shortest_path": metrics.get("shortest_path"),
        # SPL is 0 for a run the bench ended unreached: the bag holds the step after the budget, on which
        # the robot may have arrived (map:office, 2026-12-02: at 448.5 s of a 448.3 s budget, SPL 0.27)
        "spl": metrics.get("spl") if outcome.get("reached") else 0.0, "collisions": collisions,
        "min_clearance": metrics.get("min_clearance"),
        "coverage_m2": metrics.get("explored_area"), "rtf": outcome.get("rtf"),
        "lockstep": bool(outcome.get("lockstep")), "wall_time": outcome.get("wall_time"),
        "cpu_per_sim_s": cpu, "cpu_total_per_sim_s": sum(cpu.values()) if cpu else None, "png": png,
    }


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: runs, reached, success (reached, no collision), collision-free runs, mean time to goal
    (over reached runs), mean SPL (over all runs; a failed run's SPL is 0), mean RTF and CPU per sim s."""
    out: dict[str, dict[str, Any]] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        out[method] = {
            "runs": len(mine),
            "reached": sum(r["reached"] for r in mine),
            "success": sum(r["success"] for r in mine),
            "collision_free": sum(r["collisions"] == 0 for r in mine),
            "mean_time_to_goal": _mean(r["time_to_goal"] for r in mine),
            "mean_spl": _mean((r["spl"] or 0.0) for r in mine),
            "mean_rtf": _mean(r["rtf"] for r in mine),
            "mean_cpu_per_sim_s": _mean(r["cpu_total_per_sim_s"] for r in mine),
        }
    return out


def ratios(summary: dict[str, dict[str, Any]], method: str = "toponav", baseline: str = BASELINE
           ) -> dict[str, float | None]:
    """toponav / baseline for mean time to goal and mean SPL (None when either side has no value)."""
    a, b = summary.get(method), summary.get(baseline)
    if a is None or b is None:
        return {}

    def r(key: str) -> float | None:
        x, y = a.get(key), b.get(key)
        return x / y if x is not None and y not in (None, 0) else None

    return {"time_to_goal": r("mean_time_to_goal"), "spl": r("mean_spl")}


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def markdown(rows: Sequence[dict[str, Any]], summary: dict[str, dict[str, Any]], header: str) -> str:
    lines = [header, "",
             "| method | world | reached | failure | time (s) | budget (s) | path (m) | shortest (m) | SPL | "
             "collisions | min clearance (m) | coverage (m²) | RTF | CPU s / sim s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['world']} | {'yes' if r['reached'] else 'no'} | {r['failure'] or '–'} | "
            f"{_f(r['time_to_goal'], '{:.1f}')} | {r['budget']:.0f} | {_f(r['path_length'], '{:.1f}')} | "
            f"{_f(r['shortest_path'], '{:.1f}')} | {_f(r['spl'])} | {r['collisions']} | "
            f"{_f(r['min_clearance'])} | {_f(r['coverage_m2'], '{:.0f}')} | {_f(r['rtf'])} | "
            f"{_f(r['cpu_total_per_sim_s'])} |")
    lines += ["", "| method | success (reached, 0 collisions) | reached | collision-free | mean time to goal (s) | "
              "mean SPL | mean RTF | mean CPU s / sim s |", "|---|---|---|---|---|---|---|---|"]
    for m, s in summary.items():
        lines.append(f"| {m} | {s['success']}/{s['runs']} | {s['reached']}/{s['runs']} | "
                     f"{s['collision_free']}/{s['runs']} | {_f(s['mean_time_to_goal'], '{:.1f}')} | "
                     f"{_f(s['mean_spl'])} | {_f(s['mean_rtf'])} | {_f(s['mean_cpu_per_sim_s'])} |")
    rat = ratios(summary)
    if rat:
        lines += ["", f"toponav / {BASELINE}: mean time to goal x{_f(rat['time_to_goal'])}, "
                      f"mean SPL x{_f(rat['spl'])} (time over reached runs, SPL over all runs)."]
    a, g = summary.get("toponav"), summary.get(GROUND_TRUTH)
    if a and g:  # issue 17: the localiser on noisy wheel odometry must cost nothing against the true pose
        lines += ["", f"toponav on its corrected wheel odometry vs {GROUND_TRUTH} (true pose as odometry, correction "
                  f"off): success {a['success']}/{a['runs']} vs {g['success']}/{g['runs']}, collision-free "
                  f"{a['collision_free']}/{a['runs']} vs {g['collision_free']}/{g['runs']}, mean time to goal "
                  f"{_f(a['mean_time_to_goal'], '{:.1f}')} vs {_f(g['mean_time_to_goal'], '{:.1f}')} s."]
    procs = sorted({k for r in rows for k in (r["cpu_per_sim_s"] or {})})
    if procs:
        lines += ["", "CPU seconds per sim second, per process (mean over runs; 1.0 = one core at real time):", "",
                  "| method | " + " | ".join(procs) + " |", "|---|" + "---|" * len(procs)]
        for m in summary:
            mine = [r for r in rows if r["method"] == m]
            lines.append(f"| {m} | " + " | ".join(_f(_mean((r["cpu_per_sim_s"] or {}).get(p) for r in mine))
                                                 for p in procs) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class StackBenchOptions:
    """``toponav bench stack``'s options that the dataclass helper writes (the others: see add_arguments)."""

    seeds: int = param(5, "held-out seeds per family (--quick: 1)")
    families: str = param(",".join(FAMILIES), "families of the matrix ('' = none)")
    methods: str = param(",".join(DEFAULT_METHODS), f"comma-separated subset of {METHODS}")
    planner: str = param("heuristic", "toponav's sub-goal scorer (planner.mode)",
                         choices=("heuristic", "learned", "explore_lite"))
    controller: str = param("dwa", "toponav's local planner (hodat_controller mode); the baseline always runs DWA",
                            choices=("dwa", "learned"))
    odometry: str = param("wheels", "sim_node odometry for toponav and explore_lite (toponav_gt: always the true "
                          "pose)", choices=("ground_truth", "wheels"))
    rtf: float | None = param(None, "sim real_time_factor (None: 0 = as fast as the nodes allow, in lockstep; 2 "
                              "when the launch file has no lockstep)")
    max_budget: float = param(0.0, "cap on each run's sim-time budget (s, 0 = none; --quick: 300)")
    tolerance: float = param(0.5, "goal tolerance (m)")
    params_file: str = param("", "base parameter YAML (empty: the shipped config/sim_navigation.yaml); method "
                             "overrides are merged on top")
    out: str = param("runs/bench_stack", "output folder (table, JSON, PNGs, bags)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + f". Sim-time budget per world: {BUDGET_RULE}."
    # Written by hand: a positional list, a flag whose name differs from its field (--worlds -> extra_worlds,
    # beside the positional worlds), and switches (store_true, --lockstep/--no-lockstep), none of which the
    # dataclass helper writes (it makes every field a "--name VALUE" option).
    parser.add_argument("worlds", nargs="*", default=[], help="extra worlds: world .json files or map_server "
                        "map.yaml files (anything make_world accepts), run after the family seeds")
    parser.add_argument("--worlds", dest="extra_worlds", default="", help="comma-separated extra worlds (as above)")
    add_dataclass_arguments(parser, StackBenchOptions)
    parser.add_argument("--lockstep", action=argparse.BooleanOptionalAction, default=True,
                        help="lockstep simulation when the launch file offers it")
    parser.add_argument("--quick", action="store_true", help="one seed per family, budgets capped at 300 s")
    parser.add_argument("--verbose", action="store_true", help="show every node's output")


def _lockstep_declared() -> bool:
    from toponav.launching import find_package_share, parse_launch_file

    desc = parse_launch_file(find_package_share("toponav") / "launch" / "sim_navigation.launch.xml")
    return "lockstep" in desc.arguments


def _machine() -> str:
    from toponav.experiments.bench_all import machine

    return machine()


def _write(out: Path, rows: list[dict[str, Any]], args: StackBenchOptions, quick: bool, started: datetime,
           machine: str, lockstep: bool, rtf: float, cap: float, planned: int) -> str:
    """Write bench_stack.md / .json for the rows so far (after every run: an interrupted matrix keeps them)."""
    summary = summarize(rows)
    took = (datetime.now(UTC) - started).total_seconds()
    cmd = "toponav bench stack " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["bench", "stack"] else \
        "toponav bench stack" + (" --quick" if quick else "")
    partial = "" if len(rows) >= planned else f" **Partial: {len(rows)} of {planned} runs so far.**"
    header = (f"## toponav bench stack\n\nCommand `{cmd.strip()}`, {started.strftime('%Y-%m-%d %H:%M UTC')}, "
              f"{took / 60:.1f} min, on {machine}; load average {os.getloadavg()[0]:.2f} at the end. "
              f"Lockstep {'on' if lockstep else 'off'}, real_time_factor {rtf:g}, odometry {args.odometry}; "
              f"toponav: planner {args.planner}, controller {args.controller}; "
              f"{BASELINE}: explore_lite frontier cost + DWA, same goal handling. {BUDGET_RULE}"
              + (f", capped at {cap:.0f} s" if cap else "") + "." + partial)
    md = markdown(rows, summary, header)
    (out / "bench_stack.md").write_text(md + "\n" + "\n".join(f"![{r['method']} {r['world']}]({r['png']})"
                                                               for r in rows if r["png"]) + "\n")
    (out / "bench_stack.json").write_text(json.dumps(
        {"command": cmd.strip(), "started": started.isoformat(), "minutes": took / 60, "machine": machine,
         "python": platform.python_version(), "lockstep": lockstep, "rtf": rtf, "budget_rule": BUDGET_RULE,
         "budget_cap": cap or None, "planned_runs": planned, "rows": rows, "summary": summary,
         "ratios": ratios(summary)}, indent=1, default=float))
    return md


def run(ns: argparse.Namespace) -> int:
    from toponav.ros_nodes.stack_run import FULL_STACK, default_rtf, missing_nodes, stop_on_signals

    missing = missing_nodes(FULL_STACK)
    if missing:
        print(f"[bench stack] cannot run: node(s) {', '.join(missing)} not installed", file=sys.stderr)
        return 3
    args = dataclass_from_args(StackBenchOptions, ns)  # ConfigError: toponav.cli says it, exit 2
    seeds = 1 if ns.quick else args.seeds
    cap = args.max_budget or (300.0 if ns.quick else 0.0)
    extra = list(ns.worlds) + [w for w in ns.extra_worlds.split(",") if w.strip()]
    families = [f for f in args.families.split(",") if f.strip()]
    methods = [m for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            print(f"[bench stack] unknown method {m!r} (choose from {', '.join(METHODS)})", file=sys.stderr)
            return 2
    lockstep = bool(ns.lockstep) and _lockstep_declared()
    rtf = default_rtf(args.rtf, lockstep)
    cases = build_matrix(seeds, families, extra)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    machine = _machine()  # includes the load average now, at the start
    mode = "on" if lockstep else ("off (the launch file has no lockstep argument)" if ns.lockstep else "off")
    print(f"[bench stack] {len(cases)} worlds x {len(methods)} methods; lockstep {mode}; rtf {rtf:g}; {BUDGET_RULE}"
          + (f", capped at {cap:.0f} s" if cap else ""))
    rows: list[dict[str, Any]] = []
    with stop_on_signals() as stop:
        _run_matrix(args, ns.verbose, ns.quick, cases, methods, out, rows, started, machine, lockstep, rtf, cap, stop)
    md = _write(out, rows, args, ns.quick, started, machine, lockstep, rtf, cap, len(cases) * len(methods))
    print(md)
    pngs = sum(bool(r["png"]) for r in rows)
    print(f"[bench stack] wrote {out / 'bench_stack.md'}, {out / 'bench_stack.json'} and {pngs} PNGs")
    return 130 if stop.is_set() else 0


def _run_matrix(args: StackBenchOptions, verbose: bool, quick: bool, cases: list, methods: list[str], out: Path,
                rows: list[dict[str, Any]], started: datetime, machine: dict, lockstep: bool, rtf: float, cap: float,
                stop: threading.Event) -> None:
    """Every world x method in turn; SIGINT/SIGTERM end the run in progress cleanly and stop the matrix."""
    from toponav.evaluation import EvalConfig, compute_metrics, load_run
    from toponav.evaluation.metrics import shortest_path_length
    from toponav.evaluation.plots import plot_run
    from toponav.ros_nodes.stack_run import StackRunConfig, StackRunner, find_free_domain
    from toponav.worlds import DEFAULT_ROBOT_RADIUS, WorldError, make_world

    for case in cases:
        if stop.is_set():
            print("[bench stack] interrupted: the rows so far are written, marked partial", file=sys.stderr)
            return
        try:
            world = make_world(case.spec, case.seed)
        except WorldError as exc:
            print(f"[bench stack] {case.label}: bad world: {exc}", file=sys.stderr)
            for m in methods:
                rows.append(run_row(m, case, {"failure": "bad world", "reason": str(exc)}, {}, 0.0))
            continue
        t0 = time.monotonic()
        shortest = shortest_path_length(world, world.start[:2], world.goal, DEFAULT_ROBOT_RADIUS)
        straight = math.hypot(world.goal[0] - world.start[0], world.goal[1] - world.start[1])
        budget = sim_budget(shortest, straight, cap=cap or None)
        print(f"[bench stack] {case.label}: shortest path {_f(shortest, '{:.1f}')} m "
              f"({time.monotonic() - t0:.1f} s to compute), budget {budget:.0f} s sim")
        for method in methods:
            run_dir = out / method / case.label
            overrides = method_overrides(method, planner=args.planner, controller=args.controller,
                                         odometry=args.odometry)
            cfg = StackRunConfig(world=case.spec, seed=case.seed, out=run_dir, goal=(float(world.goal[0]),
                                 float(world.goal[1])), budget=budget, wall_timeout=120.0 + 2.0 * budget,
                                 tolerance=args.tolerance, rtf=rtf, lockstep=lockstep, domain_id=find_free_domain(),
                                 params_file=args.params_file, overrides=overrides, progress_every=0.0,
                                 tag=f"{method} {case.label}")
            if stop.is_set():
                return
            res = StackRunner(cfg, console=sys.stdout if verbose else None, verbose=verbose,
                              stop=stop).run()
            outcome = res.to_dict()
            metrics: dict[str, Any] = {}
            png = ""
            bag = run_dir / "bag"
            if (bag / "metadata.yaml").exists():
                try:
                    data = load_run(bag, world=world)
                    metrics = compute_metrics(data, EvalConfig(goal_tolerance=args.tolerance))
                    png_path = plot_run(data, metrics, out / f"{method}_{case.label}.png",
                                        title=f"{method} on {case.label}: "
                                              f"{'REACHED' if res.reached else 'not reached'}"
                                              + (f" ({res.failure})" if res.failure else ""))
                    png = str(png_path.relative_to(out))
                except Exception as exc:  # a broken bag is reported in the row, the bench goes on
                    outcome["reason"] += f"; evaluation failed: {type(exc).__name__}: {exc}"
            (run_dir / "outcome.json").write_text(json.dumps({"outcome": outcome, "metrics": metrics}, indent=1,
                                                             default=float))
            row = run_row(method, case, outcome, metrics, budget, png)
            rows.append(row)
            _write(out, rows, args, quick, started, machine, lockstep, rtf, cap, len(cases) * len(methods))
            print(f"[bench stack] {method:12s} {case.label:22s} {'REACHED' if row['reached'] else 'not reached':11s}"
                  f" {row['failure'] or 'ok':16s} t={_f(row['time_to_goal'], '{:.1f}')} s  SPL {_f(row['spl'])}  "
                  f"collisions {row['collisions']}  rtf {_f(row['rtf'])}  wall {res.wall_time:.0f} s")

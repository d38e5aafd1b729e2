"""``toponav bench barn``: BARN worlds in the PyBullet sim, learned policy vs DWA, side by side in one run.

Each method drives the same robot (``AgvParams``), lidar, control rate and HODAT harness (velocity and
acceleration limits, then the safety layer) from the BARN start to the BARN goal; only the local planner
differs. The controller gets the lidar, the wheel-odometry velocity and (by default) the true pose:
localisation is not what BARN measures, and PyBullet's wheel odometry drifts about 0.5 m over a run
(``--pose odom`` to use it anyway); success is judged on ground truth. BARN metric per run
(../shared/benchmarks/barn/README.md):
``success * OT / clip(AT, 2 OT, 8 OT)``, OT = reference path length / 2 m/s, 100 s timeout, any
collision = failure; the best possible score is 0.5 (:func:`toponav.evaluation.metrics.barn_score`, the one
implementation ``toponav train policy`` also reports). Printed: score, success, collision and timeout
rates per method and the learned/DWA score ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toponav.config import ConfigError, param
from toponav.evaluation.metrics import barn_reference_time, barn_score
from toponav.learning.cli import add_dataclass_arguments

METHODS = ("learned", "learned_fallback", "dwa", "safety_only")
LEARNED = ("learned", "learned_fallback")  # the methods that drive the policy (and get a ratio to DWA)


@dataclass
class BarnArgs:
    """``toponav bench barn`` options (``--help`` lists them with these texts); ``--quiet`` is a plain switch."""

    worlds: str = param("heldout", "'all' (300), 'heldout' (the 50 held-out worlds, every 6th index), 'train', "
                                   "'A-B' (index range, inclusive), 'every:K' (every K-th of 300), or '0,5,7'")
    methods: str = param("learned,learned_fallback,dwa",
                         "comma list of learned (the policy alone), learned_fallback (the policy with its "
                         "no-progress recovery: DWA drives for a while when the robot stops getting closer to the "
                         "goal, see --fallback-after), dwa, safety_only")
    fallback_after: float = param(5.0, "learned_fallback: seconds without 0.3 m of progress toward the goal before "
                                       "DWA takes over for 4 s")
    checkpoint: str = param("", "policy checkpoint (empty: the shipped one)")
    timeout: float = param(100.0, "seconds of sim time per run (BARN: 100)")
    goal_radius: float = param(0.5, "success when within this of the goal (m)")
    beams: int = param(128, "lidar beams (360 deg)")
    dt: float = param(0.1, "control period (s)")
    subgoals: str = param("scan,goal",
                          "comma list of sub-goal sources, each run side by side for every method: scan = both "
                          "methods get the same carrot sub-goals, 2 m along a path planned on the lidar hits seen "
                          "so far (the hierarchy: a sub-goal level above the local planner, as move_base's "
                          "global planner is above DWA in BARN's baseline); goal = the BARN goal itself is the "
                          "only sub-goal (no planner above the local one)")
    pose: str = param("truth", "pose the controller gets: truth (localisation is not what BARN measures; "
                               "PyBullet's wheel odometry drifts ~0.5 m over a 10 m run) or odom (wheel odometry)",
                      choices=("truth", "odom"))
    seed: int = param(0, "sim noise seed")
    threads: int = param(1, "torch threads (the machine is shared)")
    json: str = param("", "write per-run results and the summary to this JSON file (empty: none)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, BarnArgs)
    parser.add_argument("--quiet", action="store_true", help="no per-world lines")


def parse_worlds(spec: str) -> list[int]:
    from toponav.worlds import barn_heldout_indices, barn_train_indices, num_barn_worlds

    n = num_barn_worlds()
    spec = spec.strip().lower()
    if spec == "all":
        return list(range(n))
    if spec == "heldout":
        return barn_heldout_indices()
    if spec == "train":
        return barn_train_indices()
    if spec.startswith("every:"):
        return list(range(0, n, max(1, int(spec.split(":", 1)[1]))))
    if "-" in spec and "," not in spec:
        a, b = (int(x) for x in spec.split("-", 1))
        return list(range(a, b + 1))
    out = [int(x) for x in spec.split(",") if x.strip()]
    bad = [i for i in out if not 0 <= i < n]
    if bad:
        raise ValueError(f"BARN indices out of range 0..{n - 1}: {bad}")
    return out


def run_episode(world, method: str, policy, args: argparse.Namespace, subgoals: str) -> dict:
    """One BARN run in PyBullet with the HODAT harness; returns success/collision/timeout/time/score.

    ``subgoals`` is this run's sub-goal source, ``scan`` or ``goal`` (``args.subgoals`` is the CLI's list).
    """
    from toponav.control.carrot import ScanCarrot
    from toponav.control.config import HodatConfig, LocalPlanConfig
    from toponav.control.hodat import HodatController
    from toponav.control.scan import clean_scan
    from toponav.robot import AgvParams, LidarParams
    from toponav.sim.pybullet_agv import AgvSim

    robot, lidar = AgvParams(), LidarParams(beams=args.beams)
    learned = method in LEARNED
    cfg = HodatConfig(mode="learned" if learned else method, goal_tolerance=args.goal_radius, progress_timeout=0.0,
                      fallback_after=args.fallback_after if method == "learned_fallback" else 0.0, robot=robot,
                      local_plan=LocalPlanConfig(enabled=False))  # the sub-goal source is this run's `subgoals`
    ctrl = HodatController(cfg, policy if learned else None)
    ctrl.set_goal(world.goal)  # what the fallback watches progress on (the carrot moves every step)
    ctrl.set_subgoal(world.goal)
    carrot = ScanCarrot(world.bounds, world.goal, robot.radius) if subgoals == "scan" else None
    sim = AgvSim(world, robot, lidar, control_dt=args.dt, seed=args.seed)
    angles = np.asarray(lidar.angles(), dtype=np.float64)
    steps = round(args.timeout / args.dt)
    result = {"world": world.meta.get("barn_index", world.name), "method": method, "success": False,
              "collision": False, "timeout": False, "time": args.timeout, "min_clearance": float("inf")}
    interventions = fallback = 0
    try:
        for k in range(steps):
            scan = sim.scan()
            pose = sim.pose if args.pose == "truth" else sim.odom_pose
            if carrot is not None:
                ranges = clean_scan(scan, lidar.range_max, lidar.range_min).ranges
                ctrl.set_subgoal(carrot.update(pose, ranges, angles, lidar.range_max))
            d = ctrl.step(pose, sim.odom_twist, scan, angles, now=k * args.dt, dt=args.dt,
                          range_min=lidar.range_min, range_max=lidar.range_max)
            interventions += d.safety != "clear"
            fallback += learned and d.planner == "dwa"
            sim.step(d.cmd)
            t = (k + 1) * args.dt
            result["min_clearance"] = min(result["min_clearance"], sim.clearance() - robot.radius)
            if sim.collided:
                result.update(collision=True, time=t)
                break
            if np.hypot(*(sim.pose[:2] - np.asarray(world.goal))) <= args.goal_radius:
                result.update(success=True, time=t)
                break
        else:
            result["timeout"] = True
    finally:
        sim.close()
    ot = barn_reference_time(world)
    result["ot"] = round(ot, 3)
    result["score"] = round(barn_score(ot, result["success"], result["time"]), 4)
    result["safety_rate"] = round(interventions / max(1, round(result["time"] / args.dt)), 3)
    result["fallback_rate"] = round(fallback / max(1, round(result["time"] / args.dt)), 3)
    result["min_clearance"] = round(result["min_clearance"], 3)
    return result


def summarize(runs: list[dict]) -> dict:
    if not runs:
        return {}
    return {
        "runs": len(runs),
        "score": round(float(np.mean([r["score"] for r in runs])), 4),
        "success": round(float(np.mean([r["success"] for r in runs])), 3),
        "collision": round(float(np.mean([r["collision"] for r in runs])), 3),
        "timeout": round(float(np.mean([r["timeout"] for r in runs])), 3),
        "mean_time_success": round(float(np.mean([r["time"] for r in runs if r["success"]] or [float("nan")])), 2),
        "safety_rate": round(float(np.mean([r["safety_rate"] for r in runs])), 3),
        "fallback_rate": round(float(np.mean([r.get("fallback_rate", 0.0) for r in runs])), 3),
    }


def _table(summary: dict[str, dict[str, dict]]) -> str:
    lines = ["| sub-goals | method | BARN score | success | collision | timeout | mean time (successes) s "
             "| safety-layer interventions | DWA fallback share | wall s |", "|---" * 10 + "|"]
    for mode, per_method in summary.items():
        for m, s in per_method.items():
            if m.startswith("ratio_"):
                continue
            lines.append(f"| {mode} | {m} | {s['score']:.4f} | {s['success']:.2f} | {s['collision']:.2f} | "
                         f"{s['timeout']:.2f} | {s['mean_time_success']:.1f} | {s['safety_rate']:.0%} | "
                         f"{s['fallback_rate']:.0%} | {s['wall_s']:.0f} |")
    for mode, per_method in summary.items():
        for m in LEARNED:
            if f"ratio_{m}_over_dwa" in per_method:
                ratio = per_method[f"ratio_{m}_over_dwa"]
                lines.append(f"\n{m} / DWA score ratio with `{mode}` sub-goals: **{ratio:.2f}**")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from toponav.worlds import make_world

    try:
        indices = parse_worlds(args.worlds)
    except ValueError as exc:  # toponav.cli prints it, exit 2
        raise ConfigError("worlds", str(exc)) from None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        print(f"toponav bench barn: unknown methods {unknown}", file=sys.stderr)
        return 2
    modes = [m.strip() for m in str(args.subgoals).split(",") if m.strip()]
    if not modes or any(m not in ("scan", "goal") for m in modes):
        print(f"toponav bench barn: --subgoals: expected a comma list of scan, goal; got {args.subgoals!r}",
              file=sys.stderr)
        return 2
    policy = None
    if set(LEARNED) & set(methods):
        from toponav.control.learned import LearnedPolicy
        from toponav.models.checkpoint import CheckpointError

        try:
            policy = LearnedPolicy.load(args.checkpoint or None, num_threads=args.threads)
        except CheckpointError as exc:
            print(f"toponav bench barn: {exc}", file=sys.stderr)
            return 2
    print(f"[bench barn] {len(indices)} worlds x {methods} x sub-goals {modes}, PyBullet sim, dt {args.dt} s, "
          f"{args.beams} beams, timeout {args.timeout} s, goal radius {args.goal_radius} m, pose: {args.pose}",
          flush=True)
    runs: dict[str, dict[str, list[dict]]] = {mode: {m: [] for m in methods} for mode in modes}
    wall = {mode: {m: 0.0 for m in methods} for mode in modes}
    for i in indices:
        world = make_world(f"barn:{i}")
        line = [f"barn:{i:3d}"]
        for mode in modes:
            for m in methods:
                t0 = time.perf_counter()
                r = run_episode(world, m, policy, args, mode)
                wall[mode][m] += time.perf_counter() - t0
                runs[mode][m].append(r)
                tag = "ok " if r["success"] else ("COL" if r["collision"] else "T/O")
                line.append(f"{mode}/{m} {tag} {r['time']:5.1f}s {r['score']:.3f}")
        if not args.quiet:
            print("  ".join(line), flush=True)
    summary: dict[str, dict] = {}
    for mode in modes:
        summary[mode] = {m: summarize(runs[mode][m]) | {"wall_s": round(wall[mode][m], 1)} for m in methods}
        print(f"\nsub-goals: {mode}")
        print("method            score  success  collision  timeout  mean_t(success)  safety_rate  fallback  wall_s")
        for m in methods:
            s = summary[mode][m]
            print(f"{m:16s} {s['score']:6.4f}  {s['success']:7.3f}  {s['collision']:9.3f}  {s['timeout']:7.3f}  "
                  f"{s['mean_time_success']:15.2f}  {s['safety_rate']:11.3f}  {s['fallback_rate']:8.3f}  "
                  f"{s['wall_s']:6.1f}")
        for m in LEARNED:
            if m in methods and "dwa" in methods:
                ratio = summary[mode][m]["score"] / max(summary[mode]["dwa"]["score"], 1e-9)
                summary[mode][f"ratio_{m}_over_dwa"] = round(ratio, 3)
                print(f"{m} / DWA BARN score ratio: {ratio:.2f}  (published Gazebo DWA: 0.1693; this is PyBullet)")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"args": vars(args), "summary": summary, "runs": runs}, indent=1,
                                   default=str))  # bench all passes paths
        world_desc = args.worlds if args.worlds != "heldout" else "the 50 held-out worlds (every 6th index)"
        path.with_suffix(".md").write_text(
            f"BARN worlds: {world_desc}; PyBullet, {args.beams}-beam lidar, control every {args.dt} s, "
            f"{args.timeout:.0f} s timeout, {args.goal_radius} m goal radius, pose: {args.pose}; every method under "
            "the same limits and safety layer. BARN score = success x OT / clip(AT, 2 OT, 8 OT).\n\n"
            + _table(summary) + "\n")
    return 0

"""``toponav demo`` (what ``bash scripts/demo.sh`` runs): the whole navigation stack on a held-out world.

1. brings up launch/sim_navigation.launch.xml through toponav's own launcher (every node its own
   process) on a private ROS_DOMAIN_ID with DDS on loopback, recording a bag;
2. sends the world's goal on /goal_pose once the stack listens, follows /ground_truth/pose on sim time;
3. stops when the robot is within ``--tolerance`` of the goal, the sim-time budget is spent, or a
   required node dies (the launcher reports which);
4. evaluates the recorded bag (toponav.evaluation), prints a summary and writes report.png
   (world, trajectory, topological graph, coverage, velocities) and metrics.json under runs/<timestamp>/.

The run itself (steps 1-3) is :class:`toponav.ros_nodes.stack_run.StackRunner`, shared with
``toponav bench stack``; this module adds the command line, the evaluation and the summary.

Exit code 0 only when the goal was reached without a collision. When a node of the full stack is
not installed the demo says so and falls back to sim + goal_controller (``--controller auto``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# re-exported: tests and older callers import them from here
from toponav.ros_nodes.stack_run import (
    BASICS,
    FULL_STACK,
    StackRunConfig,
    StackRunner,
    default_rtf,
    find_free_domain,
    missing_nodes,
    stop_on_signals,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from toponav.worlds import SPEC_HELP, heldout_seeds

    parser.add_argument("--world", default="warehouse", help=f"world: {SPEC_HELP}")
    parser.add_argument("--seed", type=int, default=heldout_seeds(1)[0], help="world seed (default: first held-out)")
    parser.add_argument("--controller", default="auto", choices=("auto", "hodat", "goal"),
                        help="hodat = mapper + planner + HODAT controller; goal = simple goal_controller; "
                             "auto = hodat when all its nodes are installed")
    parser.add_argument("--timeout", type=float, default=400.0, help="sim-time budget (s)")
    parser.add_argument("--wall-timeout", type=float, default=900.0, help="wall-clock safety limit (s)")
    parser.add_argument("--tolerance", type=float, default=0.5, help="goal tolerance (m)")
    parser.add_argument("--rtf", type=float, default=None,
                        help="sim real-time factor (sim s per wall s); in lockstep an upper bound. Default: 0 in "
                             "lockstep (as fast as the nodes allow), 2 free-running (--no-lockstep)")
    parser.add_argument("--lockstep", action=argparse.BooleanOptionalAction, default=True,
                        help="lockstep simulation when the launch file offers it (sim time waits for the nodes)")
    parser.add_argument("--out", default="", help="output folder (default runs/<UTC timestamp>)")
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: a private one)")
    parser.add_argument("--params-file", default="", help="ROS 2 parameter YAML for all nodes "
                        "(default: share/toponav/config/sim_navigation.yaml)")
    parser.add_argument("--namespace", default="", help="run the stack under this robot namespace (/NS/scan, ...); "
                        "the bag keeps the full names and toponav eval reads them through it")
    parser.add_argument("--verbose", action="store_true", help="show every node's output, not only warnings")


def choose_controller(requested: str) -> str | None:
    """The controller to run (``auto``: hodat when its nodes are installed, else goal), or None (said why on
    stderr) when the nodes it needs are not installed."""
    missing = missing_nodes(FULL_STACK)
    basics = missing_nodes(BASICS)
    if basics:
        print(f"[demo] cannot run: node(s) {', '.join(basics)} not installed", file=sys.stderr)
        return None
    if requested == "auto":
        if missing:
            print(f"[demo] full stack unavailable (missing: {', '.join(missing)}): running sim_node + "
                  "topo_mapper + goal_controller (straight-line goal seeking with a scan stop, no planning)")
        return "hodat" if not missing else "goal"
    if requested == "hodat" and missing:
        print(f"[demo] --controller hodat needs {', '.join(missing)}, which are not installed", file=sys.stderr)
        return None
    return requested


def print_summary(world: Any, seed: int, controller: str, outcome: dict[str, Any], metrics: dict[str, Any],
                  res: Any, bag: Path, report: Any, success: bool) -> None:
    """The demo's closing table (what scripts/demo.sh shows)."""
    fmt = lambda v, f="{:.2f}": "n/a" if v is None else f.format(v)  # noqa: E731
    print("\n=== toponav demo summary ===")
    print(f"world           {world.name} (family {world.family}, held-out seed {seed})")
    print(f"controller      {controller}")
    print(f"reached goal    {'YES' if outcome['reached'] else 'NO'}  ({outcome['reason']})")
    if metrics.get("time_to_goal") is not None:  # from the bag: goal sent -> first pose within the tolerance
        print(f"time to goal    {fmt(metrics['time_to_goal'], '{:.1f}')} s (sim, from the goal being sent)")
    else:
        print(f"sim time        {fmt(outcome['sim_time'], '{:.1f}')} s")
    print(f"path length     {fmt(metrics.get('path_length'))} m (shortest {fmt(metrics.get('shortest_path'))} m, "
          f"SPL {fmt(metrics.get('spl'))})")
    print(f"explored area   {fmt(metrics.get('explored_area'), '{:.1f}')} m² (lidar coverage)"
          + (f", mapper {fmt(metrics.get('mapper_explored_area'), '{:.1f}')} m²"
             if metrics.get("mapper_explored_area") is not None else ""))
    print(f"graph size      {metrics.get('graph_nodes')} nodes, {metrics.get('graph_edges')} edges")
    print(f"collisions      {metrics.get('collisions')}")
    print(f"min clearance   {fmt(metrics.get('min_clearance'))} m")
    print(f"achieved rtf    {fmt(res.rtf)} (sim s per wall s; {'lockstep' if res.lockstep else 'real time'})")
    print(f"bag             {bag}")
    print(f"report          {report}")
    print(f"result          {'SUCCESS' if success else 'FAILURE'}")


def run(args: argparse.Namespace) -> int:
    from toponav.evaluation import EvalConfig, compute_metrics, load_run
    from toponav.evaluation.plots import plot_run
    from toponav.worlds import WorldError, make_world

    out = Path(args.out or f"runs/{datetime.now(UTC).strftime('%Y%m%d_%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        world = make_world(args.world, args.seed)
    except WorldError as exc:
        print(f"[demo] bad world: {exc}", file=sys.stderr)
        return 2
    controller = choose_controller(args.controller)
    if controller is None:
        return 3

    domain = args.domain_id if args.domain_id is not None else find_free_domain()
    lockstep = getattr(args, "lockstep", True)
    cfg = StackRunConfig(world=args.world, seed=args.seed, out=out, goal=(float(world.goal[0]), float(world.goal[1])),
                         controller=controller, budget=args.timeout, wall_timeout=args.wall_timeout,
                         tolerance=args.tolerance, rtf=default_rtf(args.rtf, lockstep), lockstep=lockstep,
                         domain_id=domain, params_file=args.params_file, tag="demo",
                         namespace=getattr(args, "namespace", ""))
    bag = out / "bag"
    print(f"[demo] world {world.name} (held-out seed {args.seed}): start ({world.start[0]:.1f}, {world.start[1]:.1f})"
          f" -> goal ({world.goal[0]:.1f}, {world.goal[1]:.1f}); controller: {controller}; domain {domain}; "
          f"output {out}")
    with stop_on_signals() as stop:
        res = StackRunner(cfg, console=sys.stdout, verbose=args.verbose, stop=stop).run()
    if res.failure == "stack did not start" and res.reason.startswith("launch file"):
        print(f"[demo] {res.reason}", file=sys.stderr)
        return 2
    outcome = {"reached": res.reached, "reason": res.reason, "sim_time": res.sim_time,
               "goal_sent_at": res.goal_sent_at, "failure": res.failure, "rtf": res.rtf, "lockstep": res.lockstep,
               "cpu_per_sim_s": res.cpu_per_sim_second()}

    print(f"[demo] {outcome['reason']}")
    if not (bag.exists() and (bag / "metadata.yaml").exists()):
        print(f"[demo] no bag was written (see {out / 'launch.log'})", file=sys.stderr)
        return 1
    run_data = load_run(bag, world=world)
    metrics = compute_metrics(run_data, EvalConfig(goal_tolerance=args.tolerance))
    metrics.update(demo_outcome=outcome, controller=controller, world_spec=args.world, seed=args.seed,
                   domain_id=domain)
    report = plot_run(run_data, metrics, out / "report.png",
                      title=f"toponav demo: {world.name}, {controller} controller, "
                            f"{'REACHED' if outcome['reached'] else 'NOT reached'}")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    success = bool(outcome["reached"]) and metrics.get("collisions_before_goal", 0) == 0
    print_summary(world, args.seed, controller, outcome, metrics, res, bag, report, success)
    return 0 if success else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="toponav demo")
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""``toponav demo`` (what ``bash scripts/demo.sh`` runs): the whole navigation stack on a held-out world.

1. brings up launch/sim_navigation.launch.xml through toponav's own launcher (every node its own
   process) on a private ROS_DOMAIN_ID with DDS on loopback, recording a bag;
2. sends the world's goal on /goal_pose once the stack listens, follows /ground_truth/pose on sim time;
3. stops when the robot is within ``--tolerance`` of the goal, the sim-time budget is spent, or a
   required node dies (the launcher reports which);
4. evaluates the recorded bag (toponav.evaluation), prints a summary and writes report.png
   (world, trajectory, topological graph, coverage, velocities) and metrics.json under runs/<timestamp>/.

Exit code 0 only when the goal was reached without a collision. When a node of the full stack is
not installed the demo says so and falls back to sim + goal_controller (``--controller auto``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

FULL_STACK = ("sim_node", "topo_mapper", "subgoal_planner", "hodat_controller")
BASICS = ("sim_node", "topo_mapper", "goal_controller", "bag_recorder")


class _ConsoleFilter:
    """Launcher output: everything to the log file, launch events / warnings / errors to the console."""

    KEYS = ("[launch]", "WARN", "ERROR", "Traceback", "refused", "collision")

    def __init__(self, log: TextIO, console: TextIO, quiet: bool) -> None:
        self.log, self.console, self.quiet = log, console, quiet

    def write(self, text: str) -> int:
        self.log.write(text)
        if not self.quiet or any(k in text for k in self.KEYS):
            self.console.write(text)
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        self.console.flush()


def missing_nodes(names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:
        try:
            spec = importlib.util.find_spec(f"toponav.ros_nodes.{name}")
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            out.append(name)
    return out


def find_free_domain(tries: int = 8, listen: float = 1.5) -> int:
    """A random domain id on which no other ROS node is visible (loopback), so a test or another run
    sharing this machine cannot mix its topics into the demo."""
    from toponav.ros_env import pick_domain_id
    from toponav.ros_nodes.probe import Probe

    domain = pick_domain_id()
    for _ in range(tries):
        with Probe(domain, name="toponav_demo_domain_check") as probe:
            time.sleep(listen)
            others = [n for n in probe.node.get_node_names() if n != "toponav_demo_domain_check"]
        if not others:
            return domain
        print(f"[demo] domain {domain} is in use by {len(others)} node(s); trying another")
        domain = pick_domain_id()
    return domain


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
    parser.add_argument("--rtf", type=float, default=2.0, help="sim real-time factor (sim s per wall s)")
    parser.add_argument("--out", default="", help="output folder (default runs/<UTC timestamp>)")
    parser.add_argument("--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: a private one)")
    parser.add_argument("--params-file", default="", help="ROS 2 parameter YAML for all nodes "
                        "(default: share/toponav/config/sim_navigation.yaml)")
    parser.add_argument("--verbose", action="store_true", help="show every node's output, not only warnings")


def run(args: argparse.Namespace) -> int:
    import os

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from geometry_msgs.msg import PoseStamped
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import String

    from toponav.evaluation import EvalConfig, compute_metrics, load_run
    from toponav.evaluation.plots import plot_run
    from toponav.launching import Launcher, LaunchError, find_package_share, parse_launch_file
    from toponav.ros_nodes.common import CLOCK_QOS, COMMAND_QOS, EVENT_QOS, LATCHED_QOS, SENSOR_QOS
    from toponav.ros_nodes.probe import Probe
    from toponav.worlds import WorldError, make_world

    out = Path(args.out or f"runs/{datetime.now(UTC).strftime('%Y%m%d_%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    try:
        world = make_world(args.world, args.seed)
    except WorldError as exc:
        print(f"[demo] bad world: {exc}", file=sys.stderr)
        return 2
    controller = args.controller
    missing = missing_nodes(FULL_STACK)
    basics = missing_nodes(BASICS)
    if basics:
        print(f"[demo] cannot run: node(s) {', '.join(basics)} not installed", file=sys.stderr)
        return 3
    if controller == "auto":
        controller = "hodat" if not missing else "goal"
        if missing:
            print(f"[demo] full stack unavailable (missing: {', '.join(missing)}): running sim_node + "
                  "topo_mapper + goal_controller (straight-line goal seeking with a scan stop, no planning)")
    elif controller == "hodat" and missing:
        print(f"[demo] --controller hodat needs {', '.join(missing)}, which are not installed", file=sys.stderr)
        return 3

    domain = args.domain_id if args.domain_id is not None else find_free_domain()
    bag = out / "bag"
    launch_file = find_package_share("toponav") / "launch" / "sim_navigation.launch.xml"
    try:
        launch_args = {"world": args.world, "seed": str(args.seed), "controller": controller,
                       "record": "true", "bag": str(bag.resolve()), "real_time_factor": str(args.rtf)}
        if args.params_file:
            launch_args["params_file"] = str(Path(args.params_file).resolve())
        desc = parse_launch_file(launch_file, launch_args)
    except LaunchError as exc:
        print(f"[demo] {exc}", file=sys.stderr)
        return 2
    print(f"[demo] world {world.name} (held-out seed {args.seed}): start ({world.start[0]:.1f}, {world.start[1]:.1f})"
          f" -> goal ({world.goal[0]:.1f}, {world.goal[1]:.1f}); controller: {controller}; domain {domain}; "
          f"output {out}")
    log = (out / "launch.log").open("w")
    stream = _ConsoleFilter(log, sys.stdout, quiet=not args.verbose)
    launcher = Launcher(desc, domain_id=domain, log_dir=out / "logs", stream=stream)

    outcome = {"reached": False, "reason": "", "sim_time": 0.0, "goal_sent_at": None}
    probe = None
    stop = threading.Event()
    import signal

    old = signal.signal(signal.SIGINT, lambda *_: stop.set())
    wall0 = time.monotonic()
    try:
        launcher.start()
        probe = Probe(domain, name="toponav_demo")
        probe.subscribe("/clock", Clock, CLOCK_QOS)
        probe.subscribe("/ground_truth/pose", PoseStamped, SENSOR_QOS)
        probe.subscribe("/collision", String, EVENT_QOS)
        probe.subscribe("/topo_graph", String, LATCHED_QOS)
        goal_pub = probe.node.create_publisher(PoseStamped, "/goal_pose", COMMAND_QOS)
        goal = PoseStamped()
        goal.header.frame_id = "map"
        goal.pose.position.x, goal.pose.position.y = float(world.goal[0]), float(world.goal[1])
        goal.pose.orientation.w = 1.0
        # goal listeners: the sim (validation), the planner or goal_controller, and the recorder
        wanted_subs = 3
        phase = "starting"
        while True:
            if stop.is_set():
                outcome["reason"] = "interrupted (SIGINT)"
                break
            if not launcher.poll():
                outcome["reason"] = f"the launch stopped: {launcher.reason or 'all nodes exited'}"
                break
            if time.monotonic() - wall0 > args.wall_timeout:
                outcome["reason"] = f"wall-clock limit {args.wall_timeout:.0f} s reached"
                break
            clock = probe.last("/clock")
            sim_t = clock.clock.sec + clock.clock.nanosec * 1e-9 if clock else 0.0
            outcome["sim_time"] = sim_t
            pose = probe.last("/ground_truth/pose")
            if phase == "starting":
                subs = goal_pub.get_subscription_count()
                ready = pose is not None and subs >= wanted_subs
                if ready or (pose is not None and time.monotonic() - wall0 > 60.0 and subs >= 1):
                    time.sleep(1.0)  # let the nodes finish their own start-up
                    goal.header.stamp = clock.clock if clock else goal.header.stamp
                    goal_pub.publish(goal)
                    outcome["goal_sent_at"] = sim_t
                    print(f"[demo] goal sent at sim t={sim_t:.1f} s ({subs} goal subscribers)")
                    phase = "driving"
                    last_report = sim_t
                elif time.monotonic() - wall0 > 120.0:
                    outcome["reason"] = (f"the stack did not come up within 120 s (pose: {pose is not None}, "
                                         f"goal subscribers: {subs})")
                    break
            else:
                if pose is not None:
                    d = math.hypot(pose.pose.position.x - world.goal[0], pose.pose.position.y - world.goal[1])
                    if d <= args.tolerance:
                        outcome["reached"] = True
                        outcome["reason"] = f"goal reached at sim t={sim_t:.1f} s"
                        break
                    if sim_t - last_report >= 10.0:
                        last_report = sim_t
                        graph = probe.last("/topo_graph")
                        nodes = len(json.loads(graph.data).get("nodes", [])) if graph is not None else 0
                        print(f"[demo] t={sim_t:6.1f} s  pose ({pose.pose.position.x:5.1f}, "
                              f"{pose.pose.position.y:5.1f})  {d:5.1f} m to go  graph {nodes} nodes  "
                              f"collisions {probe.count('/collision')}")
                if outcome["goal_sent_at"] is not None and sim_t - outcome["goal_sent_at"] > args.timeout:
                    outcome["reason"] = f"sim-time budget {args.timeout:.0f} s spent"
                    break
            time.sleep(0.05)
    except LaunchError as exc:
        outcome["reason"] = f"launch error: {exc}"
    finally:
        signal.signal(signal.SIGINT, old)
        if probe is not None:
            probe.close()
        time.sleep(0.5)  # the recorder writes the last messages
        launcher.shutdown()
        log.close()

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
    fmt = lambda v, f="{:.2f}": "n/a" if v is None else f.format(v)  # noqa: E731
    success = bool(outcome["reached"]) and metrics.get("collisions_before_goal", 0) == 0
    print("\n=== toponav demo summary ===")
    print(f"world           {world.name} (family {world.family}, held-out seed {args.seed})")
    print(f"controller      {controller}")
    print(f"reached goal    {'YES' if outcome['reached'] else 'NO'}  ({outcome['reason']})")
    print(f"sim time        {fmt(metrics.get('time_to_goal') or outcome['sim_time'], '{:.1f}')} s")
    print(f"path length     {fmt(metrics.get('path_length'))} m (shortest {fmt(metrics.get('shortest_path'))} m, "
          f"SPL {fmt(metrics.get('spl'))})")
    print(f"explored area   {fmt(metrics.get('explored_area'), '{:.1f}')} m² (lidar coverage)"
          + (f", mapper {fmt(metrics.get('mapper_explored_area'), '{:.1f}')} m²"
             if metrics.get("mapper_explored_area") is not None else ""))
    print(f"graph size      {metrics.get('graph_nodes')} nodes, {metrics.get('graph_edges')} edges")
    print(f"collisions      {metrics.get('collisions')}")
    print(f"min clearance   {fmt(metrics.get('min_clearance'))} m")
    print(f"bag             {bag}")
    print(f"report          {report}")
    print(f"result          {'SUCCESS' if success else 'FAILURE'}")
    return 0 if success else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="toponav demo")
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))


if __name__ == "__main__":
    main()

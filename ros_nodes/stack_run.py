"""One full-stack navigation run, as a navigator: bring the stack up, send the goal, watch, report.

:class:`StackRunner` is what ``toponav demo`` and ``toponav bench stack`` share; its :class:`Navigator` plays
Nav2's "simple commander" role (wait until active, send the goal, follow it), without an action server:

1. brings up launch/sim_navigation.launch.xml through toponav's own launcher (every node its own process) on
   a private ROS_DOMAIN_ID with DDS on loopback, recording a bag; ``lockstep:=true`` is passed when the launch
   file declares that argument (and the run asks for it), so the runner works with and without lockstep;
2. sends the world's goal on /goal_pose once the stack listens (in lockstep the sim sends it itself before
   step 1, ``send_goal:=true``, so the run is reproducible), follows /ground_truth/pose on sim time; with a
   ``namespace`` the whole stack runs under it (``namespace:=robot1``) and the runner watches the robot's
   topics there (/robot1/ground_truth/pose, ...; /clock and /lockstep/status are global), the bag holding them
   under their full names;
3. stops when the robot is within ``tolerance`` of the goal, the sim-time budget is spent, a required node
   dies (the launcher says which), the simulator reports a hung node on /lockstep/status, the planner has
   reported for ``give_up_after`` sim seconds that it has nothing left to do (done / stuck), the graph has
   had no frontier while the robot got no closer to the goal for as long, or the wall-clock limit is hit;
4. before shutting the stack down, reads every launched process's CPU seconds (``/proc/<pid>/stat``), so the
   cost of each node per sim second can be reported.

The outcome's ``failure`` is one category (:data:`FAILURES`) chosen by :func:`classify_failure`; the metrics
from the recorded bag (path, SPL, clearance, coverage) are the caller's job (toponav.evaluation). ROS is
imported inside the functions that need it, so the pure helpers load (and are unit-tested) without it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

FULL_STACK = ("sim_node", "topo_mapper", "subgoal_planner", "hodat_controller")
BASICS = ("sim_node", "topo_mapper", "goal_controller", "bag_recorder")

#: failure categories, most telling first (the first that applies is reported)
FAILURES = ("node hung", "node died", "stack did not start", "collision", "no frontier left", "stuck",
            "timeout", "wall-clock limit", "interrupted")

#: planner states (/toponav/status "state") after which the planner will not move the robot on its own
_GAVE_UP = ("done", "stuck")

#: /goal_pose listeners the stack has when it is up: the sim (validation), the planner or goal_controller, and
#: the recorder
WANTED_GOAL_SUBSCRIBERS = 3


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs, so a run in progress ends through the launcher's
    shutdown (every node stopped, the bag closed) instead of the process dying and leaving its nodes behind."""
    stop = threading.Event()
    old = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def missing_nodes(names: tuple[str, ...]) -> list[str]:
    """The nodes of ``names`` whose module is not installed."""
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
    sharing this machine cannot mix its topics into this one."""
    from toponav.ros_env import pick_domain_id
    from toponav.ros_nodes.probe import Probe

    domain = pick_domain_id()
    for _ in range(tries):
        with Probe(domain, name="toponav_domain_check") as probe:
            time.sleep(listen)
            others = [n for n in probe.node.get_node_names() if n != "toponav_domain_check"]
        if not others:
            return domain
        print(f"[stack] domain {domain} is in use by {len(others)} node(s); trying another")
        domain = pick_domain_id()
    return domain


# -- pure helpers (unit-tested without ROS) ---------------------------------------------------------------
def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, nested dicts key by key (``extra`` wins on leaves)."""
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_params_overlay(base: str | Path, overrides: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Write ``base`` (a ROS 2 params YAML) with per-node ``overrides`` (``{node: {param: value}}``, nested
    names as nested dicts) merged under each node's ``ros__parameters``; returns ``path``.

    One file for all nodes keeps the launch file's single ``params_file`` argument the only interface.
    """
    data = yaml.safe_load(Path(base).read_text()) or {}
    for node, params in overrides.items():
        section = data.setdefault(node, {}) or {}
        section["ros__parameters"] = deep_merge(section.get("ros__parameters") or {}, params)
        data[node] = section
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def launch_arguments(declared: Mapping[str, Any], wanted: Mapping[str, str]) -> dict[str, str]:
    """The ``wanted`` launch arguments the file declares (others, e.g. ``lockstep`` before it exists, drop)."""
    return {k: v for k, v in wanted.items() if k in declared}


def default_rtf(rtf: float | None, lockstep: bool) -> float:
    """The sim's real_time_factor: as given, else 0 in lockstep (an upper bound there: as fast as the nodes
    allow) and 2 free-running."""
    if rtf is not None:
        return float(rtf)
    return 0.0 if lockstep else 2.0


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its reaped children (``/proc/<pid>/stat``); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may contain spaces
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / ticks


def parse_lockstep_status(text: str) -> dict[str, Any]:
    """The sim's /lockstep/status JSON (``{"step", "stamp", "rtf", "hung": [...]}``); {} when unreadable."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def classify_failure(*, reached: bool, collisions: int, launch_reason: str = "", hung: list[str] | None = None,
                     started: bool = True, planner_gave_up: str = "", frontiers_left: int | None = None,
                     budget_spent: bool = False, wall_limit: bool = False, interrupted: bool = False) -> str:
    """The one failure category of a run ('' when it succeeded: goal reached without a collision).

    Order matters: a hung or dead node explains everything after it; a collision fails a run even when the
    goal was reached; 'no frontier left' (the planner finished exploring without reaching the goal) is told
    apart from 'stuck' (frontiers remain but none is usable) and from a plain timeout.
    """
    if hung:
        return "node hung"
    if launch_reason:
        return "node died"
    if not started:
        return "stack did not start"
    if collisions > 0:
        return "collision"
    if reached:
        return ""
    if interrupted:
        return "interrupted"
    if planner_gave_up:
        return "no frontier left" if frontiers_left == 0 else "stuck"
    if budget_spent and frontiers_left == 0:  # the graph has nothing left to explore, the goal still unseen
        return "no frontier left"
    if budget_spent:
        return "timeout"
    if wall_limit:
        return "wall-clock limit"
    return "timeout"


@dataclass
class StackRunConfig:
    """What one run needs; the launch arguments and parameter overlay are derived from it."""

    world: str
    seed: int
    out: Path
    goal: tuple[float, float]
    controller: str = "hodat"  # launch arg: hodat (planner + HODAT controller) or goal (goal_controller)
    budget: float = 400.0  # sim seconds after the goal was sent
    wall_timeout: float = 900.0
    tolerance: float = 0.5
    rtf: float = 2.0
    lockstep: bool = True  # used when the launch file declares a `lockstep` argument
    domain_id: int | None = None
    params_file: str = ""  # base params YAML (default: the shipped config/sim_navigation.yaml)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> parameters, merged on top
    give_up_after: float = 90.0  # sim s of the planner reporting done/stuck before the run ends (> the 60 s blacklist)
    progress_every: float = 10.0  # sim s between progress lines (0 = none)
    tag: str = "stack"
    namespace: str = ""  # launch arg: the robot's namespace ('' = root)


@dataclass
class StackOutcome:
    reached: bool = False
    failure: str = ""  # one of FAILURES, '' on success
    reason: str = ""  # human-readable detail
    sim_time: float = 0.0
    goal_sent_at: float | None = None
    time_to_goal: float | None = None
    wall_time: float = 0.0
    rtf: float | None = None  # sim s / wall s from the first /clock to the end
    lockstep: bool = False
    live_collisions: int = 0
    planner_state: str = ""
    frontiers_left: int | None = None
    hung: list[str] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # process label -> CPU s at the end
    cpu_at_goal: dict[str, float] = field(default_factory=dict)  # process label -> CPU s when the goal was sent
    lockstep_status: dict[str, Any] = field(default_factory=dict)
    domain_id: int = 0
    bag: str = ""
    log: str = ""

    def cpu_per_sim_second(self) -> dict[str, float]:
        """Each process's CPU seconds per simulated second while driving (goal sent to end), i.e. its share of
        a core at real-time factor 1; start-up (imports, world building) is left out, as it does not scale
        with sim time. Without a goal-time sample, the whole run is used."""
        t0 = self.goal_sent_at if self.cpu_at_goal and self.goal_sent_at is not None else 0.0
        span = self.sim_time - t0
        if span <= 0:
            return {}
        return {k: (v - self.cpu_at_goal.get(k, 0.0)) / span for k, v in self.cpu_seconds.items()}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_per_sim_s": self.cpu_per_sim_second()}


class _ConsoleFilter:
    """Launcher output: everything to the log file, launch events / warnings / errors to the console."""

    KEYS = ("[launch]", "WARN", "ERROR", "Traceback", "refused", "collision")

    def __init__(self, log: TextIO, console: TextIO | None, quiet: bool) -> None:
        self.log, self.console, self.quiet = log, console, quiet

    def write(self, text: str) -> int:
        self.log.write(text)
        if self.console is not None and (not self.quiet or any(k in text for k in self.KEYS)):
            self.console.write(text)
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        if self.console is not None:
            self.console.flush()


class StackRunner:
    """Run the full stack once on one world (see the module docstring)."""

    def __init__(self, cfg: StackRunConfig, *, console: TextIO | None = None, verbose: bool = False,
                 say: Callable[[str], None] | None = None, stop: threading.Event | None = None,
                 navigator: Callable[..., Navigator] | None = None) -> None:
        self.cfg = cfg
        self.navigator = navigator or Navigator  # what sends goals and judges the run (bench localisation: a shuttle)
        self.console = console
        self.verbose = verbose
        self.say = say or print
        self.stop = stop or threading.Event()

    def description(self, bag: Path) -> tuple[Any, dict[str, str]]:
        """The parsed launch description and the launch arguments used (lockstep only when declared)."""
        from toponav.launching import find_package_share, parse_launch_file

        cfg = self.cfg
        launch_file = find_package_share("toponav") / "launch" / "sim_navigation.launch.xml"
        base = Path(cfg.params_file) if cfg.params_file else find_package_share("toponav") / "config" \
            / "sim_navigation.yaml"
        wanted = {"world": cfg.world, "seed": str(cfg.seed), "controller": cfg.controller, "record": "true",
                  "bag": str(bag.resolve()), "real_time_factor": str(cfg.rtf),
                  "lockstep": "true" if cfg.lockstep else "false"}
        if cfg.namespace:
            wanted["namespace"] = cfg.namespace
        if cfg.lockstep:  # the sim sends the goal before step 1: the whole run is reproducible
            wanted["send_goal"] = "true"
        if cfg.overrides:
            wanted["params_file"] = str(write_params_overlay(base, cfg.overrides, cfg.out / "params.yaml").resolve())
        elif cfg.params_file:
            wanted["params_file"] = str(Path(cfg.params_file).resolve())
        optional = ("lockstep", "send_goal")  # newer launch files only
        declared = parse_launch_file(launch_file, {k: v for k, v in wanted.items() if k not in optional}).arguments
        args = launch_arguments(declared, wanted)
        return parse_launch_file(launch_file, args), args

    def run(self) -> StackOutcome:
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        from toponav.launching import Launcher, LaunchError
        from toponav.ros_nodes.probe import Probe

        cfg = self.cfg
        cfg.out.mkdir(parents=True, exist_ok=True)
        bag = cfg.out / "bag"
        res = StackOutcome(bag=str(bag), log=str(cfg.out / "launch.log"))
        try:
            desc, args = self.description(bag)
        except LaunchError as exc:
            res.failure, res.reason = "stack did not start", f"launch file: {exc}"
            return res
        res.lockstep = args.get("lockstep") == "true"
        domain = cfg.domain_id if cfg.domain_id is not None else find_free_domain()
        res.domain_id = domain
        log = (cfg.out / "launch.log").open("w")
        launcher = Launcher(desc, domain_id=domain, log_dir=cfg.out / "logs",
                            stream=_ConsoleFilter(log, self.console, quiet=not self.verbose))
        probe = None
        nav = self.navigator(cfg, res, launcher, sim_sends_goal=args.get("send_goal") == "true", say=self.say,
                        stop=self.stop)
        try:
            launcher.start()
            probe = Probe(domain, name="toponav_" + re.sub(r"\W", "_", cfg.tag), namespace=cfg.namespace)
            nav.attach(probe)
            if nav.wait_until_active():
                nav.follow_goal()
        except LaunchError as exc:
            nav.launch_reason = str(exc)
            res.reason = f"launch error: {exc}"
        finally:
            end = time.monotonic()
            res.wall_time = end - nav.wall0
            if nav.first_clock is not None and end > nav.first_clock[0]:
                res.rtf = (res.sim_time - nav.first_clock[1]) / (end - nav.first_clock[0])
            res.cpu_seconds = _cpu(launcher)
            if probe is not None:
                res.live_collisions = probe.count("collision")
                probe.close()
            time.sleep(0.5)  # the recorder writes the last messages
            launcher.shutdown()
            log.close()
        res.failure = nav.failure()
        return res


def _cpu(launcher: Any) -> dict[str, float]:
    """CPU seconds so far of every launched process, by its launch label."""
    out: dict[str, float] = {}
    for i, proc in enumerate(launcher.procs):
        if proc.popen is not None:
            cpu = process_cpu_seconds(proc.popen.pid)
            if cpu is not None:
                out[launcher.labels[i]] = cpu
    return out


class Navigator:
    """The wait / send / track part of a run, as Nav2's simple commander (``BasicNavigator``) splits it:
    :meth:`wait_until_active` (the stack is up; the goal is sent, or the sim has sent it), then
    :meth:`follow_goal` (track progress until the goal is reached or the run must end). Both poll the
    stack through a :class:`~toponav.ros_nodes.probe.Probe` every 50 ms wall time and end the run early when a
    node dies or hangs, the wall-clock limit is hit or the user interrupts; ``outcome`` gets what was seen."""

    POLL = 0.05  # wall s between looks at the stack
    START_TIMEOUT = 120.0  # wall s for the stack to come up
    PATIENCE = 60.0  # wall s after which the goal goes out to at least one listener

    def __init__(self, cfg: StackRunConfig, outcome: StackOutcome, launcher: Any, *, sim_sends_goal: bool,
                 say: Callable[[str], None], stop: threading.Event) -> None:
        self.cfg = cfg
        self.res = outcome
        self.launcher = launcher
        self.sim_sends_goal = sim_sends_goal
        self.say = say
        self.stop = stop
        self.probe: Any = None
        self.goal_pub: Any = None
        self.started = self.budget_spent = self.wall_limit = self.interrupted = False
        self.gave_up = ""
        self.launch_reason = ""
        self.wall0 = time.monotonic()
        self.first_clock: tuple[float, float] | None = None  # (wall, sim) at the first /clock
        self.sim_t = 0.0
        self.now = self.wall0
        self.clock: Any = None
        self.pose: Any = None
        self._subs = 0  # /goal_pose listeners at the last look

    def attach(self, probe: Any) -> None:
        """Listen to what the run is judged on, and offer /goal_pose."""
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock
        from std_msgs.msg import String

        from toponav.ros_nodes.common import CLOCK_QOS, COMMAND_QOS, EVENT_QOS, LATCHED_QOS, SENSOR_QOS

        self.probe = probe
        # relative names: the probe lives in the robot's namespace (the root for one robot); /clock and the
        # sim's lockstep status are global
        probe.subscribe("/clock", Clock, CLOCK_QOS)
        probe.subscribe("ground_truth/pose", PoseStamped, SENSOR_QOS)
        probe.subscribe("collision", String, EVENT_QOS)
        probe.subscribe("topo_graph", String, LATCHED_QOS)
        probe.subscribe("toponav/status", DiagnosticArray, EVENT_QOS)
        if self.sim_sends_goal:  # only then: our own subscription must not count as a goal listener below
            probe.subscribe("goal_pose", PoseStamped, COMMAND_QOS)
        # best effort + volatile matches any publisher QoS (latched or not)
        probe.subscribe("/lockstep/status", String, QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.goal_pub = probe.node.create_publisher(PoseStamped, "goal_pose", COMMAND_QOS)

    # -- one look at the stack ----------------------------------------------------------------------------
    def _look(self) -> bool:
        """Read the clock, the pose and the sim's status; False (``reason`` set) when the run must end now."""
        from toponav.ros_nodes.convert import stamp_to_sec

        res, cfg = self.res, self.cfg
        self.now = time.monotonic()
        if self.stop.is_set():
            self.interrupted, res.reason = True, "interrupted (SIGINT)"
            return False
        if not self.launcher.poll():
            self.launch_reason = self.launcher.reason or "all nodes exited"
            res.reason = f"the launch stopped: {self.launch_reason}"
            return False
        if self.now - self.wall0 > cfg.wall_timeout:
            self.wall_limit, res.reason = True, f"wall-clock limit {cfg.wall_timeout:.0f} s reached"
            return False
        self.clock = self.probe.last("/clock")
        self.sim_t = stamp_to_sec(self.clock.clock) if self.clock else 0.0
        if self.clock is not None and self.first_clock is None:
            self.first_clock = (self.now, self.sim_t)
        res.sim_time = self.sim_t
        status = self.probe.last("/lockstep/status")
        if status is not None:
            res.lockstep_status = parse_lockstep_status(status.data)
            hung = [str(h) for h in res.lockstep_status.get("hung") or []]
            if hung:
                res.hung = hung
                res.reason = f"node hung: {', '.join(hung)}"
                return False
        self.pose = self.probe.last("ground_truth/pose")
        return True

    # -- wait, send ---------------------------------------------------------------------------------------
    def wait_until_active(self) -> bool:
        """Wait until the stack is up and the goal is out (sent here, or by the sim in lockstep); False when the
        run ended first (the reason is in the outcome)."""
        while self._look():
            if self._goal_out():
                time.sleep(self.POLL)
                return True
            if self.now - self.wall0 > self.START_TIMEOUT:
                self.res.reason = self._not_up()
                return False
            time.sleep(self.POLL)
        return False

    def _goal_out(self) -> bool:
        from toponav.ros_nodes.convert import stamp_to_sec

        res = self.res
        if self.sim_sends_goal:
            if self.pose is None:
                return False
            # the sim sent the goal with its first sensors (step 0)
            sent = self.probe.last("goal_pose")
            res.goal_sent_at = (stamp_to_sec(sent.header.stamp) if sent
                                else (self.first_clock[1] if self.first_clock else 0.0))
            self._goal_started()
            self.say(f"[{self.cfg.tag}] goal sent by the sim at sim t={res.goal_sent_at:.1f} s (lockstep)")
            return True
        subs = self._subs = self.goal_pub.get_subscription_count()
        ready = self.pose is not None and subs >= WANTED_GOAL_SUBSCRIBERS
        if not (ready or (self.pose is not None and self.now - self.wall0 > self.PATIENCE and subs >= 1)):
            return False
        self.send_goal(subs)
        return True

    def publish_goal(self, goal: tuple[float, float]) -> None:
        """``goal`` on /goal_pose in ``map``, stamped with the last /clock."""
        from builtin_interfaces.msg import Time

        from toponav.ros_nodes.convert import make_pose_stamped

        clock = self.clock
        self.goal_pub.publish(make_pose_stamped(goal[0], goal[1], 0.0, "map", clock.clock if clock else Time()))

    def send_goal(self, subscribers: int) -> None:
        """Publish the goal on /goal_pose, stamped with the last /clock."""
        sim_t = self.sim_t
        time.sleep(1.0)  # let the nodes finish their own start-up
        self.publish_goal(self.cfg.goal)
        self.res.goal_sent_at = sim_t
        self._goal_started()
        self.say(f"[{self.cfg.tag}] goal sent at sim t={sim_t:.1f} s ({subscribers} goal subscribers)")

    def _goal_started(self) -> None:
        self.res.cpu_at_goal = _cpu(self.launcher)
        self.started = True

    def _not_up(self) -> str:
        if self.sim_sends_goal:
            return "the stack did not come up within 120 s (no /ground_truth/pose)"
        return (f"the stack did not come up within 120 s (pose: {self.pose is not None}, "
                f"goal subscribers: {self._subs})")

    # -- track ---------------------------------------------------------------------------------------------
    def follow_goal(self) -> None:
        """Track the run until the goal is reached or it must end: the sim-time budget is spent, the planner
        has given up (or no frontier is left and the robot got no closer) for ``give_up_after`` sim seconds."""
        cfg, res = self.cfg, self.res
        gave_up_since: float | None = None
        last_report = self.sim_t
        best_d, improved_at = math.inf, 0.0  # closest approach to the goal so far, and when
        while self._look():
            sim_t, pose = self.sim_t, self.pose
            _read_planner(self.probe, res)
            if pose is not None:
                d = math.hypot(pose.pose.position.x - cfg.goal[0], pose.pose.position.y - cfg.goal[1])
                if d < best_d - 0.5:
                    best_d, improved_at = d, sim_t
                if d <= cfg.tolerance:
                    res.reached = True
                    res.time_to_goal = sim_t - (res.goal_sent_at or 0.0)
                    res.reason = f"goal reached at sim t={sim_t:.1f} s"
                    return
                if cfg.progress_every > 0 and sim_t - last_report >= cfg.progress_every:
                    last_report = sim_t
                    self._progress(d)
            if res.frontiers_left == 0 and sim_t - max(improved_at, res.goal_sent_at or 0.0) >= cfg.give_up_after:
                self.gave_up = "no frontier"
                res.reason = (f"no frontier left in the graph and no progress toward the goal for "
                              f"{cfg.give_up_after:.0f} s sim (closest {best_d:.1f} m)")
                return
            if res.planner_state in _GAVE_UP:
                gave_up_since = sim_t if gave_up_since is None else gave_up_since
                if sim_t - gave_up_since >= cfg.give_up_after:
                    self.gave_up = res.planner_state
                    res.reason = (f"the planner has reported '{res.planner_state}' for {cfg.give_up_after:.0f} s "
                                  f"sim ({res.frontiers_left} frontiers left)")
                    return
            else:
                gave_up_since = None
            if sim_t - (res.goal_sent_at or 0.0) > cfg.budget:
                self.budget_spent, res.reason = True, f"sim-time budget {cfg.budget:.0f} s spent"
                return
            time.sleep(self.POLL)

    def _progress(self, d: float) -> None:
        pose = self.pose.pose.position
        graph = self.probe.last("topo_graph")
        nodes = len(json.loads(graph.data).get("nodes", [])) if graph is not None else 0
        self.say(f"[{self.cfg.tag}] t={self.sim_t:6.1f} s  pose ({pose.x:5.1f}, {pose.y:5.1f})  {d:5.1f} m to go  "
                 f"graph {nodes} nodes  collisions {self.probe.count('collision')}")

    def failure(self) -> str:
        """The run's failure category (:func:`classify_failure`), '' on success."""
        res = self.res
        return classify_failure(
            reached=res.reached, collisions=res.live_collisions, launch_reason=self.launch_reason, hung=res.hung,
            started=self.started, planner_gave_up=self.gave_up, frontiers_left=res.frontiers_left,
            budget_spent=self.budget_spent, wall_limit=self.wall_limit, interrupted=self.interrupted)


def _read_planner(probe: Any, res: StackOutcome) -> None:
    """The planner's state and frontier count from its last /toponav/status."""
    msg = probe.last("toponav/status")
    if msg is None or not msg.status:
        return
    values = {kv.key: kv.value for kv in msg.status[0].values}
    res.planner_state = values.get("state", res.planner_state)
    if values.get("frontiers", "").isdigit():
        res.frontiers_left = int(values["frontiers"])

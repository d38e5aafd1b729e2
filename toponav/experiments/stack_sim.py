"""The full navigation stack in ONE process, without ROS: a fast, deterministic reproduction of the demo.

PyBullet :class:`AgvSim` + :class:`TopoMap` (mapper core) + :class:`SubgoalPlanner` (planner core) +
:class:`HodatController` (controller core), stepped in one loop at the node rates of
launch/sim_navigation.launch.xml with the parameters of config/sim_navigation.yaml over the dataclass
defaults. It exists to find and fix *decision* failures of the mapper and planner (exploration ending
early, frontiers outside the world, oscillation, spinning) without DDS, process scheduling or machine
load in the way: every node sees the latest inputs at every one of its ticks (what lockstep gives the
real stack), and the same world + seed gives the same trajectory.

What it does not model: message latency and the nodes' own clocks drifting apart. By default the nodes get the
true pose (the mapper's localiser still runs on it); ``--odometry wheels`` feeds them the sim's noisy odometry as
the ROS stack and `toponav bench stack`'s ``toponav`` method do: the mapper corrects it, the planner plans on the
corrected pose, the controller drives on odometry with the sub-goal brought into ``odom`` by the latest
``map <- odom`` (moved when the correction moves), as the nodes do with ``/pose``.

Rates: controller 20 Hz, scan + mapper 10 Hz, /topo_graph at most every ``publish_period`` (0.5 s) when
changed, planner 2 Hz; sim steps of 0.05 s (the controller period, physics at 100 Hz underneath).

    python -m toponav.experiments.stack_sim --families warehouse maze forest --seeds 1000000-1000004
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toponav.config import build, load_ros_params

PARAMS = Path(__file__).resolve().parents[2] / "config" / "sim_navigation.yaml"


@dataclass
class StackRun:
    """Outcome of one in-process run (the fields `toponav bench stack` reports, where they apply)."""

    world: str
    seed: int
    reached: bool
    reason: str  # reached | timeout | collision-stop | ...
    time: float  # sim s at the end
    budget: float
    shortest: float | None
    path_length: float
    spl: float
    collisions: int
    min_clearance: float
    explored_area: float
    wall: float
    # --odometry wheels: the planner's (corrected) position against the truth at its ticks, largest and last (m)
    pose_error_max: float | None = None
    pose_error_end: float | None = None
    trajectory: list[tuple[float, float]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("trajectory")
        d.pop("log")
        return d


def load_configs(params: Path | None = PARAMS, overrides: dict[str, dict[str, Any]] | None = None):
    """(SimConfig, TopoMapperConfig, PlannerConfig, HodatConfig) as the launch file gives them to the nodes."""
    from toponav.control.config import HodatConfig
    from toponav.mapping.config import TopoMapperConfig
    from toponav.planning.planner import PlannerConfig
    from toponav.sim.config import SimConfig

    overrides = overrides or {}

    def get(node: str) -> dict[str, Any]:
        vals = load_ros_params(params, node) if params is not None else {}
        vals.update(overrides.get(node, {}))
        return vals

    plan = {k.removeprefix("planner."): v for k, v in get("subgoal_planner").items() if k.startswith("planner.")}
    return (build(SimConfig, get("sim_node")), build(TopoMapperConfig, get("topo_mapper")),
            build(PlannerConfig, plan), build(HodatConfig, get("hodat_controller")))


def budget_for(shortest: float | None) -> float:
    """Sim-time budget by `toponav bench stack`'s rule (a world without a path gets the base)."""
    from toponav.experiments.bench_stack import sim_budget

    return sim_budget(shortest, 0.0)


def run_stack(world, *, budget: float | None = None, overrides: dict[str, dict[str, Any]] | None = None,
              params: Path | None = PARAMS, tolerance: float = 0.5, verbose: bool = False,
              stop_on_collision: bool = False, hook=None, boundary: bool = True, odometry: str = "true") -> StackRun:
    """Drive the whole stack in ``world`` to ``world.goal``; stops at the goal or when the budget is spent.

    ``hook(t, topomap, planner)`` is called after every mapper update (diagnostics, tests); a true return
    value ends the run (reason ``hook``). ``boundary`` gives the planner the world's bounds as its
    exploration boundary, as the planner node does from the sim's latched /world_info. ``odometry``: "true"
    (the nodes get the true pose) or "wheels" (the sim's odometry, corrected by the mapper; module docstring).
    """
    if odometry not in ("true", "wheels"):
        raise ValueError(f"odometry must be 'true' or 'wheels', not {odometry!r}")
    import torch

    from toponav.control.hodat import HodatController
    from toponav.evaluation.metrics import shortest_path_length
    from toponav.localisation.frames import MapFromOdom
    from toponav.mapping.topomap import TopoMap
    from toponav.planning.graph import PlaceGraph
    from toponav.planning.planner import SubgoalPlanner
    from toponav.sim.pybullet_agv import AgvSim

    torch.set_num_threads(1)  # as the planner node does (torch_threads): RND is tiny, threads only contend
    sim_cfg, map_cfg, plan_cfg, ctl_cfg = load_configs(params, overrides)
    shortest = shortest_path_length(world, world.start[:2], world.goal, sim_cfg.robot.radius)
    budget = budget_for(shortest) if budget is None else budget
    log: list[str] = []

    def say(level: str, msg: str, t: float) -> None:
        line = f"[{t:7.2f}] {level}: {msg}"
        log.append(line)
        if verbose:
            print(line, file=sys.stderr)

    sim = AgvSim(world, sim_cfg.robot, sim_cfg.lidar, physics_rate=sim_cfg.physics_rate, control_dt=0.05,
                 seed=sim_cfg.seed)
    angles = np.asarray(sim_cfg.lidar.angles(), dtype=np.float64)
    rmin, rmax = sim_cfg.lidar.range_min, sim_cfg.lidar.range_max
    tm = TopoMap(map_cfg)
    t_now = 0.0
    planner = SubgoalPlanner(plan_cfg, log=lambda lv, m: say(lv, m, t_now))
    ctl = HodatController(ctl_cfg)
    planner.set_goal(*world.goal)
    if boundary:
        planner.set_boundary(list(world.bounds))

    dt = 1.0 / ctl_cfg.rate
    scan_every = max(1, round((1.0 / sim_cfg.scan_rate) / dt))
    plan_every = max(1, round(0.5 / dt))
    pub_every = max(1, round(max(map_cfg.publish_period, dt) / dt))
    map_every = max(1, round(max(map_cfg.map_period, dt) / dt))
    map_version = -1
    traj = [tuple(sim.pose[:2].tolist())]
    collisions, in_contact = 0, False
    min_clear = math.inf
    dirty = True
    scan, scan_t = None, 0.0
    reason = "timeout"
    wall0 = time.perf_counter()
    last_target = None
    wheels = odometry == "wheels"
    frames = MapFromOdom()  # map <- odom as the planner and controller nodes keep it (identity until a /pose)
    subgoal_map: np.ndarray | None = None
    pose_errors: list[float] = []

    def to_odom(xy: np.ndarray) -> np.ndarray:
        return frames.to_odom(np.array([xy[0], xy[1], 0.0]))[:2]

    k = 0
    while t_now < budget:
        pose = (sim.odom_pose if wheels else sim.pose).copy()  # what the nodes get on /odom
        scan_new = k % scan_every == 0
        if scan_new:
            scan, scan_t = sim.scan(), t_now
            res = tm.update(tuple(pose), scan, angles, t_now, range_min=rmin, range_max=rmax)
            if wheels and res.pose is not None:  # /pose: map <- odom for this scan's odometry
                old = frames.transform.copy()
                frames.add_odom(t_now, pose)
                frames.add_map_pose(t_now, np.asarray(res.pose, dtype=np.float64))
                if subgoal_map is not None and not np.allclose(frames.transform, old):
                    ctl.set_subgoal(to_odom(subgoal_map))
            dirty |= res.changed
            for m in res.messages:
                if "revisit" in m or "novel" in m:
                    say("map", m, t_now)
            if hook is not None and hook(t_now, tm, planner):
                reason = "hook"
                break
        if k % pub_every == 0 and dirty:
            planner.set_graph(PlaceGraph.from_json(tm.to_json()))
            dirty = False
        grid = tm.occupancy
        if k % map_every == 0 and not grid.empty and grid.version != map_version:  # /map, as the mapper sends it
            planner.set_map(grid.to_occupancy_values(), grid.origin, grid.resolution)
            map_version = grid.version
        if k % plan_every == 0:
            mpose = frames.to_map(pose) if wheels else pose
            if wheels:
                truth = sim.pose
                pose_errors.append(math.hypot(mpose[0] - truth[0], mpose[1] - truth[1]))
            planner.set_pose(float(mpose[0]), float(mpose[1]), float(mpose[2]))
            d = planner.step(t_now)
            # hold position (what the node publishes on done/stuck/idle) when there is no sub-goal
            subgoal_map = np.asarray(d.subgoal if d.subgoal is not None else mpose[:2], dtype=np.float64)
            ctl.set_subgoal(to_odom(subgoal_map) if wheels else subgoal_map)
            tgt = None if planner.target is None else (planner.target.id, round(planner.target.x, 1),
                                                       round(planner.target.y, 1))
            if d.replanned and tgt != last_target:
                say("plan", f"{d.state.value} -> {tgt}: {d.reason}", t_now)
            last_target = tgt
        # the twist /odom carries: wheel-encoder speeds (what a robot measures), not the true base velocity
        dec = ctl.step(tuple(pose), sim.state(0).odom_twist, scan, angles, t_now, dt, rmin, rmax,
                       scan_age=t_now - scan_t, scan_new=scan_new)  # as the node passes them
        sim.step(dec.cmd, dt)
        t_now = sim.sim_time
        k += 1
        p = sim.pose
        traj.append((float(p[0]), float(p[1])))
        min_clear = min(min_clear, sim.clearance() - sim_cfg.robot.radius)
        if sim.collided and not in_contact:
            collisions += 1
            say("collision", f"#{collisions} at ({p[0]:.2f}, {p[1]:.2f}) with {sim.collisions[0].obstacle}", t_now)
            if stop_on_collision:
                reason = "collision"
                in_contact = True
                break
        in_contact = sim.collided
        if math.hypot(p[0] - world.goal[0], p[1] - world.goal[1]) <= tolerance:
            reason = "reached"
            break
    sim.close()
    xy = np.asarray(traj)
    length = float(np.sum(np.hypot(*np.diff(xy, axis=0).T))) if len(xy) > 1 else 0.0
    reached = reason == "reached"
    spl = float(reached) * (shortest or 0.0) / max(length, shortest or 0.0, 1e-9) if reached else 0.0
    return StackRun(world.name, world.seed, reached, reason, round(t_now, 2), round(budget, 1),
                    None if shortest is None else round(shortest, 2), round(length, 2), round(spl, 3), collisions,
                    round(min_clear, 3), round(tm.explored_area(), 1), round(time.perf_counter() - wall0, 1),
                    round(max(pose_errors), 3) if pose_errors else None,
                    round(pose_errors[-1], 3) if pose_errors else None,
                    [(round(a, 3), round(b, 3)) for a, b in traj[::10]], log)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return out


def main(argv: list[str] | None = None) -> int:
    from toponav.worlds import make_world

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", nargs="+", default=["warehouse", "maze", "forest"])
    ap.add_argument("--seeds", default="1000000-1000004", help="e.g. 1000000-1000004 or 0,3,5")
    ap.add_argument("--set", action="append", default=[], metavar="NODE:NAME=VALUE",
                    help="override a parameter, e.g. hodat_controller:lidar... or sim_node:lidar.beams=360")
    ap.add_argument("--odometry", choices=("true", "wheels"), default="true",
                    help="what the nodes get as odometry: the true pose, or the sim's wheel odometry (corrected by the "
                         "mapper, as `toponav bench stack`'s toponav method runs)")
    ap.add_argument("--out", type=Path, default=None, help="write the runs (JSON lines) here")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--log", action="store_true", help="print each run's decision log")
    args = ap.parse_args(argv)
    overrides: dict[str, dict[str, Any]] = {}
    for item in args.set:
        node, _, kv = item.partition(":")
        name, _, value = kv.partition("=")
        overrides.setdefault(node, {})[name] = json.loads(value) if value[:1] in "-0123456789[{tf\"" else value
    rows = []
    for fam in args.families:
        for seed in _seeds(args.seeds):
            world = make_world(fam, seed)
            r = run_stack(world, overrides=overrides, verbose=args.verbose, odometry=args.odometry)
            rows.append(r)
            print(f"{fam:9s} {seed:8d} reached={int(r.reached)} t={r.time:6.1f}/{r.budget:5.0f} coll={r.collisions} "
                  f"spl={r.spl:.2f} path={r.path_length:6.1f} short={r.shortest} clear={r.min_clearance:.2f} "
                  f"area={r.explored_area:6.0f} wall={r.wall:5.1f}s"
                  + (f" pose_err max={r.pose_error_max:.2f} end={r.pose_error_end:.2f}" if r.pose_error_max is not None
                     else ""), flush=True)
            if args.log:
                print("\n".join(r.log[-60:]))
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps({"family": fam, **r.row(), "trajectory": r.trajectory, "log": r.log}) + "\n")
    n = len(rows)
    clean = sum(r.reached and r.collisions == 0 for r in rows)
    print(f"reached {sum(r.reached for r in rows)}/{n}, clean {clean}/{n}, "
          f"collisions {sum(r.collisions for r in rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``toponav bench sim``: env steps/s of the PyBullet AGV, the numpy twin and a distance-field baseline.

All backends run side by side in one process on the same world with the same 64-beam lidar and the
same random-action policy (robots that terminate are reset, as in training), at 1, 16 and 64 robots.
PyBullet has one robot per BulletClient, so "N robots" means N sims stepped in turn. The baseline is a
plain numpy distance-field ray march (sphere tracing on a precomputed 5 cm clearance grid), the usual
quick way to vectorise a lidar. Both wall-clock and process-CPU rates are printed: on a shared machine
the CPU rate is the better estimate of what the code does alone (the load average is printed too).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toponav.config import param
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.robot import AgvParams, LidarParams
from toponav.sim.pybullet_agv import AgvSim
from toponav.sim.twin import VecAgvTwin, integrate_unicycle
from toponav.worlds import World, make_world


class DistanceFieldTwin:
    """Baseline: same kinematics as the twin, lidar by sphere tracing a clearance grid (nearest cell)."""

    def __init__(self, world: World, num_envs: int, robot: AgvParams, lidar: LidarParams, dt: float = 0.1,
                 resolution: float = 0.05, iterations: int = 40) -> None:
        self.world, self.robot, self.lidar, self.dt = world, robot, lidar, dt
        self.res, self.iterations = resolution, iterations
        xmin, ymin, xmax, ymax = world.bounds
        nx, ny = int(np.ceil((xmax - xmin) / resolution)) + 1, int(np.ceil((ymax - ymin) / resolution)) + 1
        gx, gy = np.meshgrid(xmin + resolution * np.arange(nx), ymin + resolution * np.arange(ny))
        pts = np.stack([gx.ravel(), gy.ravel()], 1)
        field = np.concatenate([world.clearance(pts[i:i + 20000]) for i in range(0, len(pts), 20000)])
        self.field = field.reshape(ny, nx).astype(np.float32)
        self.angles = lidar.angles().astype(np.float32)
        self.pose = np.tile(np.asarray(world.start, dtype=np.float64), (num_envs, 1))
        self.vel = np.zeros((num_envs, 2))

    def reset(self, ids: np.ndarray) -> None:
        self.pose[ids] = self.world.start
        self.vel[ids] = 0.0

    def _lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xmin, ymin = self.world.bounds[0], self.world.bounds[1]
        c = np.clip(((x - xmin) / self.res + 0.5).astype(np.int64), 0, self.field.shape[1] - 1)
        r = np.clip(((y - ymin) / self.res + 0.5).astype(np.int64), 0, self.field.shape[0] - 1)
        return self.field[r, c]

    def step(self, cmd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = self.robot
        v_t = np.clip(cmd[:, 0], r.min_v, r.max_v)
        w_t = np.clip(cmd[:, 1], -r.max_w, r.max_w)
        v = self.vel[:, 0] + np.clip(v_t - self.vel[:, 0], -r.max_acc_v * self.dt, r.max_acc_v * self.dt)
        w = self.vel[:, 1] + np.clip(w_t - self.vel[:, 1], -r.max_acc_w * self.dt, r.max_acc_w * self.dt)
        prev = self.pose.copy()
        integrate_unicycle(self.pose, v, w, self.dt)
        self.vel[:, 0], self.vel[:, 1] = v, w
        hit = self._lookup(self.pose[:, 0], self.pose[:, 1]) < r.radius
        self.pose[hit] = prev[hit]
        self.vel[hit] = 0.0
        px = self.pose[:, 0:1].astype(np.float32)
        py = self.pose[:, 1:2].astype(np.float32)
        th = self.pose[:, 2:3].astype(np.float32) + self.angles[None]
        ux, uy = np.cos(th), np.sin(th)
        t = np.zeros_like(ux)
        for _ in range(self.iterations):  # sphere tracing; a ray stops within half a cell of a surface
            d = self._lookup(px + t * ux, py + t * uy)
            t += np.where(d > self.res / 2, d, 0.0)
        return np.minimum(t, self.lidar.range_max), hit


def _rate(fn: Callable[[], int], seconds: float) -> tuple[float, float]:
    """Run ``fn`` (returns robot-steps done) for about ``seconds``; (wall rate, CPU rate) in robot-steps/s."""
    fn()  # warm-up
    w0, c0, steps = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - w0 < seconds:
        steps += fn()
    return steps / (time.perf_counter() - w0), steps / max(time.process_time() - c0, 1e-9)


def _actions(rng: np.random.Generator, n: int, robot: AgvParams) -> np.ndarray:
    return rng.uniform([0.0, -robot.max_w], [robot.max_v, robot.max_w], size=(n, 2))


def bench_pybullet(world: World, n: int, robot: AgvParams, lidar: LidarParams, seconds: float):
    sims = [AgvSim(world, robot, lidar, seed=i) for i in range(n)]
    rng = np.random.default_rng(0)

    def one() -> int:
        acts = _actions(rng, n, robot)
        for sim, a in zip(sims, acts, strict=True):
            sim.step(a)
            sim.scan()
            if sim.collided:
                sim.reset()
        return n

    try:
        return _rate(one, seconds)
    finally:
        for sim in sims:
            sim.close()


def bench_twin(world: World, n: int, robot: AgvParams, lidar: LidarParams, seconds: float):
    twin = VecAgvTwin(world, n, robot, lidar)
    rng = np.random.default_rng(0)

    def one() -> int:
        st = twin.step(_actions(rng, n, robot))
        if st.collided.any():
            twin.reset(np.flatnonzero(st.collided))
        return n

    return _rate(one, seconds)


def bench_distance_field(world: World, n: int, robot: AgvParams, lidar: LidarParams, seconds: float):
    df = DistanceFieldTwin(world, n, robot, lidar)
    rng = np.random.default_rng(0)

    def one() -> int:
        _, hit = df.step(_actions(rng, n, robot))
        if hit.any():
            df.reset(np.flatnonzero(hit))
        return n

    return _rate(one, seconds)


@dataclass
class SimBenchOptions:
    """``toponav bench sim``'s options."""

    worlds: str = param("barn:0,maze,forest", "comma-separated world specs")
    seed: int = param(1, "world seed for procedural families")
    robots: str = param("1,16,64", "comma-separated robot counts")
    beams: int = param(64, "lidar beams")
    seconds: float = param(2.0, "measuring time per cell")
    json: str = param("", "also write the results to this JSON file")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, SimBenchOptions)


def run(ns: argparse.Namespace) -> int:
    args = dataclass_from_args(SimBenchOptions, ns)
    robot, lidar = AgvParams(), LidarParams(beams=args.beams)
    counts = [int(c) for c in args.robots.split(",")]
    print(f"toponav bench sim: {lidar.beams}-beam lidar, dt 0.1 s, random actions, {args.seconds:.1f} s per cell")
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(shared machine: the CPU-time rate is the better estimate of the code alone)")
    results = []
    for spec in args.worlds.split(","):
        world = make_world(spec.strip(), args.seed)
        print(f"\nworld {world.name}: {len(world.circles)} circles, {len(world.boxes)} boxes")
        print(f"{'robots':>6} | {'backend':<14} | {'steps/s wall':>12} | {'steps/s CPU':>11} | {'vs PyBullet':>12}")
        for n in counts:
            row = {"world": world.name, "robots": n}
            for name, fn in (("pybullet", bench_pybullet), ("twin", bench_twin),
                             ("distance_field", bench_distance_field)):
                wall, cpu = fn(world, n, robot, lidar, args.seconds)
                row[name] = {"wall": wall, "cpu": cpu}
            base = row["pybullet"]["cpu"]
            for name in ("pybullet", "twin", "distance_field"):
                r = row[name]
                print(f"{n:>6} | {name:<14} | {r['wall']:>12,.0f} | {r['cpu']:>11,.0f} | {r['cpu'] / base:>11.1f}x")
            print(f"{'':>6}   twin / distance-field (CPU): {row['twin']['cpu'] / row['distance_field']['cpu']:.2f}x")
            results.append(row)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0

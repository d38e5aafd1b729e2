"""Measure the PyBullet AGV's wheel-odometry drift on a fixed closed path: ``python -m toponav.sim.odom_drift``.

The robot drives a square (default 10 m sides, 2 laps) counter-clockwise and, in a second run, clockwise,
as in Borenstein & Feng's UMBmark (the two directions separate a wheelbase error, which turns the same way
in both, from a wheel-diameter error, which bends the straight sides). It follows the path on the *true*
pose (as a robot guided by a reference would), so the path is the same for every noise setting and only
the odometry differs. Corners are turns on the spot. Reported per seed and direction:

- end-point error of odometry against the true pose, in % of the distance driven (UMBmark's measure; a
  pure distance-scale error cancels on a closed path, so also:)
- relative translation error over each 10 m side (odometry's motion along the side against the true
  one, in the side's start frame), in % of the side: what a scale error and a bending side do;
- yaw error per 360 degrees turned (end yaw error / laps).

Two settings side by side, same seeds and paths: yaw from the wheel difference (``odom_heading: wheels``) and
yaw from the gyro (the default: gyrodometry, sim/odometry.py). ``--before`` also runs them with every
odometry noise term at 0 and yaw from the wheels (what the sim had before issue 17: only physics' wheel
slip). Numbers and the command that made them are in
docs/simulation.md ("Sensor noise").
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from toponav.geometry import se2_between, wrap_angle
from toponav.robot import AgvParams, LidarParams
from toponav.sim.pybullet_agv import AgvSim
from toponav.worlds.model import World

#: Every wheel-odometry noise term of AgvParams at 0 and yaw from the wheels: the "before" run.
NOISELESS = {"odom_scale_std": 0.0, "odom_wheel_ratio_std": 0.0, "odom_wheelbase_std": 0.0,
             "odom_drift_v": 0.0, "odom_drift_w": 0.0, "odom_heading": "wheels"}


def flat_world(side: float) -> World:
    """Obstacle-free flat floor with room for a square of ``side`` metres starting at (0, 0) heading +x."""
    m = side + 4.0
    return World(name="odom-square", family="test", seed=0, bounds=(-m, -m, m, m), start=(0.0, 0.0, 0.0),
                 goal=(side, 0.0))


@dataclasses.dataclass
class SquareRun:
    """One run of the square: distances (m), errors (m, rad) and the per-side relative errors (fraction)."""

    seed: int
    direction: int  # +1 counter-clockwise, -1 clockwise
    distance: float
    turned: float  # rad, absolute
    end_error: float
    end_yaw_error: float
    side_errors: list[float]

    @property
    def end_error_pct(self) -> float:
        return 100.0 * self.end_error / self.distance

    @property
    def yaw_deg_per_turn(self) -> float:
        return math.degrees(abs(self.end_yaw_error)) / (self.turned / (2 * math.pi))


def _turn_to(sim: AgvSim, heading: float, dt: float) -> None:
    """Turn on the spot to ``heading`` (true yaw), easing in so the ramp does not overshoot."""
    for _ in range(int(20.0 / dt)):
        err = float(wrap_angle(heading - sim.pose[2]))
        if abs(err) < 0.003 and abs(sim.vel[1]) < 0.02:
            return
        sim.step(np.array([0.0, float(np.clip(1.5 * err, -1.0, 1.0))]), dt)


def _drive_side(sim: AgvSim, a: np.ndarray, b: np.ndarray, speed: float, dt: float) -> None:
    """Drive the straight a -> b on the true pose (heading + cross-track feedback), stopping at b."""
    u = (b - a) / np.linalg.norm(b - a)
    heading = math.atan2(u[1], u[0])
    for _ in range(int(4 * np.linalg.norm(b - a) / speed / dt)):
        p = sim.pose
        rel = p[:2] - a
        along = float(np.linalg.norm(b - a) - rel @ u)
        cross = float(u[0] * rel[1] - u[1] * rel[0])
        if along < 0.01 and abs(sim.vel[0]) < 0.02:
            return
        v = float(np.clip(1.2 * along, 0.0, speed))
        w = 2.0 * float(wrap_angle(heading - p[2])) - 1.5 * cross
        sim.step(np.array([v, float(np.clip(w, -0.5, 0.5))]), dt)


def drive_square(robot: AgvParams, seed: int, direction: int = 1, side: float = 10.0, laps: int = 2,
                 speed: float = 0.8, dt: float = 0.05) -> SquareRun:
    """Drive ``laps`` laps of a ``side`` m square (``direction`` +1 CCW, -1 CW) and compare odometry to truth."""
    sim = AgvSim(flat_world(side), robot, LidarParams(beams=8), control_dt=dt, seed=seed)
    try:
        corners = [np.array(c, dtype=np.float64) for c in
                   [(0.0, 0.0), (side, 0.0), (side, direction * side), (0.0, direction * side)]]
        distance = 0.0
        side_errors: list[float] = []
        for k in range(4 * laps):
            a, b = corners[k % 4], corners[(k + 1) % 4]
            heading = math.atan2(*(b - a)[::-1])
            _turn_to(sim, heading, dt)
            true0, odom0 = sim.pose.copy(), sim.odom_pose.copy()
            _drive_side(sim, a, b, speed, dt)
            true1, odom1 = sim.pose.copy(), sim.odom_pose.copy()
            moved = se2_between(true0, true1)
            distance += float(np.hypot(*moved[:2]))
            side_errors.append(float(np.hypot(*(se2_between(odom0, odom1)[:2] - moved[:2])) / np.hypot(*moved[:2])))
        _turn_to(sim, 0.0, dt)  # back to the start heading: laps x 360 degrees turned in all
        turned = laps * 2 * math.pi
        truth, odom = sim.pose, sim.odom_pose
        return SquareRun(seed=seed, direction=direction, distance=distance, turned=turned,
                         end_error=float(np.hypot(*(odom[:2] - truth[:2]))),
                         end_yaw_error=float(wrap_angle(odom[2] - truth[2])), side_errors=side_errors)
    finally:
        sim.close()


def summarise(runs: Sequence[SquareRun]) -> dict[str, float]:
    """Means and maxima over runs: end-point error (% of distance), side error (% of side), yaw (deg / 360)."""
    end = np.array([r.end_error_pct for r in runs])
    sides = 100.0 * np.concatenate([r.side_errors for r in runs])
    yaw = np.array([r.yaw_deg_per_turn for r in runs])
    return {"end_pct_mean": float(end.mean()), "end_pct_max": float(end.max()),
            "side_pct_mean": float(sides.mean()), "side_pct_max": float(sides.max()),
            "yaw_deg_mean": float(yaw.mean()), "yaw_deg_max": float(yaw.max())}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..n-1 (each one robot's calibration errors)")
    parser.add_argument("--side", type=float, default=10.0, help="side of the square (m)")
    parser.add_argument("--laps", type=int, default=2, help="laps per direction")
    parser.add_argument("--speed", type=float, default=0.8, help="cruise speed on the sides (m/s)")
    parser.add_argument("--before", action="store_true", help="also run with every odometry noise term at 0")
    parser.add_argument("--per-run", action="store_true", help="print every run, not only the summary")


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.laps < 1 or args.side <= 0 or args.speed <= 0:
        print("odom_drift: --seeds, --laps, --side and --speed must be positive", file=sys.stderr)
        return 2
    settings = {"yaw from the wheels (odom_heading wheels)": AgvParams(odom_heading="wheels"),
                "yaw from the gyro (defaults)": AgvParams()}
    if args.before:
        settings = {"before (no odometry noise)": AgvParams(**NOISELESS), **settings}
    load = os.getloadavg()[0]
    t0 = time.process_time()
    print(f"square {args.side:g} m x {args.laps} laps, CCW and CW, seeds 0..{args.seeds - 1}, "
          f"{args.speed:g} m/s; load average {load:.1f}")
    header = "| setting | end-point error, % of distance (mean / max) | error per 10 m side, % (mean / max) " \
             "| yaw error per 360 deg, deg (mean / max) |"
    rows = []
    for name, robot in settings.items():
        runs = [drive_square(robot, seed, d, args.side, args.laps, args.speed)
                for seed in range(args.seeds) for d in (1, -1)]
        if args.per_run:
            for r in runs:
                print(f"  {name} seed {r.seed} {'CCW' if r.direction > 0 else 'CW '}: end {r.end_error_pct:.2f} % "
                      f"({r.end_error:.3f} m of {r.distance:.1f} m), sides "
                      f"{', '.join(f'{100 * e:.2f}' for e in r.side_errors)} %, yaw {r.yaw_deg_per_turn:.2f} deg/360")
        s = summarise(runs)
        rows.append(f"| {name} | {s['end_pct_mean']:.2f} / {s['end_pct_max']:.2f} | {s['side_pct_mean']:.2f} / "
                    f"{s['side_pct_max']:.2f} | {s['yaw_deg_mean']:.2f} / {s['yaw_deg_max']:.2f} |")
    print(header)
    print("|---|---|---|---|")
    print("\n".join(rows))
    print(f"CPU {time.process_time() - t0:.0f} s; load average at end {os.getloadavg()[0]:.1f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toponav.sim.odom_drift", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

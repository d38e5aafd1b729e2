"""Wheel-odometry error model shared by the PyBullet AGV and the numpy twin.

Real differential-drive odometry drifts mostly through *systematic* errors (Borenstein & Feng 1996,
"Measurement and correction of systematic odometry errors in mobile robots", IEEE T-RA 12(6), the UMBmark
paper): the effective wheel radii differ from the nominal ones (a common scale error, E_s, and a left/right
ratio, E_d) and the effective wheelbase differs from the measured one (E_b, the tyres' contact patches are
centimetres wide). They are fixed for a run (a robot's tyres do not change between two calibrations), so
they are drawn once per robot when a sim is reset, from its seeded Generator. On top comes a random part:
each wheel's travel error has a variance proportional to the distance it rolled (Chong & Kleeman 1997,
"Accurate odometry and error modelling for a mobile robot", ICRA; Siegwart & Nourbakhsh, *Introduction to
Autonomous Mobile Robots*, sec. 5.2.4), plus a random yaw error while turning (tyre scrub). Both random
terms grow with the square root of distance / angle, so they do not depend on how often odometry is
integrated (the sim node integrates every 10 ms tick, the benches every 50-100 ms).

The numbers behind the defaults (``toponav.robot.AgvParams``) and the drift they give are in
docs/simulation.md ("Sensor noise"); ``python -m toponav.sim.odom_drift`` measures it.
"""

from __future__ import annotations

import numpy as np

from toponav.geometry import wrap_angle
from toponav.robot import AgvParams

#: Columns of the (n, 3) array :func:`draw_odometry_errors` returns.
ERROR_COLUMNS = ("scale_left", "scale_right", "scale_wheelbase")


def draw_odometry_errors(rng: np.random.Generator, robot: AgvParams, n: int) -> np.ndarray:
    """(n, 3) per-robot calibration errors: the factors by which the radii (left, right) and the wheelbase that
    the odometry believes in differ from the true ones (1.0 = perfectly calibrated).

    Always draws 3 x n standard normals, whatever the stds, so the rest of the Generator's stream (lidar
    noise) does not shift when a std is set to 0.
    """
    z = rng.standard_normal((n, 3))
    scale = 1.0 + robot.odom_scale_std * z[:, 0]  # E_s: both wheels (tyre load, pressure, wear)
    ratio = robot.odom_wheel_ratio_std * z[:, 1]  # E_d - 1: right radius / left radius
    base = 1.0 + robot.odom_wheelbase_std * z[:, 2]  # E_b: effective / nominal wheelbase
    return np.stack([scale * (1.0 - ratio / 2), scale * (1.0 + ratio / 2), base], axis=1)


def dead_reckon(pose: np.ndarray, travel: np.ndarray, errors: np.ndarray, robot: AgvParams,
                rng: np.random.Generator) -> np.ndarray:
    """Advance (n, 3) odometry poses in place by the wheels' true travel (n, 2: left, right arc length, m).

    The encoders count the true wheel rotation; the odometry turns it into distance with its believed radii
    and into yaw with its believed wheelbase (``errors`` from :func:`draw_odometry_errors`), adds the random
    part, and integrates at the mid-point heading. Returns the (n, 2) increments (ds, dth) it integrated.
    Always draws 3 x n standard normals (fixed stream, as above).
    """
    travel = np.asarray(travel, dtype=np.float64).reshape(-1, 2)
    z = rng.standard_normal((len(travel), 3))
    wheels = travel * errors[:, :2] + robot.odom_drift_v * np.sqrt(np.abs(travel)) * z[:, :2]
    ds = wheels.sum(axis=1) / 2
    dth = (wheels[:, 1] - wheels[:, 0]) / (robot.wheel_base * errors[:, 2])
    dth = dth + robot.odom_drift_w * np.sqrt(np.abs(dth)) * z[:, 2]
    mid = pose[:, 2] + dth / 2
    pose[:, 0] += ds * np.cos(mid)
    pose[:, 1] += ds * np.sin(mid)
    pose[:, 2] = wrap_angle(pose[:, 2] + dth)
    return np.stack([ds, dth], axis=1)

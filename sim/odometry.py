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

Heading (``AgvParams.odom_heading``): by default the yaw increment comes from a gyro, as on real AGV bases
(Borenstein & Feng 1996, "Gyrodometry: a new method for combining data from gyros and odometry in mobile
robots", ICRA; the Kobuki base integrates its gyro for heading): the true yaw change times a per-run scale
error, plus a per-run residual bias times dt, plus white rate noise (a random walk in yaw). Wheel slip and tyre
scrub then reach the distance only. ``odom_heading: wheels`` restores yaw from the wheel difference.

The numbers behind the defaults (``toponav.robot.AgvParams``) and the drift they give are in
docs/simulation.md ("Sensor noise"); ``python -m toponav.sim.odom_drift`` measures it.
"""

from __future__ import annotations

import numpy as np

from toponav.geometry import wrap_angle
from toponav.robot import AgvParams

#: Columns of the (n, 5) array :func:`draw_odometry_errors` returns.
ERROR_COLUMNS = ("scale_left", "scale_right", "scale_wheelbase", "scale_gyro", "bias_gyro")
#: A perfectly calibrated robot's row of that array (no error in any column).
CALIBRATED = np.array([1.0, 1.0, 1.0, 1.0, 0.0])


def draw_odometry_errors(rng: np.random.Generator, robot: AgvParams, n: int) -> np.ndarray:
    """(n, 5) per-robot calibration errors: the factors by which the radii (left, right) and the wheelbase that
    the odometry believes in differ from the true ones (1.0 = perfectly calibrated), the gyro's scale factor
    (1.0 = exact) and its residual bias (rad/s).

    Always draws 5 x n standard normals, whatever the stds, so the rest of the Generator's stream (lidar
    noise) does not shift when a std is set to 0 or the heading source changes.
    """
    z = rng.standard_normal((n, 5))
    scale = 1.0 + robot.odom_scale_std * z[:, 0]  # E_s: both wheels (tyre load, pressure, wear)
    ratio = robot.odom_wheel_ratio_std * z[:, 1]  # E_d - 1: right radius / left radius
    base = 1.0 + robot.odom_wheelbase_std * z[:, 2]  # E_b: effective / nominal wheelbase
    gyro_scale = 1.0 + robot.gyro_scale_std * z[:, 3]
    gyro_bias = robot.gyro_bias_std * z[:, 4]
    return np.stack([scale * (1.0 - ratio / 2), scale * (1.0 + ratio / 2), base, gyro_scale, gyro_bias], axis=1)


def dead_reckon(pose: np.ndarray, travel: np.ndarray, errors: np.ndarray, robot: AgvParams,
                rng: np.random.Generator, true_dth: np.ndarray | None = None, dt: float = 0.0,
                wheel_pose: np.ndarray | None = None) -> np.ndarray:
    """Advance (n, 3) odometry poses in place by the wheels' true travel (n, 2: left, right arc length, m).

    The encoders count the true wheel rotation; the odometry turns it into distance with its believed radii
    and into yaw with its believed wheelbase (``errors`` from :func:`draw_odometry_errors`), adds the random
    part, and integrates at the mid-point heading. With ``robot.odom_heading == "gyro"`` the yaw increment is
    the gyro's instead: ``true_dth`` (n,: the body's true yaw change over the ``dt`` seconds) with this run's
    scale error and bias plus rate noise. ``wheel_pose`` (n, 3), when given, is advanced by the wheels alone (yaw
    from the wheel difference, same draws): what the encoders give without the gyro, for evaluation. Returns the
    (n, 2) increments (ds, dth) it integrated into ``pose``. Always draws 4 x n standard normals (fixed stream).
    """
    travel = np.asarray(travel, dtype=np.float64).reshape(-1, 2)
    z = rng.standard_normal((len(travel), 4))
    wheels = travel * errors[:, :2] + robot.odom_drift_v * np.sqrt(np.abs(travel)) * z[:, :2]
    ds = wheels.sum(axis=1) / 2
    wheel_dth = (wheels[:, 1] - wheels[:, 0]) / (robot.wheel_base * errors[:, 2])
    wheel_dth = wheel_dth + robot.odom_drift_w * np.sqrt(np.abs(wheel_dth)) * z[:, 2]
    if robot.odom_heading == "gyro":
        if true_dth is None:
            raise ValueError("gyro heading needs the true yaw change (true_dth)")
        rate_noise = robot.gyro_noise_density / np.sqrt(dt) if dt > 0 else 0.0  # white noise, std per sample
        dth = np.asarray(true_dth, dtype=np.float64) * errors[:, 3] + (errors[:, 4] + rate_noise * z[:, 3]) * dt
    else:
        dth = wheel_dth
    _integrate(pose, ds, dth)
    if wheel_pose is not None:
        _integrate(wheel_pose, ds, wheel_dth)
    return np.stack([ds, dth], axis=1)


def _integrate(pose: np.ndarray, ds: np.ndarray, dth: np.ndarray) -> None:
    """Advance (n, 3) poses in place by distance ``ds`` at the mid-point heading and yaw ``dth``."""
    mid = pose[:, 2] + dth / 2
    pose[:, 0] += ds * np.cos(mid)
    pose[:, 1] += ds * np.sin(mid)
    pose[:, 2] = wrap_angle(pose[:, 2] + dth)

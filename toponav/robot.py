"""Robot and sensor parameters shared by the sim, the training twin, the controller and the mapper.

Defaults describe a small differential-drive AGV (about a Clearpath Jackal's footprint, the robot of
the BARN benchmark) with a 2-D lidar. Units: metres, seconds, radians (REP 103).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toponav.config import param


@dataclass
class AgvParams:
    """Differential-drive base: footprint, limits and odometry noise."""

    radius: float = param(0.25, "footprint radius (m), robot modelled as a disc", min=0.01)
    wheel_base: float = param(0.38, "distance between the wheels (m)", min=0.01)
    wheel_radius: float = param(0.1, "wheel radius (m)", min=0.01)
    max_v: float = param(1.0, "max forward speed (m/s)", min=0.0)
    min_v: float = param(-0.2, "max reverse speed (m/s, <= 0)", max=0.0)
    max_w: float = param(1.5, "max yaw rate (rad/s)", min=0.0)
    max_acc_v: float = param(2.0, "max linear acceleration (m/s^2)", min=0.0)
    max_acc_w: float = param(4.0, "max angular acceleration (rad/s^2)", min=0.0)
    # Wheel-odometry errors of the simulated robot (sim and twin; sim/odometry.py, docs/simulation.md "Sensor
    # noise"). Systematic ones are drawn once per run from the seeded generator (Borenstein & Feng 1996, UMBmark:
    # unequal wheel diameters and an uncertain effective wheelbase dominate); random ones grow with sqrt(distance).
    odom_scale_std: float = param(0.01, "per-run std of the odometry's wheel-radius scale error, both wheels "
                                  "(fraction; tyre load/pressure/wear, UMBmark E_s)", min=0.0, max=0.5)
    odom_wheel_ratio_std: float = param(0.0005, "per-run std of the right/left wheel-radius ratio error (fraction; "
                                        "UMBmark E_d - 1): makes straight runs curve", min=0.0, max=0.5)
    odom_wheelbase_std: float = param(0.005, "per-run std of the effective wheelbase error (fraction; UMBmark "
                                      "E_b - 1; tyre contact patches are cm wide): yaw error per turn",
                                      min=0.0, max=0.5)
    odom_drift_v: float = param(0.002, "random wheel-travel error: std of each wheel's distance error after 1 m "
                                "rolled (m/sqrt(m); variance grows with distance, Chong & Kleeman 1997)", min=0.0)
    odom_drift_w: float = param(0.005, "random yaw error while turning (tyre scrub): std after 1 rad turned "
                                "(rad/sqrt(rad))", min=0.0)
    # Heading source of the odometry. Real AGV bases integrate a MEMS gyro's yaw rate for heading and the wheels
    # only for distance (Borenstein & Feng 1996, "Gyrodometry"; the Kobuki/TurtleBot 2 base does this): wheel
    # slip and tyre scrub, which make wheel-difference yaw drift on turns and slopes, do not reach it. Noise
    # from the Bosch BMI088 datasheet (docs/simulation.md "Sensor noise").
    odom_heading: str = param("gyro", "odometry yaw from the gyro (wheels give distance only) or from the wheel "
                              "difference", choices=("gyro", "wheels"))
    gyro_noise_density: float = param(2.44e-4, "gyro rate noise density (rad/s/sqrt(Hz); BMI088 0.014 deg/s/"
                                      "sqrt(Hz)): yaw random walk", min=0.0)
    gyro_bias_std: float = param(1.75e-4, "per-run std of the gyro's residual bias after the base's standstill "
                                 "calibration (rad/s; 0.01 deg/s)", min=0.0)
    gyro_scale_std: float = param(0.005, "per-run std of the gyro's scale-factor error (fraction; BMI088 "
                                  "sensitivity tolerance +-1 %)", min=0.0, max=0.5)


@dataclass
class LidarParams:
    """Planar lidar: beams spread evenly over the field of view, centred on the robot's +x axis.

    The default is a common 360° robot lidar at 1°: 360 samples per revolution, as the ROBOTIS LDS-01 of the
    TurtleBot3 (360 samples, 1°) or a Slamtec RPLIDAR A1/A2 (about 1°). At 1° two beams are 3.5 cm apart at
    2 m; the old 64-beam default left 0.2 m holes there, through which thin pillars were missed. Its range noise
    (std 1 cm + 1 % of the range) is of that class of lidar too (docs/simulation.md, "Sensor noise"; an industrial
    scanner such as a SICK TiM5xx: ``noise_std=0.02, noise_range=0``).
    """

    beams: int = param(360, "number of beams (360 = 1 degree over 360 degrees)", min=1)
    fov: float = param(6.283185307179586, "field of view (rad); 2*pi for 360 degrees", min=0.01, max=6.283185307179586)
    range_min: float = param(0.05, "minimum range (m)", min=0.0)
    range_max: float = param(8.0, "maximum range (m); no return reads as inf in LaserScan", min=0.1)
    noise_std: float = param(0.01, "gaussian range noise std, constant part (m); the sim's and twin's noise is "
                             "noise_std + noise_range * range (docs/simulation.md 'Sensor noise')", min=0.0)
    noise_range: float = param(0.01, "gaussian range noise std, part proportional to the range (fraction; LDS-02 "
                               "datasheet: +-3 % over 0.3-6 m, a 360-degree triangulation lidar as the default's)",
                               min=0.0, max=0.5)
    mount_height: float = param(0.3, "height of the scan plane above the ground (m)", min=0.0)

    def angles(self):
        """Beam angles in the sensor frame, LaserScan convention: angle_min + i * angle_increment."""
        import numpy as np

        full = abs(self.fov - 2 * np.pi) < 1e-9
        inc = self.fov / self.beams if full else self.fov / max(self.beams - 1, 1)
        return -self.fov / 2 + inc * np.arange(self.beams)


@dataclass
class RobotConfig:
    """Everything about the mobile base and its lidar, as one nested config (``robot.radius``, ``lidar.beams``)."""

    robot: AgvParams = field(default_factory=AgvParams)
    lidar: LidarParams = field(default_factory=LidarParams)

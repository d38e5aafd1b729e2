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
    odom_drift_v: float = param(0.0, "odometry linear scale error std (fraction)", min=0.0)
    odom_drift_w: float = param(0.0, "odometry yaw-rate error std (rad/s per rad/s)", min=0.0)


@dataclass
class LidarParams:
    """Planar lidar: beams spread evenly over the field of view, centred on the robot's +x axis.

    The default is a common 360° robot lidar at 1°: 360 samples per revolution, as the ROBOTIS LDS-01 of the
    TurtleBot3 (360 samples, 1°) or a Slamtec RPLIDAR A1/A2 (about 1°). At 1° two beams are 3.5 cm apart at
    2 m; the old 64-beam default left 0.2 m holes there, through which thin pillars were missed.
    """

    beams: int = param(360, "number of beams (360 = 1 degree over 360 degrees)", min=1)
    fov: float = param(6.283185307179586, "field of view (rad); 2*pi for 360 degrees", min=0.01, max=6.283185307179586)
    range_min: float = param(0.05, "minimum range (m)", min=0.0)
    range_max: float = param(8.0, "maximum range (m); no return reads as inf in LaserScan", min=0.1)
    noise_std: float = param(0.0, "gaussian range noise std (m)", min=0.0)
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

"""Parameters of the ROS sim node (``sim_node``), one dataclass; ROS names mirror the fields (``lidar.beams``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from toponav.config import param
from toponav.robot import AgvParams, LidarParams


@dataclass
class CameraConfig:
    """Optional forward depth camera -> /points (PointCloud2 in base_link)."""

    enabled: bool = param(False, "publish a depth-camera point cloud on /points")
    width: int = param(64, "image width (px)", min=4, max=640)
    height: int = param(48, "image height (px)", min=4, max=480)
    fov_deg: float = param(70.0, "vertical field of view (deg)", min=10.0, max=150.0)
    far: float = param(6.0, "far clip / max range (m)", min=0.5)
    rate: float = param(2.0, "publish rate (Hz, sim time)", min=0.1, max=30.0)


@dataclass
class SimConfig:
    """Everything the sim node reads at start-up (``world``/``seed`` are read again on ~/reset)."""

    world: str = param("empty", "world spec: warehouse|maze|forest|empty|barn:<i>|path.json")
    seed: int = param(0, "world seed (procedural families) and noise seed", min=0)
    physics_rate: float = param(100.0, "fixed physics step rate (Hz)", min=20.0, max=2000.0)
    tick: float = param(0.01, "sim seconds advanced per tick; /clock resolution", min=0.001, max=0.1)
    real_time_factor: float = param(1.0, "sim seconds per wall second; 0 = as fast as possible", min=0.0)
    scan_rate: float = param(10.0, "/scan rate (Hz, sim time)", min=0.1, max=100.0)
    odom_rate: float = param(20.0, "/odom and /ground_truth/pose rate (Hz, sim time)", min=0.1, max=200.0)
    cmd_timeout: float = param(0.5, "stop the robot when /cmd_vel is older than this (s, sim time)", min=0.01)
    odometry: str = param("wheels", "source of /odom's pose: wheel-encoder dead reckoning, or the true pose (a "
                          "stand-in for a localisation system such as AMCL/SLAM correcting the drift)",
                          choices=("wheels", "ground_truth"))
    odom_at_start_pose: bool = param(True, "odom frame = map frame at t=0 (odometry starts at the world's start)")
    headless: bool = param(True, "PyBullet in DIRECT mode; false only warns (no GUI in this build)")
    robots: list[str] = param([""], "robot namespaces, one robot each ('' = no namespace)")  # noqa: RUF009
    lockstep: bool = param(False, "advance sim time one step only when every node in lockstep_nodes has "
                           "acked the step (reproducible runs, load-independent); real_time_factor is then an "
                           "upper bound on speed (0 = as fast as the nodes allow). One barrier for all robots")
    lockstep_nodes: list[str] = param(  # noqa: RUF009
        ["topo_mapper", "subgoal_planner", "hodat_controller"],
        "node names that take part in the lockstep barrier (their outputs change the run), relative to the sim's "
        "namespace (robot1/topo_mapper for a robot's node under a multi-robot sim) or absolute")
    lockstep_recorder: bool = param(False, "lockstep: also wait for bag_recorder's hello before the first step, so "
                                    "the bag holds the run from t=0 (it never acks: recording cannot slow the run)")
    step_period: float = param(0.05, "lockstep: sim seconds per step (the controller period); a multiple of tick",
                               min=0.001, max=1.0)
    lockstep_timeout: float = param(15.0, "lockstep: wall seconds a node may take to ack a step before it is "
                                    "reported hung and dropped from the barrier", min=0.1)
    lockstep_startup_timeout: float = param(90.0, "lockstep: wall seconds to wait for every participant's hello "
                                            "before stepping without the missing ones (reported hung)", min=0.1)
    send_goal: bool = param(False, "publish the world's goal on /goal_pose once at start-up (lockstep: before "
                            "step 1, so the whole run is reproducible)")
    robot: AgvParams = field(default_factory=AgvParams)
    lidar: LidarParams = field(default_factory=LidarParams)
    camera: CameraConfig = field(default_factory=CameraConfig)

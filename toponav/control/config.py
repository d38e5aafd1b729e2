"""Config dataclasses for the HODAT controller: one source of defaults for the core, node and drivers.

Every weight and threshold here is this project's own choice (TopoNav publishes none), set so the
disc robot of :class:`toponav.robot.AgvParams` stops before touching obstacles at full speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toponav.config import param
from toponav.robot import AgvParams

MODES = ("learned", "dwa", "safety_only")


@dataclass
class ScanConfig:
    """How raw scans are cleaned before anything else sees them."""

    max_invalid_fraction: float = param(
        0.5, "above this fraction of NaN beams the scan counts as blind and the safety layer stops", min=0.0, max=1.0)
    range_max: float = param(8.0, "ranges above this (and +inf, 'no return') read as this (m)", min=0.1)


@dataclass
class SafetyConfig:
    """The layer that always has the last word: time-to-collision and clearance from the scan."""

    margin: float = param(0.05, "extra clearance kept around the footprint (m)", min=0.0)
    speed_margin: float = param(
        0.0, "more clearance at full speed (m), growing with the square of the speed (as the stopping distance does): "
             "margin + this x (|v| / max_v)^2; what uneven ground needs, where a tilted chassis and a lagging base "
             "reach past the disc the scan sees", min=0.0)
    horizon: float = param(1.5, "how far ahead the commanded arc is checked (s)", min=0.1)
    dt: float = param(0.1, "time step of the arc check (s)", min=0.005)
    brake_decel: float = param(1.5, "deceleration assumed for stopping (m/s^2); below the robot's max", min=0.05)
    reaction_time: float = param(0.15, "latency budget before braking starts (s)", min=0.0)
    turn_rate: float = param(0.8, "yaw rate used to turn away when blocked (rad/s)", min=0.0)
    turn_clearance: float = param(0.15, "turn away when free space ahead is below this (m) and the command is blocked",
                                  min=0.0)
    max_gap: float = param(
        0.1, "blind (zero command) when the directions the motion sweeps hold a hole of valid beams wider than this "
             "(rad; 0.1 = 5.7 deg: a 360-beam lidar may drop 4 beams in a row, a 64-beam one none)", min=0.001)


@dataclass
class MemoryConfig:
    """Short-memory obstacle layer of the safety check: recent lidar hits, odom frame (see control/memory.py)."""

    enabled: bool = param(True, "check obstacles seen in the last `duration` s too, not only the current scan")
    duration: float = param(2.5, "hits older than this are forgotten (s)", min=0.0)
    radius: float = param(3.0, "hits farther than this from the robot are not kept (m)", min=0.1)
    resolution: float = param(0.05, "one remembered point per cell of this size (m)", min=0.005)
    clear_width: float = param(0.02, "a newer beam passing within this of a remembered point clears it ... (m)",
                               min=0.0)
    clear_beyond: float = param(0.1, "... when its return lies at least this much farther (m)", min=0.0)


@dataclass
class DwaConfig:
    """Dynamic-window local planner: sample (v, ω), roll arcs out, score clearance/heading/velocity."""

    v_samples: int = param(9, "linear velocity samples in the dynamic window", min=2)
    w_samples: int = param(21, "angular velocity samples in the dynamic window", min=3)
    horizon: float = param(1.5, "rollout horizon (s)", min=0.1)
    dt: float = param(0.1, "rollout step (s)", min=0.01)
    window_time: float = param(0.3, "dynamic window = current velocity ± acceleration × this (s)", min=0.01)
    heading_weight: float = param(1.0, "weight of the heading-to-goal cost", min=0.0)
    progress_weight: float = param(1.5, "weight of the distance-to-goal-after-rollout cost", min=0.0)
    clearance_weight: float = param(0.6, "weight of the inverse-clearance cost", min=0.0)
    velocity_weight: float = param(0.4, "weight of the 'not at full speed' cost", min=0.0)
    clearance_cap: float = param(1.0, "clearance above this (m) costs nothing more", min=0.01)
    margin: float = param(0.06, "trajectories closer than footprint + this to an obstacle are rejected (m)", min=0.0)
    speed_margin: float = param(
        0.0, "a trajectory at speed v needs margin + this x (v / max_v)^2 (m): keeps fast arcs off obstacles while "
             "slow ones may still take a narrow gap", min=0.0)


@dataclass
class LocalPlanConfig:
    """Local costmap carrot: route to the sub-goal around what the lidar has seen (unknown counts as free).

    A sub-goal straight behind a shelf corner is a local minimum for DWA and the policy alike; planning on a
    rolling grid of lidar hits and steering at a point ``lookahead`` metres along that path removes it.
    """

    enabled: bool = param(True, "steer at a carrot on a path planned over the lidar hits, not straight at the target")
    window: float = param(16.0, "side of the square rolling grid around the robot (m)", min=2.0)
    resolution: float = param(0.1, "grid cell size (m)", min=0.01)
    inflate: float = param(0.1, "obstacles are grown by the robot radius plus this (m)", min=0.0)
    tight_inflate: float = param(
        0.02, "when no path leaves the robot with obstacles grown by inflate, plan with them grown by the radius "
        "plus this (m); >= inflate turns the fallback off", min=0.0)
    clear_closer: float = param(
        0.6, "raytrace clearing: a hit cell is dropped when a beam of a scan taken from nearer than this fraction of "
        "the range the cell was marked from passes through it and returns beyond (noisy returns off door posts "
        "closed 1 m doors); 0 = hits are kept for the window's lifetime", min=0.0, max=1.0)
    lookahead: float = param(2.0, "carrot distance along the planned path (m)", min=0.1)
    pass_distance: float = param(
        1.0, "a carrot on the way (not the target itself) is handed to the local planner at least this far (m, in "
        "its bearing; never past the target): DWA slows down near its goal, and a carrot half a metre ahead of a "
        "robot beside a tree made it creep; 0 = the carrot's own distance", min=0.0)
    replan_every: int = param(5, "control steps between two plans (the grid gains hits every step)", min=1)


@dataclass
class ObservationConfig:
    """Observation of the learned policy (also stored in its checkpoint)."""

    sectors: int = param(32, "lidar down-sampled to this many sectors over 360 deg (min range per sector)", min=4)
    lidar_clip: float = param(4.0, "lidar ranges clipped (and normalised) to this (m)", min=0.5)
    subgoal_clip: float = param(5.0, "sub-goal distance clipped (and normalised) to this (m)", min=0.5)


@dataclass
class HodatConfig:
    """Everything the controller core needs; ROS parameters mirror these nested names."""

    rate: float = param(20.0, "cmd_vel publishing rate on the node clock (Hz)", min=1.0, max=200.0)
    scan_timeout: float = param(0.5, "stop when the newest /scan is older than this (s)", min=0.01)
    odom_timeout: float = param(0.5, "stop when the newest /odom is older than this (s)", min=0.01)
    goal_fallback: bool = param(False, "drive to /goal_pose when no sub-goal was received (lowest priority)")
    # DWA by default: the mode the full stack ran collision-free with in `toponav bench stack` (18/18 runs: 15
    # held-out worlds + 3 maps, README); the learned policy collided in every full-stack run reported in issue 16
    # (docs/deployment.md)
    mode: str = param("dwa", "local planner: learned policy, DWA baseline, or safety_only pursuit", choices=MODES)
    checkpoint: str = param("", "policy checkpoint path; empty = the shipped models/checkpoints/avoidance_policy.pt")
    # 0.15, not 0.3: the planner hands over the goal as the last sub-goal once its (corrected) pose is within its
    # 0.5 m, and a user checks arrival on the true pose with the same 0.5 m; stopping 0.3 m short by a pose that is
    # 0.27 m off ended 0.56 m from the goal (bench stack, forests 1000000 / 1000001, 2026-12-07)
    goal_tolerance: float = param(0.15, "sub-goal counts as reached within this distance (m)", min=0.01)
    progress_timeout: float = param(
        15.0, "no progress of progress_min toward the sub-goal for this long -> unreachable, stop (s); 0 = off",
        min=0.0)
    progress_min: float = param(0.3, "distance gain that counts as progress (m)", min=0.0)
    retry_after: float = param(
        5.0, "an unreachable sub-goal holds the robot this long, then is tried again (the planner may keep sending "
             "the same point: its path's lookahead point, while it fails its targets one by one); 0 = hold until a "
             "new sub-goal arrives (s)", min=0.0)
    fallback_after: float = param(
        5.0, "learned mode only: hand control to DWA after this long without progress_min of progress toward the goal "
             "(the sub-goal when no goal is set), e.g. when the policy circles; 0 = never (pure policy) (s)", min=0.0)
    fallback_hold: float = param(4.0, "DWA keeps control this long once the fallback triggered (s)", min=0.1)
    pursuit_gain: float = param(1.5, "yaw-rate gain of the safety_only straight-line pursuit", min=0.0)
    robot: AgvParams = field(default_factory=AgvParams)
    scan: ScanConfig = field(default_factory=ScanConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    dwa: DwaConfig = field(default_factory=DwaConfig)
    local_plan: LocalPlanConfig = field(default_factory=LocalPlanConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)

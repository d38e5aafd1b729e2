"""PyBullet differential-drive AGV in a :class:`toponav.worlds.World`.

One ``BulletClient`` per instance (DIRECT mode, many sims per process), a fixed physics step, and a
seeded numpy Generator for sensor/odometry noise, so the same seed and commands replay exactly.

The robot is a URDF (``assets/agv.urdf``: disc chassis, two driven wheels, two frictionless casters,
``base_scan`` link) whose geometry is rewritten from :class:`toponav.robot.AgvParams`. Velocity commands
(v, w) are clipped to the speed limits, rate-limited by the acceleration limits once per control step
(as in the numpy twin) and turned into wheel-motor velocity targets; physics does the rest (contacts,
slopes, wheel slip).

Why the lidar is fast enough: all static obstacles of a world (and its bounds walls) are ONE static
triangle mesh (cylinders as 16/32-gon prisms, error < 1 mm; boxes exact), not one body per obstacle.
Bullet's ray test then walks one triangle BVH instead of hundreds of broadphase proxies: a 64-beam
``rayTestBatch`` in a BARN world (~250 cylinders) went from ~750 scans/s (one body per cylinder) to
~6,500 scans/s on this machine, and stepping physics got ~3x faster too. (A compound shape array would
be exact, but PyBullet keeps only its first 16 children.) So the scan stays a real Bullet ray cast that
sees terrain and any dynamic body, and the env still clears 500 steps/s. A building map with more boxes
than one PyBullet mesh may hold (131,072 vertices) is split into a few meshes of nearby boxes.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as p
from pybullet_utils import bullet_client

from toponav.control.limits import ramp_velocity
from toponav.geometry import wrap_angle
from toponav.robot import AgvParams, LidarParams
from toponav.sim.odometry import CALIBRATED, dead_reckon, draw_odometry_errors
from toponav.worlds.model import World

ASSET_DIR = Path(__file__).resolve().parent / "assets"
URDF_PATH = ASSET_DIR / "agv.urdf"
WHEEL_TORQUE = 8.0  # N m per wheel motor: 80 N at the tyre, below its grip (about 1.2 * 64 N)
# Compliant casters. With rigid casters the four contact points are one plane, so on uneven ground (forest
# terrain) a dip under the wheel axle left both drive wheels in the air, the chassis resting on its two
# frictionless casters: the robot glided on at 0.5 m/s with zero command and could neither brake nor turn
# (forest seed 1000000, 2026-12-02: 0 N on both wheels for 0.7 s, then a tree). The casters' contacts are
# now a spring-damper (Bullet's contact stiffness and damping), as a sprung caster is on real differential
# AGVs: the drive wheels carry the weight on flat ground and keep contact over dips of about 3 cm (half the
# weight on the casters' springs). 4000 N/m (half that) was too stiff: across a crease, slope meeting flat
# ground, both casters touched and the wheels spun on the spot for 200 s (forest 1000003). Braking pitches
# the chassis by about 0.1 rad; the lidar does not pitch with it (see ``_ground_rise``). (A prismatic
# caster joint with a force-capped motor crept: the robot slid 1 cm while standing still.)
CASTER_STIFFNESS = 2000.0  # N/m per caster contact
CASTER_DAMPING = 100.0  # N s/m
CASTERS = ("front_caster_joint", "rear_caster_joint")


@dataclass
class CameraParams:
    """Forward depth camera on the chassis; produces a point cloud in base_link."""

    width: int = 64
    height: int = 48
    fov_deg: float = 70.0  # vertical field of view
    near: float = 0.1
    far: float = 6.0
    mount_height: float = 0.35
    stride: int = 1  # keep every stride-th pixel


@dataclass
class CollisionEvent:
    """One contact between the robot and an obstacle (world frame)."""

    stamp: float
    position: tuple[float, float]
    obstacle: str  # "circle:<i>", "box:<i>", "wall" or "terrain"
    depth: float
    robot_pose: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))


def agv_urdf(params: AgvParams, lidar_height: float = 0.3) -> str:
    """The package URDF with chassis radius, wheel base/radius and scan height from ``params``."""
    tree = ET.parse(URDF_PATH)
    root = tree.getroot()
    r, wr, half = params.radius, params.wheel_radius, params.wheel_base / 2
    bottom, top = wr - 0.02, lidar_height + 0.05  # the body reaches above the scan plane: robots see each other
    chassis_z, chassis_len = (bottom + top) / 2, top - bottom
    for link in root.findall("link"):
        name = link.get("name")
        if name == "base_link":
            for tag in ("visual", "collision"):
                el = link.find(tag)
                el.find("origin").set("xyz", f"0 0 {chassis_z}")
                el.find("geometry/cylinder").set("radius", f"{r}")
                el.find("geometry/cylinder").set("length", f"{chassis_len}")
        elif name in ("left_wheel", "right_wheel"):
            for tag in ("visual", "collision"):
                link.find(f"{tag}/geometry/cylinder").set("radius", f"{wr}")
    for joint in root.findall("joint"):
        name = joint.get("name")
        origin = joint.find("origin")
        if name == "left_wheel_joint":
            origin.set("xyz", f"0 {half} {wr}")
        elif name == "right_wheel_joint":
            origin.set("xyz", f"0 {-half} {wr}")
        elif name == "front_caster_joint":
            origin.set("xyz", f"{0.7 * r} 0 0.04")
        elif name == "rear_caster_joint":
            origin.set("xyz", f"{-0.7 * r} 0 0.04")
        elif name == "scan_joint":
            origin.set("xyz", f"0 0 {lidar_height}")
    return ET.tostring(root, encoding="unicode")


def _prism(outline: np.ndarray, z0: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
    """Side walls + top cap of a vertical prism over a closed 2-D outline (K, 2)."""
    k = len(outline)
    v = np.concatenate([np.c_[outline, np.full(k, z0)], np.c_[outline, np.full(k, z1)]])
    i = np.arange(k)
    j = (i + 1) % k
    sides = np.concatenate([np.stack([i, j, i + k], 1), np.stack([j, j + k, i + k], 1)])
    cap = np.stack([np.full(k - 2, k), k + np.arange(1, k - 1), k + np.arange(2, k)], 1)
    return v, np.concatenate([sides, cap])


#: PyBullet refuses a mesh shape above 131,072 vertices or 524,288 indices; chunks stay at half of that.
MESH_MAX_VERTICES = 65536
MESH_MAX_INDICES = 262144
#: Side (m) of the tiles that group prisms into mesh chunks (each chunk's BVH stays local).
MESH_TILE = 8.0


def obstacle_prisms(world: World, base_depth: float = 0.3) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (vertices, triangles) prism per obstacle and per bounds wall of ``world``.

    Cylinders become regular polygons whose radius is the geometric mean of the inscribed and
    circumscribed ones (max radial error r (1 - cos(pi / n)) / 2: < 1 mm for BARN and forest trees).
    On terrain, prisms start ``base_depth`` below the local ground so no gap opens on slopes.
    """
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    height = world.obstacle_height
    terrain = world.terrain

    def ground(xy: np.ndarray) -> float:
        return float(terrain.height_at(xy).min()) - base_depth if terrain is not None else 0.0

    for cx, cy, r in world.circle_array():
        n = 16 if r < 0.2 else 32
        rr = r / math.sqrt(math.cos(math.pi / n))
        a = 2 * math.pi * np.arange(n) / n
        outline = np.c_[cx + rr * np.cos(a), cy + rr * np.sin(a)]
        z0 = ground(outline)
        parts.append(_prism(outline, z0, z0 + height + (base_depth if terrain is not None else 0.0)))
    for corners in world.box_corners():
        z0 = ground(corners)
        parts.append(_prism(corners, z0, z0 + height + (base_depth if terrain is not None else 0.0)))
    xmin, ymin, xmax, ymax = world.bounds
    top = (float(terrain.as_array().max()) if terrain is not None else 0.0) + height
    t = 0.1
    for x0, y0, x1, y1 in ((xmin - t, ymin - t, xmax + t, ymin), (xmin - t, ymax, xmax + t, ymax + t),
                           (xmin - t, ymin, xmin, ymax), (xmax, ymin, xmax + t, ymax)):
        outline = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        parts.append(_prism(outline, -1.0 + (float(terrain.as_array().min()) if terrain is not None else 0.0), top))
    return parts


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    vertices, indices, offset = [], [], 0
    for v, i in parts:
        vertices.append(v)
        indices.append(i + offset)
        offset += len(v)
    return np.concatenate(vertices), np.concatenate(indices).astype(np.int64)


def obstacle_mesh(world: World, base_depth: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) vertices and (T, 3) triangle indices of all obstacles and the bounds walls of ``world``."""
    return _concat(obstacle_prisms(world, base_depth))


def obstacle_meshes(world: World, base_depth: float = 0.3) -> list[tuple[np.ndarray, np.ndarray]]:
    """The obstacle mesh in chunks PyBullet accepts (a building map has tens of thousands of boxes).

    Prisms are grouped by ``MESH_TILE`` tiles of their first vertex so that each chunk is compact; a
    world that fits in one chunk (every procedural family, BARN) gets exactly :func:`obstacle_mesh`.
    """
    parts = obstacle_prisms(world, base_depth)
    if sum(len(v) for v, _ in parts) <= MESH_MAX_VERTICES and sum(3 * len(i) for _, i in parts) <= MESH_MAX_INDICES:
        return [_concat(parts)]
    key = [(math.floor(v[0, 0] / MESH_TILE), math.floor(v[0, 1] / MESH_TILE)) for v, _ in parts]
    order = sorted(range(len(parts)), key=lambda k: key[k])
    chunks: list[list[tuple[np.ndarray, np.ndarray]]] = [[]]
    nv = ni = 0
    for k in order:
        v, i = parts[k]
        if chunks[-1] and (nv + len(v) > MESH_MAX_VERTICES or ni + 3 * len(i) > MESH_MAX_INDICES):
            chunks.append([])
            nv = ni = 0
        chunks[-1].append((v, i))
        nv += len(v)
        ni += 3 * len(i)
    return [_concat(chunk) for chunk in chunks]


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C-level writes to stdout (file descriptor 1) for the duration of the block."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real stdout (e.g. captured): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass
class _Robot:
    """Per-robot state: Bullet body, applied command, contacts and wheel odometry."""

    body: int
    wheels: list[int]
    scan_link: int  # base_scan's link index (the lidar's origin)
    cmd_vel: np.ndarray = field(default_factory=lambda: np.zeros(2))
    collided: bool = False
    collisions: list[CollisionEvent] = field(default_factory=list)
    wheel_pos: np.ndarray = field(default_factory=lambda: np.zeros(2))
    odom_pose: np.ndarray = field(default_factory=lambda: np.zeros(3))
    odom_twist: np.ndarray = field(default_factory=lambda: np.zeros(2))
    # this run's odometry calibration errors (left radius, right radius, wheelbase factors, gyro scale and bias;
    # sim/odometry.py)
    odom_errors: np.ndarray = field(default_factory=lambda: CALIBRATED.copy())
    true_yaw: float = 0.0  # the body's yaw at the last odometry update (what the gyro integrates)
    wheel_odom_pose: np.ndarray = field(default_factory=lambda: np.zeros(3))  # the wheels alone (no gyro)


class AgvSim:
    """A PyBullet world with differential-drive AGVs (one by default), lidar, wheel odometry, optional camera.

    The single-robot API (``step(cmd)``, ``scan()``, ``pose``, ``collided``, ``odom_pose``...) refers to
    robot 0; with ``num_robots > 1`` use ``step`` with an (R, 2) command array and the ``i`` arguments.
    Robots see each other in their scans and collide with each other (reported as ``robot:<j>``).
    """

    def __init__(self, world: World, robot: AgvParams | None = None, lidar: LidarParams | None = None,
                 physics_rate: float = 100.0, control_dt: float = 0.1, seed: int = 0,
                 camera: CameraParams | None = None, num_robots: int = 1) -> None:
        if num_robots < 1:
            raise ValueError("num_robots must be >= 1")
        self.robot = robot or AgvParams()
        self.lidar = lidar or LidarParams()
        self.camera = camera
        self.num_robots = int(num_robots)
        self.physics_dt = 1.0 / float(physics_rate)
        self.control_dt = float(control_dt)
        with _quiet_stdout():  # the C library prints "argv[0]=" on every connect
            self.client = bullet_client.BulletClient(connection_mode=p.DIRECT)
        self._urdf_text = agv_urdf(self.robot, self.lidar.mount_height)
        self._angles = np.asarray(self.lidar.angles(), dtype=np.float64)
        self.world = world
        self.seed = int(seed)
        self._build(world)
        self.reset(seed=seed)

    # ------------------------------------------------------------------------------------- world
    def _build(self, world: World) -> None:
        c = self.client
        c.resetSimulation()
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(self.physics_dt)
        c.setPhysicsEngineParameter(deterministicOverlappingPairs=1, numSolverIterations=10)
        self.world = world
        t = world.terrain
        if t is None:
            ground = c.createCollisionShape(p.GEOM_PLANE)
            visual = c.createVisualShape(p.GEOM_BOX, halfExtents=[200, 200, 0.01], visualFramePosition=[0, 0, -0.01])
            self.ground = c.createMultiBody(0, ground, visual if self.camera is not None else -1)
        else:
            h = t.as_array()
            ny, nx = h.shape
            lo, hi = float(h.min()), float(h.max())
            shape = c.createCollisionShape(p.GEOM_HEIGHTFIELD, meshScale=[t.resolution, t.resolution, 1.0],
                                           heightfieldData=h.ravel().tolist(), numHeightfieldRows=nx,
                                           numHeightfieldColumns=ny)
            centre = [t.origin[0] + (nx - 1) * t.resolution / 2, t.origin[1] + (ny - 1) * t.resolution / 2,
                      (lo + hi) / 2]
            self.ground = c.createMultiBody(0, shape, basePosition=centre)
        c.changeDynamics(self.ground, -1, lateralFriction=1.0)
        # every static obstacle + the 4 bounds walls as ONE static triangle mesh (see module docstring);
        # a few meshes for a building map whose boxes exceed what one PyBullet mesh may hold
        self.obstacle_bodies: list[int] = []
        for vertices, indices in obstacle_meshes(world):
            shape = c.createCollisionShape(p.GEOM_MESH, vertices=vertices.tolist(), indices=indices.ravel().tolist())
            visual = -1
            if self.camera is not None:  # the camera renders visual shapes only
                visual = c.createVisualShape(p.GEOM_MESH, vertices=vertices.tolist(),
                                             indices=indices.ravel().tolist(), rgbaColor=[0.6, 0.6, 0.6, 1])
            self.obstacle_bodies.append(c.createMultiBody(0, shape, visual))
        self.obstacles = self.obstacle_bodies[0]
        self._robots: list[_Robot] = []
        with tempfile.TemporaryDirectory(prefix="toponav_agv_") as tmp:
            urdf = Path(tmp) / "agv.urdf"
            urdf.write_text(self._urdf_text)
            for _ in range(self.num_robots):
                body = c.loadURDF(str(urdf), [0, 0, 0])
                joints = {c.getJointInfo(body, j)[1].decode(): j for j in range(c.getNumJoints(body))}
                for name in CASTERS:
                    c.changeDynamics(body, joints[name], lateralFriction=0.0, spinningFriction=0.0,
                                     rollingFriction=0.0, contactStiffness=CASTER_STIFFNESS,
                                     contactDamping=CASTER_DAMPING)
                wheels = [joints["left_wheel_joint"], joints["right_wheel_joint"]]
                for j in wheels:
                    c.changeDynamics(body, j, lateralFriction=1.2)
                self._robots.append(_Robot(body=body, wheels=wheels, scan_link=joints["scan_joint"]))
        self._body_index = {r.body: i for i, r in enumerate(self._robots)}
        self._inertial = c.getDynamicsInfo(self._robots[0].body, -1)[3]  # base inertial offset (link frame)
        self._inv_inertial = p.invertTransform(self._inertial, [0, 0, 0, 1])

    def _ground_z(self, xy: np.ndarray) -> np.ndarray:
        if self.world.terrain is None or len(xy) == 0:
            return np.zeros(len(xy))
        return self.world.terrain.height_at(xy)

    def load_world(self, world: World, seed: int | None = None) -> None:
        """Replace the world (rebuilds the Bullet scene) and reset the robots to their starts."""
        self._build(world)
        self.reset(seed=seed)

    def start_poses(self) -> list[tuple[float, float, float]]:
        """Robot 0 at the world's start; others beside/behind it on free ground, clear of each other."""
        x0, y0, yaw = self.world.start
        gap = 2 * self.robot.radius + 0.3
        side = np.array([-math.sin(yaw), math.cos(yaw)])
        back = -np.array([math.cos(yaw), math.sin(yaw)])
        candidates = [np.array([x0, y0]) + i * gap * side + j * gap * back
                      for ring in range(1, 6) for i in range(-ring, ring + 1) for j in range(0, ring + 1)
                      if max(abs(i), j) == ring]
        poses = [(x0, y0, yaw)]
        for c in candidates:
            if len(poses) == self.num_robots:
                break
            if self.world.clearance(c[None])[0] < self.robot.radius + 0.1:
                continue
            if min(math.hypot(c[0] - q[0], c[1] - q[1]) for q in poses) < gap:
                continue
            poses.append((float(c[0]), float(c[1]), yaw))
        if len(poses) < self.num_robots:
            raise ValueError(f"no free start poses for {self.num_robots} robots near {self.world.start}")
        return poses

    # ------------------------------------------------------------------------------------- state
    def reset(self, seed: int | None = None, pose: tuple[float, float, float] | None = None,
              poses: list[tuple[float, float, float]] | None = None) -> None:
        """Robots to ``poses`` (robot 0 to ``pose``; default :meth:`start_poses`), at rest.

        Reseeds the noise generator when ``seed`` is given. Every reset restarts the generator from the seed and
        first draws each robot's odometry calibration errors, in robot order: same seed, same robots.
        """
        if seed is not None:
            self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        odom_errors = draw_odometry_errors(self.rng, self.robot, self.num_robots)
        targets = list(poses) if poses is not None else self.start_poses()
        if pose is not None:
            targets[0] = tuple(pose)
        c = self.client
        for r, (x, y, yaw) in zip(self._robots, targets, strict=True):
            z = float(self._ground_z(np.array([[x, y]]))[0]) + 0.005
            c.resetBasePositionAndOrientation(r.body, *self._com_from_link([x, y, z], yaw))
            c.resetBaseVelocity(r.body, [0, 0, 0], [0, 0, 0])
            for j in r.wheels:
                c.resetJointState(r.body, j, 0.0, 0.0)
                c.setJointMotorControl2(r.body, j, p.VELOCITY_CONTROL, targetVelocity=0.0, force=WHEEL_TORQUE)
            r.cmd_vel = np.zeros(2)
            r.collided = False
            r.collisions = []
            r.wheel_pos = np.zeros(2)
            r.odom_pose = np.array([x, y, yaw], dtype=np.float64)
            r.wheel_odom_pose = r.odom_pose.copy()
            r.odom_twist = np.zeros(2)
            r.true_yaw = float(yaw)
        for r, errors in zip(self._robots, odom_errors, strict=True):
            r.odom_errors = errors
        self.sim_time = 0.0
        if self.world.terrain is not None:  # settle the suspension on uneven ground
            for _ in range(int(0.2 / self.physics_dt)):
                c.stepSimulation()
            for r in self._robots:
                r.wheel_pos = self._wheel_angles(r)
                r.true_yaw = self._body_yaw(r)

    def _com_from_link(self, pos: list[float], yaw: float):
        q = p.getQuaternionFromEuler([0, 0, yaw])
        return p.multiplyTransforms(pos, q, self._inertial, [0, 0, 0, 1])

    def _link_pose(self, i: int = 0) -> tuple[np.ndarray, tuple[float, ...]]:
        com, q = self.client.getBasePositionAndOrientation(self._robots[i].body)
        pos, q = p.multiplyTransforms(com, q, *self._inv_inertial)
        return np.asarray(pos), q

    # single-robot conveniences (robot 0) -------------------------------------------------------
    @property
    def robot_id(self) -> int:
        return self._robots[0].body

    @property
    def cmd_vel(self) -> np.ndarray:
        return self._robots[0].cmd_vel

    @property
    def collided(self) -> bool:
        return self._robots[0].collided

    @property
    def collisions(self) -> list[CollisionEvent]:
        return self._robots[0].collisions

    @property
    def odom_pose(self) -> np.ndarray:
        return self._robots[0].odom_pose

    @odom_pose.setter
    def odom_pose(self, value: np.ndarray) -> None:
        self._robots[0].odom_pose = np.asarray(value, dtype=np.float64)

    @property
    def odom_twist(self) -> np.ndarray:
        return self._robots[0].odom_twist

    def state(self, i: int) -> _Robot:
        """Robot ``i``'s command, contact and odometry state."""
        return self._robots[i]

    @property
    def pose(self) -> np.ndarray:
        """Ground-truth (x, y, yaw) of robot 0's base_link in the world (map) frame."""
        return self.robot_pose(0)

    def robot_pose(self, i: int) -> np.ndarray:
        pos, q = self._link_pose(i)
        return np.array([pos[0], pos[1], p.getEulerFromQuaternion(q)[2]])

    @property
    def pose3d(self) -> tuple[np.ndarray, tuple[float, ...]]:
        return self._link_pose(0)

    @property
    def vel(self) -> np.ndarray:
        """Measured (v, w) of robot 0: forward speed along the heading and yaw rate."""
        return self.robot_vel(0)

    def robot_vel(self, i: int) -> np.ndarray:
        lin, ang = self.client.getBaseVelocity(self._robots[i].body)
        yaw = self.robot_pose(i)[2]
        return np.array([lin[0] * math.cos(yaw) + lin[1] * math.sin(yaw), ang[2]])

    # -------------------------------------------------------------------------------------- step
    def step(self, cmd: np.ndarray, dt: float | None = None) -> None:
        """Apply (v, w) — or (R, 2) commands, one per robot — for ``dt`` s (default ``control_dt``) of physics."""
        dt = self.control_dt if dt is None else float(dt)
        n = max(1, round(dt / self.physics_dt))
        cmds = np.asarray(cmd, dtype=np.float64).reshape(-1, 2)
        if len(cmds) != self.num_robots:
            raise ValueError(f"expected {self.num_robots} commands (v, w), got {len(cmds)}")
        half, wr = self.robot.wheel_base / 2, self.robot.wheel_radius
        c = self.client
        starts = [r.cmd_vel.copy() for r in self._robots]
        # speed clip, then a ramp from each robot's current command
        limited = ramp_velocity(cmds, np.array(starts), n * self.physics_dt, self.robot)
        for i, r in enumerate(self._robots):
            r.cmd_vel = limited[i]
            r.collided = False
            r.collisions = []
        for k in range(n):
            # Ramp the wheel set-points over the physics sub-steps: a set-point jump at the control rate
            # would make the motors exceed the tyres' grip and the wheels slip (wheel odometry then drifts
            # by metres, far beyond what real encoders do).
            u = (k + 1) / n
            for i, r in enumerate(self._robots):
                v, w = starts[i] + u * (r.cmd_vel - starts[i])
                c.setJointMotorControlArray(r.body, r.wheels, p.VELOCITY_CONTROL,
                                            targetVelocities=[(v - w * half) / wr, (v + w * half) / wr],
                                            forces=[WHEEL_TORQUE, WHEEL_TORQUE])
            c.stepSimulation()
            self.sim_time += self.physics_dt
        for i, r in enumerate(self._robots):
            self._check_contacts(i, r)
            self._update_odometry(r, n * self.physics_dt)

    def _check_contacts(self, i: int, r: _Robot) -> None:
        # Bullet also reports contact points up to its contact-processing threshold, i.e. bodies still a few
        # millimetres apart (positive distance); only touching or penetrating points (distance <= 0) are a
        # collision. Near misses show in the evaluation's minimum clearance instead.
        contacts = [cp for body in self.obstacle_bodies for cp in self.client.getContactPoints(r.body, body)]
        for j, other in enumerate(self._robots):
            if j != i:
                contacts += self.client.getContactPoints(r.body, other.body)
        contacts = [cp for cp in contacts if cp[8] <= 0.0]
        if not contacts:
            return
        deepest = min(contacts, key=lambda cp: cp[8])
        pos = deepest[6]
        other = self._body_index.get(deepest[2])
        name = f"robot:{other}" if other is not None else self._which_obstacle(pos[0], pos[1])
        r.collided = True
        r.collisions.append(CollisionEvent(stamp=self.sim_time, position=(pos[0], pos[1]), obstacle=name,
                                           depth=-float(deepest[8]), robot_pose=tuple(self.robot_pose(i).tolist())))

    def _which_obstacle(self, x: float, y: float) -> str:
        """Name of the obstacle whose surface is nearest to a contact point."""
        best, name = 0.3, "wall"
        circles = self.world.circle_array()
        if len(circles):
            d = np.abs(np.hypot(circles[:, 0] - x, circles[:, 1] - y) - circles[:, 2])
            if d.min() < best:
                best, name = float(d.min()), f"circle:{int(d.argmin())}"
        boxes = self.world.box_array()
        if len(boxes):
            c, s = np.cos(boxes[:, 4]), np.sin(boxes[:, 4])
            rx, ry = x - boxes[:, 0], y - boxes[:, 1]
            lx = np.abs(c * rx + s * ry) - boxes[:, 2]
            ly = np.abs(-s * rx + c * ry) - boxes[:, 3]
            d = np.abs(np.hypot(np.maximum(lx, 0), np.maximum(ly, 0)) + np.minimum(np.maximum(lx, ly), 0))
            if d.min() < best:
                name = f"box:{int(d.argmin())}"
        return name

    def _wheel_angles(self, r: _Robot) -> np.ndarray:
        states = self.client.getJointStates(r.body, r.wheels)
        return np.array([s[0] for s in states])

    def _body_yaw(self, r: _Robot) -> float:
        """The chassis' yaw as the gyro sees it (its inertial frame's; only changes of it are used)."""
        return float(p.getEulerFromQuaternion(self.client.getBasePositionAndOrientation(r.body)[1])[2])

    def _update_odometry(self, r: _Robot, dt: float) -> None:
        """Dead reckoning from wheel encoder increments and the gyro, with this run's calibration errors and random
        noise (sim/odometry.py); the wheels' slip on the floor is physics' own addition."""
        angles = self._wheel_angles(r)
        travel = (angles - r.wheel_pos) * self.robot.wheel_radius
        r.wheel_pos = angles
        yaw = self._body_yaw(r)
        true_dth = np.array([wrap_angle(yaw - r.true_yaw)])
        r.true_yaw = yaw
        pose = np.array(r.odom_pose, dtype=np.float64).reshape(1, 3)
        wheel_pose = np.array(r.wheel_odom_pose, dtype=np.float64).reshape(1, 3)
        ds, dth = dead_reckon(pose, travel, r.odom_errors[None], self.robot, self.rng, true_dth, dt, wheel_pose)[0]
        r.wheel_odom_pose = wheel_pose[0]
        r.odom_pose = pose[0]
        r.odom_twist = np.array([ds / dt, dth / dt]) if dt > 0 else np.zeros(2)

    # ----------------------------------------------------------------------------------- sensors
    def scan(self, i: int = 0) -> np.ndarray:
        """(B,) lidar ranges in metres from robot ``i``'s base_scan, parallel to the ground; ``inf`` = no return.

        Rays start just outside the robot's own body (nothing else can be nearer without a collision)
        and end at ``range_max``; other robots are seen (their bodies reach above the scan plane).
        """
        lid = self.lidar
        _, q = self._link_pose(i)
        yaw = p.getEulerFromQuaternion(q)[2]
        th = yaw + self._angles
        # the scan starts where base_scan is: on a tilted chassis (uneven ground) that is up to a few cm
        # beside base_link's ground point, as far as the chassis edge at that height has moved, so the scan
        # shows the clearance the body really has
        r = self._robots[i]
        origin = np.asarray(self.client.getLinkState(r.body, r.scan_link)[4])
        d = np.stack([np.cos(th), np.sin(th), self._ground_rise(origin[:2], th)], axis=1)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        near = max(lid.range_min, self.robot.radius + 0.01)  # start outside the own body (it spans the plane)
        start = origin + near * d
        end = origin + lid.range_max * d
        hits = self.client.rayTestBatch(start, end)
        frac = np.array([h[2] if h[0] >= 0 else np.inf for h in hits])
        ranges = near + frac * (lid.range_max - near)
        if lid.noise_std > 0 or lid.noise_range > 0:  # returns only: a beam that hit nothing stays inf
            finite = np.isfinite(ranges)
            hit = ranges[finite]
            hit += (lid.noise_std + lid.noise_range * hit) * self.rng.standard_normal(len(hit))
            ranges[finite] = np.clip(hit, lid.range_min, lid.range_max)
        return ranges

    def _ground_rise(self, xy: np.ndarray, th: np.ndarray) -> np.ndarray:
        """Rise per metre of the ground plane under the robot along each beam bearing ``th``.

        A 2-D lidar is bolted to the chassis, so on a slope its plane is parallel to the ground, not level:
        a level plane saw every hillside as a wall about 2 m ahead (forest 1000001, treeless: nearest return
        1.8 m on a 0.17 slope) and the mapper filled the map with them. The plane follows the mean slope
        over the footprint (central differences across the robot's diameter), not the chassis' bounce on
        cm-scale roughness: an idealisation of a lidar on a damped chassis, said in docs/simulation.md.
        Hills that bend away from that plane still return, as they would on a real robot.
        """
        if self.world.terrain is None:
            return np.zeros_like(th)
        h = self.robot.radius
        probe = np.asarray(xy, dtype=np.float64) + np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
        z = self.world.terrain.height_at(probe)
        gx, gy = (z[0] - z[1]) / (2 * h), (z[2] - z[3]) / (2 * h)
        return gx * np.cos(th) + gy * np.sin(th)

    def clearance(self, i: int = 0) -> float:
        """Distance from robot ``i``'s centre to the nearest obstacle surface (from the world data)."""
        return float(self.world.clearance(self.robot_pose(i)[None, :2])[0])

    def points(self, i: int = 0) -> np.ndarray:
        """(K, 3) depth-camera point cloud in robot ``i``'s base_link (x forward, z up); empty without a camera."""
        cam = self.camera
        if cam is None:
            return np.zeros((0, 3))
        pos, q = self._link_pose(i)
        rot = np.asarray(p.getMatrixFromQuaternion(q)).reshape(3, 3)
        ahead = self.robot.radius + 0.01  # on the chassis' front edge: never sees the robot itself
        eye = pos + rot @ np.array([ahead, 0.0, cam.mount_height])
        fwd, up = rot[:, 0], rot[:, 2]
        view = p.computeViewMatrix(eye.tolist(), (eye + fwd).tolist(), up.tolist())
        aspect = cam.width / cam.height
        proj = p.computeProjectionMatrixFOV(cam.fov_deg, aspect, cam.near, cam.far)
        _, _, _, depth, _ = self.client.getCameraImage(cam.width, cam.height, view, proj,
                                                       renderer=p.ER_TINY_RENDERER)
        depth = np.asarray(depth, dtype=np.float64).reshape(cam.height, cam.width)[::cam.stride, ::cam.stride]
        z = cam.far * cam.near / (cam.far - (cam.far - cam.near) * depth)  # buffer -> metric depth along the axis
        rows, cols = np.mgrid[0:cam.height:cam.stride, 0:cam.width:cam.stride]
        fy = 1.0 / math.tan(math.radians(cam.fov_deg) / 2)
        # TinyRenderer's pixel convention (checked against a wall of known size):
        # x = 2 col / W - 1, y = 1 - 2 (row + 1) / H
        u = (2 * cols / cam.width - 1) * aspect / fy  # right per unit depth
        v = (1 - 2 * (rows + 1.0) / cam.height) / fy  # up per unit depth
        keep = depth < 0.9999  # far plane = no return
        pts = np.stack([z + ahead, -u * z, v * z + cam.mount_height], axis=-1)[keep]
        return pts

    def info(self) -> dict[str, Any]:
        return {"sim_time": self.sim_time, "pose": self.pose.tolist(), "collided": self.collided}

    def close(self) -> None:
        with contextlib.suppress(p.error):
            self.client.disconnect()

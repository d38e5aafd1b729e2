"""PyBullet AGV and the AgvNav env: determinism, agreement with the numpy twin, contacts, odometry, camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toponav.geometry import wrap_angle
from toponav.robot import AgvParams, LidarParams
from toponav.sim.pybullet_agv import AgvSim, CameraParams, obstacle_mesh
from toponav.sim.twin import VecAgvTwin
from toponav.worlds import Terrain, World, make_world

WALL = World(name="wall", family="test", seed=0, bounds=(0, 0, 10, 10), start=(2, 5, 0), goal=(8, 5),
             boxes=((4.0, 5.0, 0.1, 3.0, 0.0),), circles=((2.0, 7.0, 0.3),))


def free_poses(world: World, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: list[list[float]] = []
    while len(out) < n:
        p = rng.uniform(world.bounds[:2], world.bounds[2:])
        if world.clearance(p[None])[0] > 0.35:
            out.append([p[0], p[1], rng.uniform(-math.pi, math.pi)])
    return np.array(out)


@pytest.mark.parametrize("spec", ["barn:10", "maze", "warehouse"])
def test_scans_agree_with_twin(spec: str) -> None:
    """Tolerance 1 cm: the Bullet mesh approximates cylinders to < 1 mm; the rest is float32 rounding.

    64 beams, as when this was written: at the 360-beam default a beam grazing a cylinder's mesh edge can
    differ by a few cm (2 of 360 beams in barn:10), which says nothing about the rest of the scan."""
    world = make_world(spec, 2)
    lidar = LidarParams(beams=64, noise_std=0.0, noise_range=0.0)  # exact geometry: no range noise
    sim = AgvSim(world, lidar=lidar)
    twin = VecAgvTwin(world, 1, lidar=lidar)
    rmax = sim.lidar.range_max
    for pose in free_poses(world, 4, seed=3):
        sim.reset(pose=tuple(pose))
        twin.reset(poses=pose[None])
        bullet = np.minimum(sim.scan(), rmax)
        np.testing.assert_allclose(bullet, twin.scan()[0], atol=0.01)
    sim.close()


def test_motion_agrees_with_twin() -> None:
    """Same commands for 8 s: wheel physics vs the kinematic twin within 0.2 m and 0.1 rad."""
    world = make_world("empty", 0)
    sim = AgvSim(world)
    twin = VecAgvTwin(world, 1)
    for i in range(80):
        cmd = np.array([0.7, 0.9 * math.sin(i / 12)])
        sim.step(cmd)
        twin.step(cmd[None])
        assert np.hypot(*(sim.pose[:2] - twin.pose[0, :2])) < 0.2, i
    assert abs(sim.pose[2] - twin.pose[0, 2]) < 0.1
    assert np.hypot(*(sim.pose[:2] - np.array(world.start[:2]))) > 3.0  # it really drove
    np.testing.assert_allclose(sim.vel, twin.vel[0], atol=0.1)
    sim.close()


def test_limits_are_respected() -> None:
    robot = AgvParams(max_v=0.5, max_w=1.0, max_acc_v=1.0)
    sim = AgvSim(make_world("empty", 0), robot)
    sim.step([5.0, 0.0])
    assert sim.cmd_vel[0] == pytest.approx(0.1)  # 1 m/s^2 x 0.1 s
    for _ in range(20):
        sim.step([5.0, 9.0])
    assert sim.cmd_vel.tolist() == pytest.approx([0.5, 1.0])
    assert abs(sim.vel[0]) < 0.55 and abs(sim.vel[1]) < 1.1
    sim.close()


def test_collision_event_names_the_obstacle() -> None:
    sim = AgvSim(WALL)
    events = []
    for _ in range(40):
        sim.step([1.0, 0.0])
        events += sim.collisions
    assert sim.collided and events
    assert events[0].obstacle == "box:0"
    assert 3.5 < sim.pose[0] < 3.9  # stopped by the wall's face at x = 3.9 minus the robot radius
    sim.close()


def test_a_near_miss_is_no_collision() -> None:
    """Bullet reports contact points a few mm before bodies touch (positive distance); only touching counts.
    Turning in place 4 mm from a tree was a 'collision' before (forest runs counted such near misses)."""
    near = World(name="near", family="test", seed=0, bounds=(0, 0, 10, 10), start=(5.0 - 0.148 - 0.25 - 0.004, 5, 0.3),
                 goal=(8, 5), circles=((5.0, 5.0, 0.148),))
    sim = AgvSim(near)
    for _ in range(40):
        sim.step([0.0, 1.0])
        assert not sim.collisions, [e.depth for e in sim.collisions]
    assert not sim.collided
    sim.reset(pose=(3.0, 5.0, 0.0))
    for _ in range(60):  # then driving into it
        sim.step([0.5, 0.0])
    assert sim.collided and sim.collisions and sim.collisions[0].depth >= 0.0
    sim.close()


def test_odometry_tracks_truth_and_drift_is_seeded() -> None:
    sim = AgvSim(make_world("empty", 0))
    for _ in range(30):
        sim.step([0.6, 0.4])
    assert np.hypot(*(sim.odom_pose[:2] - sim.pose[:2])) < 0.05
    drifty = AgvParams(odom_drift_v=0.05, odom_drift_w=0.1)

    def run(seed: int) -> np.ndarray:
        s = AgvSim(make_world("empty", 0), drifty, seed=seed)
        for _ in range(30):
            s.step([0.6, 0.4])
        out = s.odom_pose.copy()
        s.close()
        return out

    a, b, c = run(1), run(1), run(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    sim.close()


def test_calibration_errors_are_drawn_per_seed_and_bend_odometry() -> None:
    """Each reset draws the robots' odometry calibration errors first from the seeded generator: the same seed gives
    the same robot (also after a reset), another seed another one. A wheelbase error alone (UMBmark E_b) turns
    the odometry's yaw by that fraction on a turn on the spot, beyond what physics' slip does."""
    world = make_world("empty", 0)
    sims = [AgvSim(world, seed=s, num_robots=2) for s in (3, 3, 4)]
    try:
        a, b, c = (np.array([s.state(i).odom_errors for i in range(2)]) for s in sims)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c) and not np.array_equal(a[0], a[1]) and not np.allclose(a, 1.0)
        sims[0].reset()
        np.testing.assert_array_equal([sims[0].state(i).odom_errors for i in range(2)], a)
    finally:
        for s in sims:
            s.close()
    quiet = {"odom_scale_std": 0.0, "odom_wheel_ratio_std": 0.0, "odom_drift_v": 0.0, "odom_drift_w": 0.0,
             "odom_heading": "wheels", "gyro_scale_std": 0.0, "gyro_bias_std": 0.0}

    def turned(robot: AgvParams) -> tuple[float, np.ndarray]:
        s = AgvSim(world, robot, LidarParams(beams=8), control_dt=0.05, seed=0)
        yaw = 0.0
        for _ in range(30):  # 1.5 rad at 0.5 rad/s
            prev = s.odom_pose[2]
            s.step(np.array([0.0, 0.5]), 0.05)
            yaw += float(wrap_angle(s.odom_pose[2] - prev))
        errors = s.state(0).odom_errors.copy()
        s.close()
        return yaw, errors

    exact, ones = turned(AgvParams(**quiet, odom_wheelbase_std=0.0))
    bent, errors = turned(AgvParams(**quiet, odom_wheelbase_std=0.05))
    np.testing.assert_array_equal(ones, [1.0, 1.0, 1.0, 1.0, 0.0])
    assert errors[2] != 1.0
    assert bent * errors[2] == pytest.approx(exact, rel=1e-6)  # same wheel rotation, other believed wheelbase


def test_gyro_heading_follows_the_body_not_the_wheels() -> None:
    """With yaw from the gyro (the default) the odometry's turn is the body's true turn times this run's gyro scale
    error: the wheels' scrub and wheelbase error, which bend a wheel-difference yaw, do not reach it."""
    world = make_world("empty", 0)

    def turn(robot: AgvParams) -> tuple[float, float, np.ndarray]:
        s = AgvSim(world, robot, LidarParams(beams=8), control_dt=0.05, seed=1)
        odom = true = 0.0
        for _ in range(60):  # 3 rad at 0.5 rad/s
            prev_odom, prev_true = s.odom_pose[2], s.pose[2]
            s.step(np.array([0.0, 0.5]), 0.05)
            odom += float(wrap_angle(s.odom_pose[2] - prev_odom))
            true += float(wrap_angle(s.pose[2] - prev_true))
        errors = s.state(0).odom_errors.copy()
        s.close()
        return odom, true, errors

    odom, true, errors = turn(AgvParams(odom_wheelbase_std=0.05, odom_drift_w=0.2, gyro_scale_std=0.05,
                                        gyro_noise_density=0.0, gyro_bias_std=0.0))
    assert errors[3] != 1.0 and errors[4] == 0.0
    assert odom == pytest.approx(true * errors[3], rel=1e-6)
    wheels, true_w, _ = turn(AgvParams(odom_heading="wheels", odom_wheelbase_std=0.05, odom_drift_w=0.2))
    assert abs(wheels - true_w) > 0.02  # the same wheel errors bend a wheel-difference yaw


def test_range_noise_only_on_returns() -> None:
    """Range noise (std noise_std + noise_range * range) on returns; a beam that hit nothing stays inf."""
    hall = World(name="hall", family="test", seed=0, bounds=(0, 0, 6, 30), start=(1, 15, 0), goal=(5, 15))
    lidar = LidarParams(beams=90, range_max=8.0)
    sim = AgvSim(hall, lidar=lidar, seed=2)
    exact_sim = AgvSim(hall, lidar=LidarParams(beams=90, range_max=8.0, noise_std=0.0, noise_range=0.0))
    try:
        exact = exact_sim.scan()
        scans = np.stack([sim.scan() for _ in range(100)])
        hit = np.isfinite(exact)
        assert hit.any() and (~hit).any()
        assert np.isinf(scans[:, ~hit]).all()
        z = (scans[:, hit] - exact[hit]) / (lidar.noise_std + lidar.noise_range * exact[hit])
        assert abs(z.mean()) < 0.1 and 0.9 < z.std() < 1.1
    finally:
        sim.close()
        exact_sim.close()


def test_depth_camera_sees_the_wall() -> None:
    sim = AgvSim(WALL, camera=CameraParams(width=32, height=24))
    pts = sim.points()
    assert pts.shape[1] == 3 and len(pts) > 50
    on_wall = pts[pts[:, 2] > 0.05]  # above the floor
    np.testing.assert_allclose(np.median(on_wall[:, 0]), 4.0 - 0.1 - 2.0, atol=0.05)
    sim.close()


def test_forest_terrain_carries_the_robot() -> None:
    world = make_world("forest", 4)
    sim = AgvSim(world)
    for _ in range(20):
        sim.step([0.5, 0.0])
    pos, _ = sim.pose3d
    ground = world.terrain.height_at(pos[None, :2])[0]
    assert abs(pos[2] - ground) < 0.1
    assert np.isfinite(sim.scan()).any()
    sim.close()


def test_obstacle_mesh_is_closed_prisms() -> None:
    v, t = obstacle_mesh(make_world("barn:0"))
    assert t.max() < len(v) and t.min() >= 0
    assert len(t) > 200 * 16


def test_several_robots_share_one_world() -> None:
    world = make_world("empty", 0)
    sim = AgvSim(world, num_robots=3)
    starts = sim.start_poses()
    assert starts[0] == world.start and len(starts) == 3
    assert min(math.dist(a[:2], b[:2]) for i, a in enumerate(starts) for b in starts[i + 1:]) >= 0.8
    # robot 1 sees robot 0 in its scan (the beam pointing at robot 0 returns ~ distance - radius)
    p0, p1 = sim.robot_pose(0), sim.robot_pose(1)
    bearing = math.atan2(p0[1] - p1[1], p0[0] - p1[0]) - p1[2]
    beam = round((bearing + math.pi) / (2 * math.pi / sim.lidar.beams)) % sim.lidar.beams
    assert sim.scan(1)[beam] == pytest.approx(math.dist(p0[:2], p1[:2]) - sim.robot.radius, abs=0.05)
    with pytest.raises(ValueError, match="expected 3 commands"):
        sim.step([1.0, 0.0])
    # drive robot 1 into robot 0: a robot-robot contact is reported for both
    events = []
    heading = math.atan2(p0[1] - p1[1], p0[0] - p1[0])
    sim.reset(poses=[tuple(p0), (p1[0], p1[1], heading), starts[2]])
    for _ in range(30):
        sim.step([[0.0, 0.0], [0.8, 0.0], [0.5, 0.0]])
        events += sim.state(1).collisions
    assert events and events[0].obstacle == "robot:0"
    assert sim.state(2).odom_pose[0] > starts[2][0] + 0.5  # the third robot drove on independently
    sim.close()


def test_drive_wheels_stay_on_uneven_ground() -> None:
    """Over the forest's heightfield the drive wheels keep ground contact (the casters are compliant). With rigid
    casters a dip under the axle left both wheels in the air on 82 of these 200 steps, and the robot glided
    on into a tree with zero command (forest 1000000, 2026-12-02); 12 with 4000 N/m springs, 5 with 2000."""
    world = make_world("forest", 1000000)
    sim = AgvSim(world, AgvParams(), LidarParams(), control_dt=0.05, seed=0)
    c = sim.client
    robot = sim.state(0)
    airborne = 0
    try:
        for start in [(15.0, 14.7, 0.5), (15.4, 14.95, 0.45), (14.7, 14.5, 0.52), (16.0, 15.2, 0.4)]:
            sim.reset(pose=start)
            for _ in range(50):
                sim.step(np.array([0.8, -0.2]), 0.05)
                load = sum(cp[9] for j in robot.wheels
                           for cp in c.getContactPoints(bodyA=robot.body, bodyB=sim.ground, linkIndexA=j))
                airborne += load <= 0.0
    finally:
        sim.close()
    assert airborne <= 25, f"both drive wheels off the ground on {airborne} of 200 steps"


def test_standing_robot_does_not_creep() -> None:
    """At rest on a flat floor the robot stays put to the millimetre (a motorised caster suspension, tried first,
    slid it 1 cm in 4 s; the lidar scan tests rely on the start pose)."""
    sim = AgvSim(make_world("warehouse", 1), AgvParams(), LidarParams(), control_dt=0.05, seed=0)
    try:
        start = sim.pose.copy()
        for _ in range(200):
            sim.step(np.zeros(2), 0.05)
        assert np.hypot(*(sim.pose[:2] - start[:2])) < 1e-3
    finally:
        sim.close()


def test_robot_drives_off_a_concave_crease() -> None:
    """Across a crease (slope meeting flat ground) both casters touch and the drive wheels hang between them.
    With 4000 N/m caster springs the wheels carried 0-30 N there and spun on the spot for 200 s
    (bench stack forest 1000003, 2026-12-02, at this pose); at 2000 N/m they keep traction."""
    sim = AgvSim(make_world("forest", 1000003), AgvParams(), LidarParams(), control_dt=0.05, seed=0)
    try:
        sim.reset(pose=(3.049, 9.647, -0.82))
        for _ in range(60):
            sim.step(np.array([1.0, 0.52]), 0.05)
        assert np.hypot(*(sim.pose[:2] - [3.049, 9.647])) > 1.0
    finally:
        sim.close()


def test_scan_plane_follows_a_slope() -> None:
    """On a uniform 0.15 slope the lidar (bolted to the chassis) sees no ground: a level scan plane 0.3 m up
    would meet the hillside 2 m ahead, and the mapper took such returns for walls."""
    res, n = 0.25, 81
    heights = tuple(tuple(round(0.15 * res * col, 4) for col in range(n)) for _ in range(n))
    world = World(name="slope", family="test", seed=0, bounds=(0.0, 0.0, 20.0, 20.0), start=(4.0, 10.0, 0.0),
                  goal=(16.0, 10.0), terrain=Terrain(heights=heights, resolution=res, origin=(0.0, 0.0)))
    sim = AgvSim(world, AgvParams(), LidarParams(range_max=8.0), control_dt=0.05, seed=0)
    try:
        ranges = sim.scan()
        ahead = np.abs(np.asarray(LidarParams(range_max=8.0).angles())) < 1.0
        assert not np.isfinite(ranges[ahead]).any(), np.nanmin(ranges[ahead])
    finally:
        sim.close()

"""Shared fixtures. System tests each get a private ROS_DOMAIN_ID and keep DDS on loopback; mapper tests (core
and node) get small known worlds and scripted drives with exact synthetic scans (``mapping_helpers``)."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from toponav.geometry import wrap_angle
from toponav.mapping import MapperConfig, TopoMap, UpdateResult
from toponav.mapping.raycast import cast_scan
from toponav.robot import LidarParams
from toponav.worlds.model import World

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

_domains = itertools.count((os.getpid() % 50) + 1)


@pytest.fixture
def domain_id() -> int:
    """A private domain id per test (1..101) on which no other node is visible, so a demo or benchmark
    running beside the suite cannot mix its topics in (a counter alone collided with a running
    `bench stack`: the lockstep test then received that stack's steps)."""
    try:
        from toponav.ros_nodes.stack_run import find_free_domain
    except ImportError:  # no rclpy: the tests that need a domain skip themselves
        return (next(_domains) % 100) + 1
    return find_free_domain(listen=1.0)


# -- mapper test helpers ----------------------------------------------------------------------------------
ANGLES = LidarParams(beams=360, range_max=8.0).angles()


def room_world() -> World:
    """12 x 8 m room with two pillars and a wall stub: closed, so full exploration leaves no frontier."""
    return World(name="room", family="test", seed=0, bounds=(0.0, 0.0, 12.0, 8.0), start=(1.0, 1.0, 0.0),
                 goal=(11.0, 7.0), circles=((4.0, 4.0, 0.5), (8.0, 2.5, 0.4)), boxes=((8.0, 6.5, 0.2, 1.5, 0.0),))


#: a drive through room_world that sees all of it (around the wall stub at x = 8, y 5..8)
ROOM_TOUR = [(1.0, 1.0), (6.0, 1.0), (6.0, 3.8), (10.5, 3.8), (10.5, 7.0), (9.0, 7.0)]


def corridor_world() -> World:
    """Long 40 x 3 m corridor: a lidar from one end cannot see the far end (frontier there)."""
    return World(name="corridor", family="test", seed=0, bounds=(0.0, 0.0, 40.0, 3.0), start=(1.0, 1.5, 0.0),
                 goal=(39.0, 1.5), circles=((6.0, 0.6, 0.3),))


def loop_world() -> World:
    """14 x 14 m square with a 8 x 8 m block in the middle: driving around it closes a loop."""
    return World(name="loop", family="test", seed=0, bounds=(0.0, 0.0, 14.0, 14.0), start=(1.5, 1.5, 0.0),
                 goal=(12.5, 12.5), circles=((0.6, 5.0, 0.3), (13.2, 8.5, 0.5), (9.0, 0.5, 0.25), (4.0, 13.4, 0.4),
                                             (2.5, 0.4, 0.2), (0.5, 10.0, 0.35), (13.4, 3.0, 0.25)),
                 boxes=((7.0, 7.0, 4.0, 4.0, 0.0),))


def twin_rooms() -> tuple[World, list[tuple[float, float]]]:
    """Two look-alike rooms either side of a wall with a door, and a tour through both."""
    world = World(name="twins", family="test", seed=0, bounds=(0.0, 0.0, 10.2, 6.0), start=(1.0, 3.0, 0.0),
                  goal=(9.0, 5.0), circles=((1.5, 1.5, 0.3), (3.5, 4.5, 0.3), (6.7, 1.5, 0.3), (8.7, 4.5, 0.3)),
                  boxes=((5.1, 1.25, 0.1, 1.25, 0.0), (5.1, 4.75, 0.1, 1.25, 0.0)))
    tour = [(1.0, 3.0), (4.0, 3.0), (4.0, 1.0), (2.5, 0.7), (2.5, 5.3), (0.7, 5.3), (0.7, 3.0), (4.3, 3.0),
            (6.2, 3.0), (9.2, 3.0), (9.2, 1.0), (7.7, 0.7), (7.7, 5.3), (5.9, 5.3)]
    return world, tour


def polyline(points: Sequence[tuple[float, float]], step: float = 0.1) -> list[tuple[float, float, float]]:
    """Poses every ``step`` metres along a polyline, yaw along the path."""
    out: list[tuple[float, float, float]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        seg = math.hypot(x1 - x0, y1 - y0)
        yaw = math.atan2(y1 - y0, x1 - x0)
        n = max(1, int(seg / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, yaw) for i in range(n)]
    out.append((*points[-1], out[-1][2] if out else 0.0))
    return out


def drive(world: World, poses: Sequence[tuple[float, float, float]], tm: TopoMap | None = None,
          cfg: MapperConfig | None = None, *, dt: float = 0.1, t0: float = 0.0,
          odom: Callable[[int, tuple[float, float, float]], tuple[float, float, float]] | None = None,
          ) -> tuple[TopoMap, list[UpdateResult]]:
    """Feed exact scans at true ``poses``; the mapper sees ``odom(i, pose)`` (drifted) when given."""
    tm = tm or TopoMap(cfg)
    results = []
    for i, pose in enumerate(poses):
        ranges = cast_scan(world, pose, ANGLES, 8.0)
        seen = odom(i, pose) if odom else pose
        results.append(tm.update(seen, ranges, ANGLES, t0 + i * dt, range_min=0.05, range_max=8.0))
    return tm, results


def drifted_odometry(poses: Sequence[tuple[float, float, float]], yaw_rate_bias: float, scale: float):
    """Integrate true motion with a yaw bias per metre and a distance scale error (dead reckoning)."""
    est = [poses[0]]
    for (x0, y0, th0), (x1, y1, th1) in itertools.pairwise(poses):
        dist = math.hypot(x1 - x0, y1 - y0) * scale
        dth = wrap_angle(th1 - th0) + yaw_rate_bias * dist
        ex, ey, eth = est[-1]
        heading = math.atan2(y1 - y0, x1 - x0) - th0 + eth if dist > 0 else eth
        est.append((ex + dist * math.cos(heading), ey + dist * math.sin(heading), eth + dth))
    return lambda i, _pose: est[i]


@pytest.fixture
def mapping_helpers():
    """The helpers above, as a namespace (importlib mode: test modules cannot import conftest)."""
    class H:
        pass

    h = H()
    for name, fn in dict(room_world=room_world, corridor_world=corridor_world, loop_world=loop_world,
                         twin_rooms=twin_rooms,
                         polyline=polyline, drive=drive, drifted_odometry=drifted_odometry).items():
        setattr(h, name, staticmethod(fn))
    h.ANGLES = ANGLES
    h.ROOM_TOUR = ROOM_TOUR
    h.np = np
    return h

"""Levelling a scan taken on a tilted chassis (toponav.mapping.level) and the attitude it comes from."""

from __future__ import annotations

import math

import numpy as np

from toponav.geometry import quaternion_to_roll_pitch, quaternion_to_yaw, rpy_to_quaternion
from toponav.mapping import TopoMap
from toponav.mapping.config import MapperConfig
from toponav.mapping.level import level_scan


def test_roll_pitch_yaw_round_trip() -> None:
    for roll, pitch, yaw in [(0.1, -0.2, 2.5), (-0.3, 0.25, -3.0), (0.0, 0.0, 1.0)]:
        q = rpy_to_quaternion(roll, pitch, yaw)
        assert np.allclose(quaternion_to_roll_pitch(*q), (roll, pitch))
        assert math.isclose(quaternion_to_yaw(*q), yaw, abs_tol=1e-12)


def test_tilted_plane_against_vertical_walls() -> None:
    """Walls 4 m ahead and 3 m to the left, the chassis pitched 10 and rolled 5 degrees: the slant ranges the
    tilted plane measures come back onto the walls."""
    roll, pitch = math.radians(5.0), math.radians(10.0)
    # beam 0 (straight ahead) climbs or dips by the pitch only; beam 90 (left) by the roll only
    ranges = np.array([4.0 / math.cos(pitch), 3.0 / math.cos(roll), np.inf])
    angles = np.array([0.0, math.pi / 2, math.pi])
    r, a = level_scan(ranges, angles, roll, pitch, range_max=8.0)
    x, y = r * np.cos(a), r * np.sin(a)
    assert np.allclose([x[0], y[0]], [4.0, 0.0])  # on the wall ahead
    assert math.isclose(y[1], 3.0) and abs(x[1]) < 0.05  # on the wall to the left (the roll swings it a little)
    assert np.isinf(r[2]) and a[2] == math.pi  # no return stays no return


def test_level_scan_leaves_level_scans_and_bad_readings_alone() -> None:
    ranges = np.array([1.0, np.nan, 0.01, 8.0, 2.0])
    angles = np.linspace(-1.0, 1.0, 5)
    r, a = level_scan(ranges, angles, 0.0, 0.0, range_min=0.05, range_max=8.0)
    assert r is not None and np.array_equal(r, ranges, equal_nan=True) and np.array_equal(a, angles)
    r, a = level_scan(ranges, angles, 0.1, 0.1, range_min=0.05, range_max=8.0)
    assert np.isnan(r[1]) and r[2] == 0.01 and r[3] == 8.0  # NaN, too near, range_max: passed through
    assert r[0] < 1.0 and r[4] < 2.0


def test_mapper_levels_with_the_tilt_and_reports_a_bad_one() -> None:
    """The same scan with and without a 10-degree pitch gives different grids; a NaN tilt is reported, the
    scan used as measured, and the mapper keeps going."""
    angles = np.linspace(-math.pi, math.pi, 360, endpoint=False)
    ranges = np.full(360, 3.0)
    flat = TopoMap(MapperConfig())
    tilted = TopoMap(MapperConfig())
    flat.update((0.0, 0.0, 0.0), ranges, angles, 0.0, range_max=8.0)
    tilted.update((0.0, 0.0, 0.0), ranges, angles, 0.0, range_max=8.0, tilt=(0.0, math.radians(10.0)))
    assert not np.array_equal(flat.occupancy.logodds, tilted.occupancy.logodds)
    bad = TopoMap(MapperConfig())
    res = bad.update((0.0, 0.0, 0.0), ranges, angles, 0.0, range_max=8.0, tilt=(math.nan, 0.0))
    assert res.scan_used and any("not a usable attitude" in m for m in res.messages)
    assert np.array_equal(bad.occupancy.logodds, flat.occupancy.logodds)
    off = TopoMap(MapperConfig(level_scans=False))
    off.update((0.0, 0.0, 0.0), ranges, angles, 0.0, range_max=8.0, tilt=(0.0, math.radians(10.0)))
    assert np.array_equal(off.occupancy.logodds, flat.occupancy.logodds)

"""Safety layer on its own: it stops before a wall from every approach direction, turns away, handles bad scans."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toponav.control.config import SafetyConfig
from toponav.control.safety import BLIND, CLEAR, STOPPED, TURN_AWAY, SafetyLayer
from toponav.control.scan import clean_scan, sector_min
from toponav.robot import AgvParams, LidarParams

LIDAR = LidarParams(beams=72)
ANGLES = LIDAR.angles()
ROBOT = AgvParams()


def wall_scan(pose: np.ndarray, normal_angle: float, offset: float) -> np.ndarray:
    """Exact ranges to the infinite wall {p : n·p = offset} (n = unit vector at normal_angle), world frame."""
    n = np.array([math.cos(normal_angle), math.sin(normal_angle)])
    a = ANGLES + pose[2]
    dn = n[0] * np.cos(a) + n[1] * np.sin(a)
    t = (offset - n @ pose[:2]) / np.where(np.abs(dn) < 1e-12, 1e-12, dn)
    return np.where((dn > 1e-9) & (t > 0), np.minimum(t, LIDAR.range_max), LIDAR.range_max)


def drive(layer: SafetyLayer, cmd: tuple[float, float], normal_angle: float, offset: float, seconds: float = 8.0,
          dt: float = 0.05):
    """Kinematic robot at the origin heading +x, commanded ``cmd`` every step through the layer."""
    pose = np.zeros(3)
    n = np.array([math.cos(normal_angle), math.sin(normal_angle)])
    min_gap = math.inf
    res = None
    for _ in range(int(seconds / dt)):
        res = layer.filter(np.array(cmd), wall_scan(pose, normal_angle, offset), ANGLES, range_max=LIDAR.range_max)
        v, w = res.cmd[0]
        pose = pose + dt * np.array([v * math.cos(pose[2]), v * math.sin(pose[2]), w])
        min_gap = min(min_gap, offset - n @ pose[:2] - ROBOT.radius)
    return pose, min_gap, res


# wall normal relative to the robot's heading: the direction the robot approaches it from
FORWARD_APPROACH = [math.radians(d) for d in range(-75, 76, 15)]
REVERSE_APPROACH = [math.pi + math.radians(d) for d in range(-60, 61, 30)]


@pytest.mark.parametrize("approach", FORWARD_APPROACH + REVERSE_APPROACH,
                         ids=[f"{round(math.degrees(a))}deg" for a in FORWARD_APPROACH + REVERSE_APPROACH])
@pytest.mark.parametrize("w", [0.0, 0.3])
def test_stops_before_wall_in_every_approach_direction(approach: float, w: float) -> None:
    layer = SafetyLayer(SafetyConfig(turn_rate=0.0), ROBOT.radius, ROBOT.max_w)
    v = ROBOT.max_v if math.cos(approach) > 0 else ROBOT.min_v
    _pose, min_gap, res = drive(layer, (v, w), approach, offset=2.0 if v > 0 else 1.0)
    assert min_gap > 0.0, f"robot touched the wall (gap {min_gap:.3f} m)"
    if w == 0.0:
        # driving straight at the wall: it must end stopped, close to footprint + margin, not far away
        assert res.cmd[0, 0] == 0.0 and res.mode[0] == STOPPED
        assert min_gap < 0.6


def test_full_speed_head_on_keeps_margin() -> None:
    cfg = SafetyConfig(turn_rate=0.0)
    layer = SafetyLayer(cfg, ROBOT.radius, ROBOT.max_w)
    _, min_gap, _ = drive(layer, (1.0, 0.0), 0.0, offset=3.0)
    assert cfg.margin * 0.5 < min_gap < 0.5


def test_free_space_is_left_alone() -> None:
    layer = SafetyLayer(SafetyConfig(), ROBOT.radius, ROBOT.max_w)
    res = layer.filter(np.array([[0.8, 0.4]]), np.full((1, len(ANGLES)), LIDAR.range_max), ANGLES,
                       range_max=LIDAR.range_max)
    assert res.mode[0] == CLEAR
    np.testing.assert_allclose(res.cmd[0], [0.8, 0.4])
    assert math.isinf(res.ttc[0])


def test_turns_away_toward_the_open_side() -> None:
    layer = SafetyLayer(SafetyConfig(), ROBOT.radius, ROBOT.max_w)
    # wall ahead, tilted so that it is closer on the right: the open side is the left
    pose = np.zeros(3)
    ranges = wall_scan(pose, math.radians(-30), 0.36)
    res = layer.filter(np.array([1.0, 0.0]), ranges, ANGLES, range_max=LIDAR.range_max)
    assert res.mode[0] == TURN_AWAY
    assert res.cmd[0, 0] == 0.0 and res.cmd[0, 1] > 0.0


def test_can_back_out_when_too_close() -> None:
    layer = SafetyLayer(SafetyConfig(turn_rate=0.0), ROBOT.radius, ROBOT.max_w)
    ranges = wall_scan(np.zeros(3), 0.0, 0.27)  # footprint edge 2 cm from the wall, inside the margin
    fwd = layer.filter(np.array([0.5, 0.0]), ranges, ANGLES, range_max=LIDAR.range_max)
    back = layer.filter(np.array([-0.2, 0.0]), ranges, ANGLES, range_max=LIDAR.range_max)
    assert fwd.cmd[0, 0] == 0.0
    assert back.cmd[0, 0] == pytest.approx(-0.2) and back.mode[0] == CLEAR


def test_batch_matches_single() -> None:
    layer = SafetyLayer(SafetyConfig(), ROBOT.radius, ROBOT.max_w)
    scans = np.stack([wall_scan(np.zeros(3), a, d) for a, d in [(0.0, 0.6), (1.0, 3.0), (3.0, 0.5)]])
    cmds = np.array([[1.0, 0.0], [0.5, 0.5], [-0.2, 0.1]])
    batch = layer.filter(cmds, scans, ANGLES, range_max=LIDAR.range_max)
    for i in range(3):
        one = layer.filter(cmds[i], scans[i], ANGLES, range_max=LIDAR.range_max)
        np.testing.assert_allclose(batch.cmd[i], one.cmd[0])


def test_nan_scan_is_blind_and_stops() -> None:
    layer = SafetyLayer(SafetyConfig(), ROBOT.radius, ROBOT.max_w)
    scan = clean_scan(np.full(len(ANGLES), np.nan), LIDAR.range_max, LIDAR.range_min)
    assert scan.blind[0] and np.isfinite(scan.ranges).all()
    res = layer.filter(np.array([1.0, 0.5]), scan.ranges, ANGLES, scan.valid, scan.blind, LIDAR.range_max)
    assert res.mode[0] == BLIND and not res.cmd.any()


def test_few_nan_beams_still_see_the_wall() -> None:
    # 360 beams: dropping every 7th leaves 2-degree holes, well inside max_gap (a 72-beam scan would be blind)
    angles = LidarParams(beams=360).angles()
    layer = SafetyLayer(SafetyConfig(turn_rate=0.0), ROBOT.radius, ROBOT.max_w)
    clean = np.where(np.cos(angles) > 1e-9, np.minimum(0.5 / np.maximum(np.cos(angles), 1e-9), 8.0), 8.0)
    raw = clean.copy()
    raw[::7] = np.nan
    raw[1] = np.inf
    scan = clean_scan(raw, LIDAR.range_max, LIDAR.range_min)
    assert not scan.blind[0]
    res = layer.filter(np.array([1.0, 0.0]), scan.ranges, angles, scan.valid, scan.blind, LIDAR.range_max)
    ref = layer.filter(np.array([1.0, 0.0]), clean, angles, range_max=LIDAR.range_max)
    assert res.mode[0] != BLIND
    assert res.cmd[0, 0] == ref.cmd[0, 0] < 0.9  # the dropped beams change nothing: neighbours see the wall


def test_neg_inf_means_too_close() -> None:
    raw = np.full(len(ANGLES), 5.0)
    raw[36] = -np.inf  # straight ahead
    scan = clean_scan(raw, LIDAR.range_max, LIDAR.range_min)
    assert scan.ranges[36] == 0.0 and scan.valid[36]
    res = SafetyLayer(SafetyConfig(turn_rate=0.0), ROBOT.radius, ROBOT.max_w).filter(
        np.array([0.5, 0.0]), scan.ranges, ANGLES, scan.valid, scan.blind, LIDAR.range_max)
    assert res.cmd[0, 0] == 0.0


def test_nan_command_becomes_stop() -> None:
    res = SafetyLayer(SafetyConfig(), ROBOT.radius, ROBOT.max_w).filter(
        np.array([np.nan, np.inf]), np.full(len(ANGLES), 8.0), ANGLES, range_max=8.0)
    assert np.isfinite(res.cmd).all() and res.cmd[0, 0] == 0.0


def test_sector_min_any_beam_count() -> None:
    angles = LidarParams(beams=360).angles()
    ranges = np.full(360, 5.0)
    ranges[180] = 1.0  # straight ahead (angle 0)
    s = sector_min(ranges, angles, 8, fill=9.0)
    assert s.shape == (8,) and s.min() == 1.0 and s[4] == 1.0
    # a 90-degree fov scanner leaves rear sectors empty -> filled
    narrow = LidarParams(beams=30, fov=math.pi / 2).angles()
    s2 = sector_min(np.full(30, 2.0), narrow, 8, fill=9.0)
    assert (s2 == 9.0).sum() >= 4

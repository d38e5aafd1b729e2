"""The localiser in the mapper: wheel drift cancelled by scan matching, a loop closure straightening a drifted lap,
look-alike rooms refused, relocalisation in a saved map, and bad input with the correction on."""

from __future__ import annotations

import math

import numpy as np

from toponav.localisation.localiser import LocalisationConfig, Localiser
from toponav.mapping import MapperConfig
from toponav.mapping.config import DescriptorConfig
from toponav.mapping.geojson import from_geojson, to_geojson
from toponav.mapping.raycast import cast_scan
from toponav.robot import LidarParams

LOOP_TOUR = [(1.5, 1.5), (12.5, 1.5), (12.5, 12.5), (1.5, 12.5), (1.5, 1.5), (6.0, 1.5)]


def _errors(results, poses) -> np.ndarray:
    return np.array([math.dist(r.pose[:2], p[:2]) for r, p in zip(results, poses, strict=True)])


def test_scan_matching_cancels_wheel_drift(mapping_helpers):
    """Odometry with a yaw bias and a 1 % scale error ends metres off; the corrected pose stays within centimetres."""
    h = mapping_helpers
    poses = h.polyline(LOOP_TOUR)
    odom = h.drifted_odometry(poses, 0.01, 1.01)
    tm, results = h.drive(h.loop_world(), poses, odom=odom)
    odom_err = max(math.dist(odom(i, p)[:2], p[:2]) for i, p in enumerate(poses))
    err = _errors(results, poses)
    assert odom_err > 2.0, "the test needs odometry that really drifts"
    assert err.max() < 0.05, f"corrected pose up to {err.max():.3f} m off"
    assert sum(r.matched for r in results) >= len(results) - 2
    # places sit where the robot really was when it made them
    for n in tm.place_nodes():
        x, y = tm.position(n)
        assert h.loop_world().clearance(np.array([[x, y]]))[0] > 0.2


def _lap(h, closure: bool) -> tuple[np.ndarray, Localiser, list[str]]:
    angles = LidarParams(beams=90, range_max=8.0).angles()
    poses = h.polyline(LOOP_TOUR)
    odom = h.drifted_odometry(poses, 0.02, 1.03)
    rng = np.random.default_rng(0)
    loc = Localiser(LocalisationConfig(loop_closure=closure))
    errs, msgs = [], []
    for i, p in enumerate(poses):
        r = cast_scan(h.loop_world(), p, angles, 8.0) + rng.normal(0.0, 0.05, len(angles))
        ok = np.isfinite(r)
        scan = np.column_stack([r[ok] * np.cos(angles[ok]), r[ok] * np.sin(angles[ok])])
        res = loc.update(np.array(odom(i, p)), scan, i * 0.1)
        errs.append(math.dist(res.pose[:2], p[:2]))
        msgs += res.messages
    return np.array(errs), loc, msgs


def test_a_loop_closure_pulls_a_drifted_lap_back(mapping_helpers):
    """Sparse noisy scans let scan-to-map matching drift ~0.4 m over a 44 m lap; back at the start, the closure
    against the first keyframes pulls the pose back."""
    h = mapping_helpers
    open_err, open_loc, _ = _lap(h, closure=False)
    err, loc, msgs = _lap(h, closure=True)
    assert open_loc.closures == 0 and open_err[-1] > 0.3, "the scenario must drift without closures"
    assert loc.closures >= 1
    big = [m for m in msgs if m.startswith("loop closure:") and float(m.split("correction ")[1].split(" m")[0]) > 0.2]
    assert big, "a closure must have corrected a real drift"
    assert err[-1] < 0.15 and err[-1] < open_err[-1] / 3, (err[-1], open_err[-1])


def test_look_alike_rooms_are_refused(mapping_helpers):
    """Two identical rooms behind a wall, appearance matching made permissive: the descriptors propose places
    in the other room, registration + the drift gate refuse them, and the corrected pose never jumps."""
    h = mapping_helpers
    world, tour = h.twin_rooms()
    poses = h.polyline(tour)
    cfg = MapperConfig(revisit_min_age=0.0, descriptor=DescriptorConfig(match_threshold=0.99, revisit_margin=0.0))
    tm, results = h.drive(world, poses, cfg=cfg, odom=h.drifted_odometry(poses, 0.01, 1.01))
    refused = [m for r in results for m in r.messages if "refused" in m]
    assert refused, "the permissive setup must propose revisits"
    assert _errors(results, poses).max() < 0.05
    for pose, r in zip(poses, results, strict=True):
        if r.revisit:  # a revisit that held: the robot really is at that place
            assert math.dist(pose[:2], tm.position(r.node)) <= cfg.node_distance + 0.05


def test_relocalises_in_a_saved_map(mapping_helpers):
    """A restarted mapper loads its saved graph; its odometry now starts elsewhere (0, 0, 0 at a new spot), and
    the first scans find the robot in the saved map."""
    h = mapping_helpers
    world = h.room_world()
    tm, _ = h.drive(world, h.polyline(h.ROOM_TOUR))
    loaded = from_geojson(to_geojson(tm), tm.cfg)
    assert loaded.start_relocalisation()
    true = (6.0, 3.8, 0.3)
    res = loaded.update((0.0, 0.0, 0.0), cast_scan(world, true, h.ANGLES, 8.0), h.ANGLES, 500.0, range_min=0.05,
                        range_max=8.0)
    assert any("relocalised" in m for m in res.messages), res.messages
    # the saved map is the grid's obstacle cell centres (0.1 m cells): a wall reads up to half a cell off, so the
    # first fit is good to a few centimetres; the live scans that follow refine it (below)
    assert math.dist(res.pose[:2], true[:2]) < 0.075 and abs(res.pose[2] - true[2]) < 0.02
    moved = (6.5, 3.8, 0.3)  # the odometry goes on from its own origin
    res = loaded.update((0.5 * math.cos(0.0), 0.0, 0.0), cast_scan(world, moved, h.ANGLES, 8.0), h.ANGLES, 500.1,
                        range_min=0.05, range_max=8.0)
    assert res.matched and math.dist(res.pose[:2], moved[:2]) < 0.1


def test_bad_input_with_the_correction_on(mapping_helpers):
    """NaN pose: skipped with a message; empty scan: the odometry prediction, said so; time jump: map and
    localiser cleared; every time the next good scan is used."""
    h = mapping_helpers
    world = h.corridor_world()
    tm, _ = h.drive(world, h.polyline([(1.0, 1.5), (3.0, 1.5)]))
    keyframes = len(tm.localiser.keyframes)
    res = tm.update((math.nan, 1.5, 0.0), cast_scan(world, (3.1, 1.5, 0.0), h.ANGLES, 8.0), h.ANGLES, 10.0,
                    range_min=0.05, range_max=8.0)
    assert res.skipped and "non-finite" in res.skipped and len(tm.localiser.keyframes) == keyframes
    res = tm.update((3.1, 1.5, 0.0), np.array([]), np.array([]), 10.1, range_min=0.05, range_max=8.0)
    assert res.skipped and "empty scan" in res.skipped and not res.matched
    assert math.dist(res.pose[:2], (3.1, 1.5)) < 0.05
    res = tm.update((3.2, 1.5, 0.0), cast_scan(world, (3.2, 1.5, 0.0), h.ANGLES, 8.0), h.ANGLES, 10.2,
                    range_min=0.05, range_max=8.0)
    assert res.matched
    res = tm.update((1.0, 1.5, 0.0), cast_scan(world, (1.0, 1.5, 0.0), h.ANGLES, 8.0), h.ANGLES, 1.0,
                    range_min=0.05, range_max=8.0)
    assert res.reset and len(tm.localiser.keyframes) == 1 and tm.num_places == 1

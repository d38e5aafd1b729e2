"""map <- odom from corrected poses: what the planner and controller use instead of TF."""

import math

import numpy as np

from toponav.geometry import se2_compose
from toponav.localisation.frames import MapFromOdom, OdomFilter, OdomHistory


def test_identity_until_a_corrected_pose_arrives() -> None:
    f = MapFromOdom()
    np.testing.assert_allclose(f.to_map(np.array([1.0, 2.0, 0.3])), [1.0, 2.0, 0.3])


def test_transform_from_a_pose_and_the_odometry_of_its_stamp() -> None:
    odom_from_map = np.array([-0.4, 0.2, -0.05])  # how far the odometry has drifted
    f = MapFromOdom()
    truth = [np.array([0.1 * k, 0.02 * k, 0.01 * k]) for k in range(20)]  # map poses every 0.05 s
    odom = [se2_compose(odom_from_map, p) for p in truth]
    for k, o in enumerate(odom):
        f.add_odom(0.05 * k, o)
    assert f.add_map_pose(0.5, truth[10])
    for o, p in zip(odom, truth, strict=True):
        np.testing.assert_allclose(f.to_map(o), p, atol=1e-9)
        np.testing.assert_allclose(f.to_odom(p), o, atol=1e-9)


def test_sparse_odometry_is_interpolated_and_a_gap_refused() -> None:
    """The planner in lockstep holds one odometry sample per 0.5 s tick; the scan's stamp falls between two."""
    f = MapFromOdom()
    f.add_odom(0.0, np.array([0.0, 0.0, 0.0]))
    f.add_odom(0.5, np.array([0.5, 0.0, 0.0]))
    assert f.add_map_pose(0.3, np.array([1.3, 1.0, 0.0]))  # odometry 0.3 m along at t = 0.3 -> shift (1, 1)
    np.testing.assert_allclose(f.to_map(np.array([0.5, 0.0, 0.0])), [1.5, 1.0, 0.0], atol=1e-9)
    g = MapFromOdom(max_gap=0.6)
    g.add_odom(0.0, np.zeros(3))
    g.add_odom(2.0, np.array([2.0, 0.0, 0.0]))
    assert not g.add_map_pose(1.0, np.array([5.0, 5.0, 0.0]))  # no odometry near that time: transform kept
    np.testing.assert_allclose(g.transform, 0.0)


def test_time_going_back_forgets_old_odometry() -> None:
    f = MapFromOdom()
    f.add_odom(10.0, np.array([3.0, 0.0, 0.0]))
    f.add_odom(0.0, np.array([0.0, 0.0, 0.0]))  # sim reset
    assert f.odom_at(10.0) is None
    assert f.add_map_pose(0.0, np.array([0.0, 0.0, math.pi / 2]))
    np.testing.assert_allclose(f.to_map(np.array([1.0, 0.0, 0.0])), [0.0, 1.0, math.pi / 2], atol=1e-9)


def test_a_transform_across_pi_has_not_moved() -> None:
    frames = MapFromOdom()
    frames.transform = np.array([1.0, 2.0, np.pi - 0.001])
    assert not frames.moved_from(np.array([1.0, 2.0, -np.pi + 0.001]))  # 2 mrad apart, not 2 pi
    assert frames.moved_from(np.array([1.0, 2.0, np.pi - 0.01]))
    assert frames.moved_from(np.array([1.03, 2.0, np.pi - 0.001]))


def test_odom_history_interpolates_holds_and_restarts():
    h = OdomHistory(max_skew=0.0, max_gap=0.5, max_age=0.25, jump_tolerance=0.5)
    assert h.at(1.0) is None and h.newest is None
    h.add(1.0, (0.0, 0.0, math.pi - 0.1))
    h.add(1.2, (1.0, 2.0, -math.pi + 0.1))  # yaw crosses +-pi: the short way round
    np.testing.assert_allclose(h.at(1.05), [0.25, 0.5, math.pi - 0.05], atol=1e-12)
    assert abs(abs(h.at(1.1)[2]) - math.pi) < 1e-12
    np.testing.assert_allclose(h.at(1.2), [1.0, 2.0, -math.pi + 0.1])  # on a sample: that sample
    np.testing.assert_allclose(h.at(1.4), [1.0, 2.0, -math.pi + 0.1])  # past the newest, within max_age: held
    assert h.at(1.5) is None and h.at(0.7) is None  # beyond max_age either side
    h.add(1.6, (1.0, 2.0, 0.0))
    assert h.at(1.4) is not None  # a gap of 0.4 s (<= max_gap): interpolated
    h.add(3.0, (5.0, 0.0, 0.0))
    assert h.at(2.3) is None  # a gap of 1.4 s: neither interpolated nor within max_age
    h.add(2.8, (5.0, 0.0, 0.0))  # 0.2 s back: jitter, kept
    assert len(h) == 5 and h.newest == 3.0 and h.at(2.8)[0] == 5.0  # put in stamp order
    h.add(1.0, (0.0, 0.0, 0.0))  # 1.8 s back: a reset, the history starts again
    assert len(h) == 1 and h.newest == 1.0


def test_odom_filter_holds_a_scan_for_its_odometry_and_never_pairs_another_time():
    f: OdomFilter[str] = OdomFilter(wait=0.25, max_gap=0.5, jump_tolerance=0.5)
    assert f.add(0.9, "early") == [] and f.held == 1  # no odometry yet: waits
    (p,) = f.add_odom(1.0, (1.0, 0.0, 0.0))  # the first sample comes after it: nothing to interpolate from
    assert p.item == "early" and p.pose is None and "older than the odometry held" in p.reason
    (p,) = f.add(1.0, "on a sample")
    np.testing.assert_allclose(p.pose, [1.0, 0.0, 0.0])
    assert f.add(1.1, "ahead") == [] and f.held == 1  # overtook its odometry: waits, not paired with 1.0 s
    (p,) = f.add_odom(1.2, (1.4, 0.0, 0.0))
    assert p.item == "ahead"
    np.testing.assert_allclose(p.pose, [1.2, 0.0, 0.0])  # interpolated between 1.0 and 1.2 s
    # odometry stops: a held scan is dropped once scans 0.25 s newer have come, with the reason
    assert f.add(1.3, "a") == [] and f.add(1.5, "b") == []
    (p,) = f.add(1.6, "c")
    assert p.item == "a" and p.pose is None and "no odometry at or after its stamp within 0.25 s" in p.reason
    # samples 0.8 s apart either side: dropped, not interpolated across the gap
    done = f.add_odom(2.0, (3.0, 0.0, 0.0))
    assert [(q.item, q.pose is None) for q in done] == [("b", True), ("c", True)]
    assert "more than 0.5 s apart" in done[0].reason
    # time jumps back (sim reset): held scans of the run before are dropped, old odometry is not used
    assert f.add(2.1, "old run") == []
    (p,) = f.add_odom(0.2, (0.0, 0.0, 0.0))
    assert p.item == "old run" and p.pose is None and "time jumped back" in p.reason
    f2: OdomFilter[str] = OdomFilter()
    f2.add_odom(5.0, (5.0, 0.0, 0.0))
    assert f2.add(0.1, "new run") == [] and f2.held == 1  # waits for the new run's odometry
    (p,) = f2.add_odom(0.1, (0.0, 0.0, 0.0))
    np.testing.assert_allclose(p.pose, [0.0, 0.0, 0.0])


def test_odom_filter_lockstep_takes_the_newest_sample_within_wait():
    f: OdomFilter[str] = OdomFilter(wait=0.25)
    f.add_odom(1.0, (1.0, 0.0, 0.0))
    np.testing.assert_allclose(f.pair_now(1.05, "x").pose, [1.0, 0.0, 0.0])
    assert f.pair_now(1.3, "y").pose is None


def test_odom_filter_under_lost_and_reordered_messages_pairs_only_true_poses():
    """The CI failure this guards: under load best-effort /odom samples are lost and /scan overtakes /odom; a scan
    paired with the odometry of another time put the map 0.2 m off for good. A robot driving at 2 m/s along x
    (odometry exact, 10 Hz): every scan handed on carries the pose of its own stamp."""
    rng = np.random.default_rng(3)
    f: OdomFilter[float] = OdomFilter(wait=0.25, max_gap=0.5)
    events = []
    for k in range(400):
        t = 1.0 + 0.1 * k
        if rng.random() > 0.3:  # 30 % of the odometry lost
            events.append((t + rng.uniform(0.0, 0.15), 0, t))  # arrives up to 0.15 s late
        events.append((t + rng.uniform(0.0, 0.05), 1, t))
    paired = []
    for _, kind, t in sorted(events):
        paired += f.add_odom(t, (2.0 * t, 0.0, 0.0)) if kind == 0 else f.add(t, t)
    used = [p for p in paired if p.pose is not None]
    assert len(used) > 250 and len(paired) + f.held == 400
    err = max(abs(p.pose[0] - 2.0 * p.item) for p in used)
    assert err < 1e-9, err

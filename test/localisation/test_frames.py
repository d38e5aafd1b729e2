"""map <- odom from corrected poses: what the planner and controller use instead of TF."""

import math

import numpy as np

from toponav.geometry import se2_compose
from toponav.localisation.frames import MapFromOdom, OdomHistory


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

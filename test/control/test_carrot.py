"""The controller's rolling local costmap (LocalCarrot) and the grid carrot it is built on."""

from __future__ import annotations

import numpy as np

from toponav.control.carrot import LocalCarrot, ScanCarrot
from toponav.control.config import LocalPlanConfig


def _ring_scan(n: int = 360) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, 8.0), np.linspace(-np.pi, np.pi, n, endpoint=False)


def test_far_hits_are_dropped_not_piled_on_the_window_border() -> None:
    lc = LocalCarrot(LocalPlanConfig(window=6.0), radius=0.25)
    ranges, angles = _ring_scan()
    ranges[:] = 5.0  # every beam hits 5 m out: all outside a 6 m window centred on the robot
    aim = lc.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (2.5, 0.0))
    assert not lc.grid.hits.any()
    np.testing.assert_allclose(aim, (2.5, 0.0))  # nothing seen in the way: straight at the target


def test_recentring_carries_the_hits_that_stay_inside() -> None:
    lc = LocalCarrot(LocalPlanConfig(window=8.0), radius=0.25)
    ranges, angles = _ring_scan()
    ranges[:] = 8.0
    ranges[180] = 1.5  # one hit 1.5 m straight ahead (beam at angle 0)
    lc.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (5.0, 0.0))
    before = lc.grid.hit_points()
    assert len(before) == 1
    ranges[180] = 8.0
    lc.aim((2.5, 0.0, 0.0), ranges, angles, 8.0, (5.0, 0.0))  # > window/4 from the centre: new window
    assert lc.grid.xmin == 2.5 - 4.0
    np.testing.assert_allclose(lc.grid.hit_points(), before, atol=0.06)


def test_target_inside_an_obstacle_plans_to_the_nearest_free_cell() -> None:
    sc = ScanCarrot((0.0, 0.0, 10.0, 10.0), (5.0, 5.0), radius=0.25, lookahead=1.0)
    sc.add_hits(np.array([[5.0, 5.0], [5.05, 5.0]]))  # the goal sits on a hit
    c = sc.update((2.0, 5.0, 0.0), np.array([8.0]), np.array([0.0]), 8.0)
    assert sc._field is not None and np.isfinite(sc._field).sum() > 0
    assert c[0] > 2.5 and abs(c[1] - 5.0) < 0.3  # a carrot toward the goal, not the buried goal itself


def _segment(a: tuple[float, float], b: tuple[float, float], step: float = 0.05) -> np.ndarray:
    n = int(np.hypot(b[0] - a[0], b[1] - a[1]) / step) + 1
    return np.linspace(a, b, n)


def _scan_of(points: np.ndarray, pose: tuple[float, float], beams: int = 720) -> tuple[np.ndarray, np.ndarray]:
    """A lidar scan at ``pose`` (yaw 0) that returns the nearest of ``points`` per beam."""
    angles = np.linspace(-np.pi, np.pi, beams, endpoint=False)
    ranges = np.full(beams, 8.0)
    d = points - np.asarray(pose)[None]
    k = np.round((np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi / beams)).astype(int) % beams
    np.minimum.at(ranges, k, np.hypot(d[:, 0], d[:, 1]))
    return ranges, angles


def test_a_near_target_behind_a_wall_is_not_aimed_at_straight() -> None:
    """map:office: a sub-goal 1.6 m away behind a desk was aimed at straight (it was within lookahead)."""
    lc = LocalCarrot(LocalPlanConfig(lookahead=2.0), radius=0.25)
    wall = _segment((-1.0, 0.8), (1.0, 0.8))  # a 2 m wall between the robot and the target
    ranges, angles = _scan_of(wall, (0.0, 0.0))
    aim = lc.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (0.0, 1.6))
    assert np.hypot(*(aim - (0.0, 1.6))) > 0.5  # not the target itself
    assert lc.grid.line_free(np.zeros(2), aim)  # and the robot sees where it is sent


def test_the_carrot_stays_in_line_of_sight_round_a_corner() -> None:
    """A carrot 2 m along a path that bends round a corner lies behind the corner; it is pulled back to the
    farthest path point the robot sees (map:office, a desk corner)."""
    lc = LocalCarrot(LocalPlanConfig(lookahead=2.0), radius=0.25)
    # an L: a wall south of the robot's line, ending at x = 1.0; the target is behind it, to the south-east
    wall = np.vstack([_segment((-3.0, -0.6), (1.0, -0.6)), _segment((1.0, -0.6), (1.0, -3.0))])
    ranges, angles = _scan_of(wall, (0.0, 0.0))
    aim = None
    for _ in range(6):  # replan_every: the field is fresh by then
        aim = lc.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (0.0, -2.0))
    assert not lc.grid.line_free(np.zeros(2), np.array([0.0, -2.0]))
    assert lc.grid.line_free(np.zeros(2), aim), aim


def test_a_tight_strip_still_has_a_way_out() -> None:
    """A robot in a strip only 0.4 m wider than itself (office start: between desks and a wall): with the
    obstacles grown by inflate every cell around it is blocked; the fallback grid still leads along the strip."""
    cfg = LocalPlanConfig(inflate=0.1, tight_inflate=0.02)
    lc = LocalCarrot(cfg, radius=0.25)
    walls = np.vstack([_segment((-4.0, 0.33), (4.0, 0.33)), _segment((-4.0, -0.33), (2.0, -0.33))])
    ranges, angles = _scan_of(walls, (0.0, 0.0))
    aim = None
    for _ in range(6):
        aim = lc.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (3.0, -2.0))  # out at the strip's open end
    assert aim[0] > 1.0 and abs(aim[1]) < 0.2, aim  # along the strip, not through its wall
    off = LocalCarrot(LocalPlanConfig(inflate=0.1, tight_inflate=0.1), radius=0.25)  # fallback off
    for _ in range(6):
        aim_off = off.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (3.0, -2.0))
    np.testing.assert_allclose(aim_off, (3.0, -2.0))  # no path: straight at the target, into the wall


def test_a_robot_beside_a_door_post_is_not_sent_through_the_post() -> None:
    """A robot inside a door post's grown disc stands in one run of grown cells with the wall itself: the old
    line-of-sight test skipped that whole run and sent it straight through the post at a target beyond the wall;
    DWA then stalled against the post (stack_sim maze 1000004: 88 s in two doors, 8 sub-goals given up)."""
    wall = np.vstack([_segment((-3.0, 0.8), (-0.5, 0.8)), _segment((0.5, 0.8), (3.0, 0.8)),
                      _segment((-0.5, 0.8), (-0.5, 0.95)), _segment((0.5, 0.8), (0.5, 0.95))])

    def crossings(robot, aim) -> list[float]:  # x where the line robot -> aim crosses the wall's two faces
        return [robot[0] + (y - robot[1]) / (aim[1] - robot[1]) * (aim[0] - robot[0]) for y in (0.8, 0.95)
                if aim[1] > y]

    # (0.3, 0.5): in the post's disc grown by radius + inflate only; (0.33, 0.6): in radius + tight_inflate too
    for robot, tight, door in (((0.3, 0.5), False, 0.4), ((0.33, 0.6), True, 0.5)):
        lc = LocalCarrot(LocalPlanConfig(lookahead=2.0, inflate=0.1, tight_inflate=0.02), radius=0.25)
        ranges, angles = _scan_of(wall, robot)
        aim = None
        for _ in range(6):
            aim = lc.aim((*robot, 0.0), ranges, angles, 8.0, (1.5, 2.2))
        r, c = lc.grid._cells(np.array([robot]))
        assert lc.grid.blocked[r, c].all() and lc.grid.tight[r, c].all() == tight  # the case
        assert all(abs(x) < door for x in crossings(robot, aim)), (robot, aim)  # through the door, not the post
        # somewhere to go: not a point under the robot, which DWA can only turn in place at
        assert np.hypot(aim[0] - robot[0], aim[1] - robot[1]) > 0.45, aim


def test_a_carrot_under_the_robot_is_moved_half_a_metre_along_the_path(monkeypatch) -> None:
    """When no path point beyond the first is in sight, the carrot is the first path point 0.5 m from the robot:
    DWA can only turn in place at a point under the robot (stack_sim maze 1000005, 12 s turning at a door)."""
    lc = LocalCarrot(LocalPlanConfig(lookahead=2.0), radius=0.25)
    wall = _segment((-1.0, 0.8), (1.0, 0.8))
    ranges, angles = _scan_of(wall, (0.0, 0.0))
    for _ in range(6):
        lc.aim((0.0, 0.0, 0.0), ranges, angles, 8.0, (0.0, 1.6))
    monkeypatch.setattr(lc.grid, "_last_visible", lambda xy, points: 0)
    aim = lc.grid.carrot(np.zeros(2))
    assert 0.5 <= np.hypot(*aim) < 0.75, aim


def _door_wall(phantoms: bool) -> np.ndarray:
    """A wall at x = 2 with a 1 m door at y = 0; ``phantoms``: a noisy return 0.17 m into the door off each post."""
    parts = [_segment((2.0, -4.0), (2.0, -0.5)), _segment((2.0, 0.5), (2.0, 4.0))]
    if phantoms:
        parts.append(np.array([[2.0, -0.33], [2.0, 0.33]]))
    return np.vstack(parts)


def test_noisy_returns_in_a_door_are_cleared_by_a_nearer_scan_that_sees_through() -> None:
    """maze 1000000: returns off the door posts' end faces, seen from the next room 3-5 m away, lay 0.1-0.2 m into
    a 1 m door; grown by the footprint they closed it, the plan led round the wall through unknown space while the
    planner's path led through the door, and the robot circled in front of it for 200 s. A scan from nearer whose
    beams pass through the door clears them; with clearing off the door stays closed."""
    far_pose, near_pose, target = (-3.0, 0.0, 0.0), (0.9, 0.0, 0.0), (4.0, 0.0)
    far, angles = _scan_of(_door_wall(True), far_pose[:2])
    near, _ = _scan_of(_door_wall(False), near_pose[:2])
    aims = {}
    for closer in (0.6, 0.0):
        lc = LocalCarrot(LocalPlanConfig(inflate=0.1, clear_closer=closer), radius=0.25)
        lc.aim(far_pose, far, angles, 8.0, target)
        assert not lc.grid.line_free(np.array([1.0, 0.0]), np.array([3.0, 0.0]))  # the door closed
        for _ in range(6):
            aims[closer] = lc.aim(near_pose, near, angles, 8.0, target)
    np.testing.assert_allclose(aims[0.6], target)  # through the door, straight at the target
    assert abs(aims[0.0][1]) > 1.0, aims[0.0]  # round the wall


def test_a_wall_seen_from_near_is_not_cleared_by_beams_that_skim_it_from_afar() -> None:
    """Only a much nearer beam may clear: beams from afar that skim a wall at a grazing angle pass through the
    cells of its returns and end beyond them, and would otherwise wipe walls seen before."""
    wall = _segment((0.0, 0.6), (6.0, 0.6))
    lc = LocalCarrot(LocalPlanConfig(clear_closer=0.6), radius=0.25)
    near, angles = _scan_of(wall, (0.5, 0.0))
    lc.aim((0.5, 0.0, 0.0), near, angles, 8.0, (5.0, 0.0))
    before = lc.grid.hits.copy()
    skim, _ = _scan_of(wall, (-3.0, 0.45))  # 0.15 m below the wall's line: every beam toward it grazes it
    lc.aim((-3.0, 0.45, 0.0), skim, angles, 8.0, (5.0, 0.0))
    assert (lc.grid.hits & before).sum() == before.sum()


def test_a_face_skimmed_from_its_corner_is_not_cleared() -> None:
    """warehouse 1000001: a shelf's west face, seen head-on from the aisle (its returns 2 cm off the face on the
    free side: noise), was skimmed by the beams of the robot at the shelf's corner, which passed beside those
    returns and hit the face farther on; it vanished from the grid and the plan led through the shelf. Beams
    running along a line of returns do not clear them."""
    lc = LocalCarrot(LocalPlanConfig(clear_closer=0.6), radius=0.25)
    noisy_face = _segment((-0.02, 0.0), (-0.02, 3.0))
    far, angles = _scan_of(noisy_face, (-3.0, 1.5))
    lc.aim((-3.0, 1.5, 0.0), far, angles, 8.0, (-3.0, 4.0))
    before = lc.grid.hits.copy()
    near, _ = _scan_of(_segment((0.0, 0.0), (0.0, 3.0)), (-0.15, -0.5))  # at the corner, looking along the face
    lc.aim((-0.15, -0.5, 0.0), near, angles, 8.0, (-3.0, 4.0))
    assert (lc.grid.hits & before).sum() == before.sum()


def test_a_scan_is_added_once_at_the_pose_it_was_taken_from() -> None:
    """The controller steps at 20 Hz on 10 Hz scans. Adding a scan again at the newer pose of a turning robot
    smeared a 0.1 m wall into a 0.8 m band that closed a 1.2 m door (bench stack map:office)."""
    from toponav.control.config import HodatConfig
    from toponav.control.hodat import HodatController

    wall = _segment((2.0, -2.0), (2.0, 2.0))
    ranges, angles = _scan_of(wall, (0.0, 0.0))
    ctrl = HodatController(HodatConfig(mode="dwa"))
    ctrl.set_subgoal((4.0, 0.0))
    ctrl.step((0.0, 0.0, 0.0), (0.0, 1.5), ranges, angles, 0.0, 0.05, 0.1, 8.0, scan_new=True)
    before = ctrl.local.grid.hits.copy()
    assert before.any()
    ctrl.step((0.0, 0.0, 0.3), (0.0, 1.5), ranges, angles, 0.05, 0.05, 0.1, 8.0, scan_age=0.05, scan_new=False)
    np.testing.assert_array_equal(ctrl.local.grid.hits, before)  # the same scan: nothing added at the new yaw
    # a new scan 0.05 s old, the robot turning at 1.5 rad/s: its hits go where the robot was when it was taken
    ranges2, _ = _scan_of(wall, (0.0, 0.0))
    ctrl.step((0.0, 0.0, 0.075), (0.0, 1.5), ranges2, angles, 0.1, 0.05, 0.1, 8.0, scan_age=0.05, scan_new=True)
    pts = ctrl.local.grid.hit_points()
    assert np.abs(pts[:, 0] - 2.0).max() < 0.15, "the wall is smeared"

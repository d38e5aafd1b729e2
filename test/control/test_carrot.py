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

"""The optimistic goal distance (known walls count, unknown space does not) and how the planner uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toponav.planning import Place, PlaceGraph, PlannerConfig, SubgoalPlanner
from toponav.planning.goal_field import GoalField

RES = 0.1
BOX = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])  # the map's own extent as the boundary


def room_map(wall_x: float = 5.0, door: tuple[float, float] | None = (8.0, 9.2), size: float = 10.0) -> np.ndarray:
    """(H, W) ROS values over a size x size m map at origin (0, 0): all unknown but a wall along x = wall_x
    from y = 0 to y = size (0.2 m thick), with an open door between door[0] and door[1]."""
    n = round(size / RES)
    v = np.full((n, n), -1, dtype=np.int8)
    c0, c1 = round((wall_x - 0.1) / RES), round((wall_x + 0.1) / RES)
    v[:, c0:c1] = 100
    if door is not None:
        v[round(door[0] / RES):round(door[1] / RES), c0:c1] = 0
    return v


def test_unknown_space_counts_as_free_so_the_field_is_the_straight_line() -> None:
    f = GoalField()
    f.update(np.full((100, 100), -1, dtype=np.int8), (0.0, 0.0), RES, goal=(9.0, 5.0))
    d = f.distance(np.array([[1.0, 5.0], [1.0, 1.0]]))
    straight = np.hypot([8.0, 8.0], [0.0, 4.0])
    assert np.all(d >= straight - 1e-9)
    assert np.allclose(d, straight, rtol=0.11)  # 8-connected grid paths: up to 8 % long, plus the cell


def test_a_known_wall_makes_the_way_round_through_the_door() -> None:
    f = GoalField()
    f.update(room_map(), (0.0, 0.0), RES, goal=(9.0, 2.0), boundary=BOX)
    d_below, d_at_door = f.distance(np.array([[1.0, 2.0], [4.5, 8.6]]))
    # from (1, 2) straight is 8 m; round through the door at y 8-9.2: up ~6.7 m, across, down ~6.6 m
    assert d_below > 15.0
    assert d_at_door < d_below - 5.0  # the door is closer to the goal than the spot facing it across the wall


def test_without_a_door_points_behind_the_wall_are_cut_off_and_boundary_cells_are_blocked() -> None:
    f = GoalField()
    f.update(room_map(door=None), (0.0, 0.0), RES, goal=(9.0, 2.0), boundary=BOX)
    assert math.isinf(f.distance(np.array([[1.0, 2.0]]))[0])  # the wall spans the boundary: no way round
    f.update(room_map(door=None), (0.0, 0.0), RES, goal=(9.0, 2.0))  # no boundary: round the wall's end
    assert math.isfinite(f.distance(np.array([[1.0, 2.0]]))[0])


def test_a_dotted_wall_seen_from_afar_does_not_leak() -> None:
    """Lidar hits along a far wall are a few cm apart with unknown cells between: still a wall."""
    v = np.full((100, 100), -1, dtype=np.int8)
    v[::2, 50] = 100  # every other cell of column x = 5.0 m
    f = GoalField()
    f.update(v, (0.0, 0.0), RES, goal=(9.0, 5.0), boundary=BOX)
    assert math.isinf(f.distance(np.array([[1.0, 5.0]]))[0])


@pytest.mark.parametrize("inflate", [0.0, 0.2])
def test_a_diagonal_wall_does_not_leak_between_cells_touching_at_a_corner(inflate: float) -> None:
    """A wall from (0, 10) to (10, 0): its coarse cells touch only at corners, and an 8-connected step between
    two of them would cross it."""
    v = np.full((100, 100), -1, dtype=np.int8)
    i = np.arange(100)
    v[99 - i, i] = 100  # one map cell per row: the anti-diagonal
    f = GoalField(inflate=inflate)
    f.update(v, (0.0, 0.0), RES, goal=(9.0, 9.0), boundary=BOX)
    assert math.isinf(f.distance(np.array([[1.0, 1.0]]))[0])


def test_goal_inside_a_known_obstacle_gives_no_field() -> None:
    v = np.full((100, 100), 100, dtype=np.int8)
    f = GoalField()
    f.update(v, (0.0, 0.0), RES, goal=(5.0, 5.0))
    assert f.dist is None and np.isnan(f.distance(np.array([[1.0, 1.0]]))[0])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="cell > 0"):
        GoalField(cell=0.0)


def two_frontiers() -> PlaceGraph:
    """Robot's place r at (1, 2) west of the wall; frontier 'across' facing the goal through the wall at
    (4.6, 2), frontier 'door' at the door (4.6, 8.6). Both 3.6 / 7.5 m away by graph."""
    g = PlaceGraph()
    g.add_node(Place("r", 1.0, 2.0, visits=1))
    g.add_node(Place("across", 4.6, 2.0, frontier=True, frontier_size=1.0))
    g.add_node(Place("door", 4.6, 8.6, frontier=True, frontier_size=1.0))
    g.add_edge("r", "across")
    g.add_edge("r", "door")
    return g


def planner(goal_distance: str) -> SubgoalPlanner:
    cfg = PlannerConfig(goal_distance=goal_distance, goal_direct_radius=0.0)
    cfg.rnd.enabled = False
    p = SubgoalPlanner(cfg)
    p.set_graph(two_frontiers())
    p.set_pose(1.0, 2.0)
    p.set_goal(9.0, 2.0)
    p.set_boundary(BOX.ravel().tolist())
    p.set_map(room_map(), (0.0, 0.0), RES)
    return p


def test_the_planner_heads_for_the_door_not_for_the_wall_facing_the_goal() -> None:
    assert planner("straight").step(0.0).target == "across"  # the straight-line pull: toward the wall
    assert planner("optimistic").step(0.0).target == "door"


def test_the_straight_leg_is_not_tried_from_a_place_behind_a_known_wall() -> None:
    """A place 2 m from the goal through a wall is not 'close' to it: the way round is long."""
    g = PlaceGraph()
    g.add_node(Place("r", 1.0, 2.0, visits=1))
    g.add_node(Place("p", 4.5, 2.0, visits=1))
    g.add_node(Place("door", 4.6, 8.6, frontier=True, frontier_size=1.0))
    g.add_edge("r", "p")
    g.add_edge("r", "door")
    for mode, target in (("straight", "p"), ("optimistic", "door")):
        cfg = PlannerConfig(goal_distance=mode, goal_direct_radius=6.0)
        cfg.rnd.enabled = False
        p = SubgoalPlanner(cfg)
        p.set_graph(g)
        p.set_pose(1.0, 2.0)
        p.set_goal(7.0, 2.0)
        p.set_boundary(BOX.ravel().tolist())
        p.set_map(room_map(), (0.0, 0.0), RES)
        assert p.step(0.0).target == target, mode


def test_set_map_refuses_a_malformed_grid() -> None:
    p = planner("optimistic")
    with pytest.raises(ValueError, match="resolution"):
        p.set_map(np.zeros((3, 3), np.int8), (0.0, 0.0), 0.0)
    with pytest.raises(ValueError, match="2-D"):
        p.set_map(np.zeros(9, np.int8), (0.0, 0.0), 0.1)

"""The occupancy grid against known worlds: free/occupied cells, explored area, frontier nodes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toponav.mapping import FRONTIER, MapperConfig, OccupancyGrid, TopoMap
from toponav.mapping.config import GridConfig
from toponav.mapping.occupancy import scan_rays


def _classified_centres(grid: OccupancyGrid, mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return grid.cell_centres(cols, rows)


def test_grid_agrees_with_the_world(mapping_helpers):
    h = mapping_helpers
    world = h.room_world()
    tm, _ = h.drive(world, h.polyline(h.ROOM_TOUR))
    grid = tm.occupancy
    res = grid.resolution
    free_c = world.clearance(_classified_centres(grid, grid.free_mask()))
    occ_c = world.clearance(_classified_centres(grid, grid.occupied_mask()))
    # free cells lie in free space (a cell centre may sit half a diagonal inside a surface)
    assert free_c.min() > -res * 0.75
    # occupied cells hug obstacle surfaces
    assert np.abs(occ_c).max() < res * 1.5
    assert len(occ_c) > 300
    # explored area: nearly all of the room's free area (12 x 8 minus the obstacles), never more
    room_free = float((world.occupancy(res)[0] == 0).sum()) * res * res
    assert 0.85 * room_free < tm.explored_area() <= room_free * 1.05
    # the /map export follows the classification
    vals = grid.to_occupancy_values()
    assert set(np.unique(vals)) <= {-1, 0, 100}
    assert (vals == 0).sum() == grid.free_mask().sum()


def test_vectorised_integration_matches_a_per_beam_reference():
    """Cells touched by the array code == cells a plain per-beam loop marks (same sampling)."""
    cfg = GridConfig(initial_size=20.0, free_space="rays")
    rng = np.random.default_rng(0)
    angles = np.linspace(-math.pi, math.pi, 90, endpoint=False)
    ranges = rng.uniform(0.5, 7.0, angles.size)
    ranges[::7] = np.inf  # no return: free up to max_free_range
    pose = (0.3, -0.2, 0.4)
    grid = OccupancyGrid(cfg)
    rays = scan_rays(ranges, angles, 0.05, 8.0, cfg.max_free_range)
    grid.integrate(pose, rays)
    ref = np.zeros_like(grid.logodds)
    hits = []
    for a, length, hit in zip(rays.angles, rays.lengths, rays.hit):
        cells_free, cell_hit = set(), None
        for s in np.arange(0.0, rays.lengths.max(), grid.resolution):
            if s < length - 0.5 * grid.resolution:
                p = (pose[0] + math.cos(a + pose[2]) * s, pose[1] + math.sin(a + pose[2]) * s)
                c, r = grid.world_to_cell(np.array([p]))
                cells_free.add((int(r[0]), int(c[0])))
        if hit:
            p = (pose[0] + math.cos(a + pose[2]) * length, pose[1] + math.sin(a + pose[2]) * length)
            c, r = grid.world_to_cell(np.array([p]))
            cell_hit = (int(r[0]), int(c[0]))
        for rc in cells_free:
            ref[rc] = -1 if ref[rc] <= 0 else ref[rc]
        if cell_hit:
            hits.append(cell_hit)
    for rc in hits:  # a cell some beam ended in is a hit for this scan, even if another beam crossed it
        ref[rc] = 1
    np.testing.assert_array_equal(grid.logodds > 0, ref > 0)
    np.testing.assert_array_equal(grid.logodds < 0, ref < 0)


def test_grid_grows_keeps_content_and_respects_max_size():
    cfg = GridConfig(initial_size=4.0, grow_margin=2.0, max_size=30.0)
    grid = OccupancyGrid(cfg)
    angles = np.array([0.0])
    grid.integrate((0.0, 0.0, 0.0), scan_rays(np.array([1.0]), angles, 0.0, 8.0, 8.0))
    hit_before = grid.value_at(np.array([[1.0, 0.0]]))[0]
    assert hit_before > 0
    grid.integrate((0.0, 0.0, math.pi / 2), scan_rays(np.array([7.0]), angles, 0.0, 8.0, 8.0))
    assert grid.value_at(np.array([[1.0, 0.0]]))[0] == hit_before
    assert grid.value_at(np.array([[0.0, 7.0]]))[0] > 0
    for k in range(20):  # walk far away: the grid stops at max_size, scans beyond are clipped
        grid.integrate((5.0 * k, 0.0, 0.0), scan_rays(np.array([5.0]), angles, 0.0, 8.0, 8.0))
    h, w = grid.shape
    assert w * grid.resolution <= cfg.max_size + grid.resolution and h * grid.resolution <= cfg.max_size + 1e-6


def test_frontiers_follow_the_unknown_and_vanish_when_explored(mapping_helpers):
    h = mapping_helpers
    world = h.corridor_world()
    tm, _ = h.drive(world, h.polyline([(1.0, 1.5), (5.0, 1.5)]))
    fronts = tm.frontier_nodes()
    assert fronts, "the unseen end of a 40 m corridor must be a frontier"
    xs = [tm.graph.nodes[f]["x"] for f in fronts]
    far = max(fronts, key=lambda f: tm.graph.nodes[f]["x"])
    assert 11.0 < max(xs) < 14.0  # 8 m lidar from x<=5
    for f in fronts:
        d = tm.graph.nodes[f]
        assert d["kind"] == FRONTIER and d["frontier"] and d["visits"] == 0
        assert world.clearance(np.array([[d["x"], d["y"]]]))[0] > 0, "frontier nodes stand in free space"
        assert tm.graph.degree(f) >= 1, "frontier nodes are reachable from a place"
        path, cost = tm.shortest_path(tm.current_node, f)
        assert path and math.isfinite(cost)
    # driving on moves the frontier; a frontier that moved less than frontier_match_distance keeps its id
    tm, _ = h.drive(world, h.polyline([(5.0, 1.5), (5.4, 1.5)]), tm=tm, t0=100.0)
    assert far in tm.frontier_nodes() and tm.graph.nodes[far]["x"] > 12.0
    # at the closed end nothing is unknown any more (within the corridor)
    tm, _ = h.drive(world, h.polyline([(5.4, 1.5), (38.5, 1.5)]), tm=tm, t0=200.0)
    tm.refresh_frontiers()
    assert tm.frontier_nodes() == []


def test_closed_room_explored_from_inside_has_no_frontiers(mapping_helpers):
    h = mapping_helpers
    cfg = MapperConfig()
    tm, _ = h.drive(h.room_world(), h.polyline(h.ROOM_TOUR),
                    cfg=cfg)
    tm.refresh_frontiers()
    assert tm.frontier_nodes() == []


@pytest.mark.parametrize("clearance", [0.0, 0.3])
def test_line_of_sight_is_blocked_by_obstacles_and_unknown(mapping_helpers, clearance):
    h = mapping_helpers
    world = h.room_world()
    tm, _ = h.drive(world, h.polyline([(1.0, 1.0), (3.0, 1.0), (3.0, 6.5)]))
    grid = tm.occupancy
    assert grid.line_of_sight((1.0, 1.0), (3.0, 6.0), clearance)
    assert not grid.line_of_sight((2.5, 4.0), (5.5, 4.0), clearance)  # through the pillar at (4, 4)
    assert not grid.line_of_sight((3.0, 1.0), (30.0, 1.0), clearance)  # leaves the grid
    assert not TopoMap().occupancy.line_of_sight((0, 0), (1, 1))  # empty grid: nothing known


def test_frontiers_on_the_known_box_equal_the_whole_grid(mapping_helpers):
    from toponav.mapping.occupancy import OccupancyGrid as Grid

    h = mapping_helpers
    tm, _ = h.drive(h.corridor_world(), h.polyline([(1.0, 1.5), (9.0, 1.5), (9.0, 2.0)]))
    grid = tm.occupancy
    r0, r1, c0, c1 = grid.known_box()
    assert (r1 - r0) * (c1 - c0) < grid.logodds.size  # the box is smaller than the grid
    assert not grid.logodds[:r0].any() and not grid.logodds[r1:].any()
    assert not grid.logodds[:, :c0].any() and not grid.logodds[:, c1:].any()
    whole = grid._frontier_in(grid.logodds)
    np.testing.assert_array_equal(grid.frontier_mask(), whole)
    back = Grid.from_dict(grid.to_dict(), grid.cfg)
    np.testing.assert_array_equal(back.frontier_mask(), whole)
    pts, _ = grid.frontier_clusters(10)
    assert len(pts) and grid.frontier_mask()[grid.world_to_cell(pts)[1], grid.world_to_cell(pts)[0]].all()

"""ROS map_server maps as worlds: Nav2's field meanings, clear errors, start/goal choice, big maps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from toponav.worlds import World, WorldError, is_reachable, make_world, packaged_maps
from toponav.worlds.floorplan import FREE, OCCUPIED, UNKNOWN, FloorPlan, large_building
from toponav.worlds.map_server import grid_to_boxes, load_map, map_world
from toponav.worlds.spatial import box_distance

RADIUS = 0.25
YAML = {"image": "map.pgm", "resolution": 0.1, "origin": "[0.0, 0.0, 0.0]", "negate": 0,
        "occupied_thresh": 0.65, "free_thresh": 0.196}


def _write(tmp: Path, pixels: np.ndarray, fmt: str = "P5", name: str = "map.pgm", **fields: object) -> Path:
    """A map_server map from an image array (row 0 = top, as in the file) plus YAML fields."""
    h, w = pixels.shape
    if fmt == "P5":
        (tmp / name).write_bytes(f"P5\n# test\n{w} {h}\n255\n".encode() + pixels.astype(np.uint8).tobytes())
    else:
        body = "\n".join(" ".join(str(int(v)) for v in row) for row in pixels)
        (tmp / name).write_text(f"P2\n{w} {h}\n255\n{body}\n")
    doc = {**YAML, "image": name, **fields}
    path = tmp / "map.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in doc.items() if v is not None))
    return path


def _room(h: int = 40, w: int = 60) -> np.ndarray:
    """A walled 6 x 4 m room at 0.1 m (free inside, 1-pixel walls), a 1 m block in the top-right part."""
    img = np.full((h, w), FREE, dtype=np.uint8)
    img[0, :] = img[-1, :] = img[:, 0] = img[:, -1] = OCCUPIED
    img[5:15, 40:50] = OCCUPIED  # rows 5..14 from the TOP = y 2.5..3.5 m
    return img


# ------------------------------------------------------------------------------------------ loading
def test_pgm_map_loads_with_map_server_geometry(tmp_path: Path) -> None:
    path = _write(tmp_path, _room(), origin="[-1.0, 2.0, 0.0]", start="[0.0, 3.0, 0.0]", goal="[4.0, 3.0]")
    grid = load_map(path)
    assert grid.shape == (40, 60)
    assert not grid.free[0].any() and grid.free[1, 1:-1].all()  # row 0 is the BOTTOM row of the image
    assert not grid.free[25:35, 40:50].any()  # image rows 5..14 from the top are rows 25..34 from the bottom
    world = make_world(str(path))
    assert world.family == "map" and world.name == tmp_path.name
    assert world.bounds == pytest.approx((-1.0, 2.0, 5.0, 6.0))
    # the block: x = -1 + 4.0..5.0, y = 2 + 2.5..3.5
    assert world.clearance(np.array([[3.5, 5.0]]))[0] < 0
    assert world.clearance(np.array([[2.9, 5.0]]))[0] == pytest.approx(0.1)
    assert world.clearance(np.array([[0.0, 4.0]]))[0] == pytest.approx(0.9)  # 1 m from the left wall pixel's edge
    assert world.start == (0.0, 3.0, 0.0) and world.goal == (4.0, 3.0)
    assert is_reachable(world, RADIUS)


def test_unknown_border_is_cropped_and_an_all_unknown_map_is_refused(tmp_path: Path) -> None:
    img = np.full((100, 120), UNKNOWN, dtype=np.uint8)
    img[40:80, 30:90] = _room()  # the room in a wide unknown border, as a SLAM map has it
    world = make_world(str(_write(tmp_path, img, origin="[-5.0, -5.0, 0.0]")))
    # room columns 30..89 and rows 20..59 from the bottom, at 0.1 m from (-5, -5); its walls are the rim
    assert world.bounds == pytest.approx((-2.0, -3.0, 4.0, 1.0))
    assert world.meta["crop_px"] == [30, 20, 60, 40]
    with pytest.raises(WorldError, match="'image' has no free cell"):
        make_world(str(_write(tmp_path, np.full((10, 10), UNKNOWN, dtype=np.uint8))))


def test_ascii_and_binary_pgm_give_the_same_world(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    wa = make_world(str(_write(a, _room(), "P5")))
    wb = make_world(str(_write(b, _room(), "P2")))
    assert wa.boxes == wb.boxes and wa.start == wb.start and wa.goal == wb.goal


def test_negate_inverts_the_shades(tmp_path: Path) -> None:
    plain = load_map(_write(tmp_path, _room()))
    negated = load_map(_write(tmp_path, 255 - _room(), negate=1))
    assert np.array_equal(plain.free, negated.free)


def test_thresholds_decide_free_occupied_and_unknown(tmp_path: Path) -> None:
    img = _room()
    img[20:25, 10:20] = 128  # p = 127/255 = 0.498
    def free_at_grey(**fields: object) -> bool:
        return bool(load_map(_write(tmp_path, img, **fields)).free[17, 15])

    assert not free_at_grey()  # 0.196 < 0.498 < 0.65: unknown -> obstacle
    assert free_at_grey(free_thresh=0.6, occupied_thresh=0.9)  # below free_thresh: free
    grid = load_map(_write(tmp_path, img, occupied_thresh=0.4))
    assert grid.values[17, 15] == 100 and not grid.free[17, 15]  # above occupied_thresh: occupied
    grid = load_map(_write(tmp_path, img))
    assert grid.values[17, 15] == -1  # unknown, as Nav2 publishes it
    # map_saver's unknown grey (205) with ROS's free_thresh 0.196 is unknown, and unknown is an obstacle
    img[20:25, 10:20] = UNKNOWN
    assert not free_at_grey()


def test_scale_and_raw_modes(tmp_path: Path) -> None:
    img = _room()
    img[20:25, 10:20] = 128
    scale = load_map(_write(tmp_path, img, mode="scale"))
    assert scale.values[17, 15] == round((127 / 255 - 0.196) / (0.65 - 0.196) * 100)
    assert not scale.free[17, 15]
    raw_img = np.full((10, 10), 0, dtype=np.uint8)
    raw_img[0, 0], raw_img[0, 1], raw_img[0, 2], raw_img[0, 3] = 100, 10, 255, 50
    raw = load_map(_write(tmp_path, raw_img, mode="raw", negate=1, free_thresh=0.2, occupied_thresh=0.65))
    top = raw.values[-1]  # image row 0 is the top = last row from the bottom
    assert list(top[:4]) == [100, 10, -1, 50]
    assert list(raw.free[-1, :4]) == [False, True, False, False]  # value/100 < free_thresh is free
    assert raw.free[0, 0]


def test_png_with_alpha_in_scale_mode(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., :3] = 254
    rgba[..., 3] = 255
    rgba[5:10, 5:10, 3] = 0  # transparent: unknown in scale mode
    image.fromarray(rgba, "RGBA").save(tmp_path / "map.png")
    grid = load_map(_write(tmp_path, _room(), name="unused.pgm", image="map.png", mode="scale"))
    assert grid.values[12, 7] == -1 and not grid.free[12, 7]
    assert grid.free[2, 20]


def test_origin_yaw_rotates_the_map_and_keeps_the_outside_blocked(tmp_path: Path) -> None:
    path = _write(tmp_path, _room(), origin=f"[0.0, 0.0, {math.pi / 2}]", start="[-1.0, 1.0, 0.0]",
                  goal="[-3.0, 1.0]")
    world = make_world(str(path))
    # rotated +90 deg: the 6 m side now runs along +y, the 4 m side along -x
    assert world.bounds == pytest.approx((-4.0, 0.0, 0.0, 6.0), abs=1e-9)
    assert world.clearance(np.array([[-1.0, 1.0]]))[0] > 0.5
    assert is_reachable(world, RADIUS)


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("fields", "field"), [
    ({"image": "missing.pgm"}, "image"),
    ({"resolution": "fine"}, "resolution"),
    ({"resolution": -0.05}, "resolution"),
    ({"occupied_thresh": 1.5}, "occupied_thresh"),
    ({"free_thresh": -0.1}, "free_thresh"),
    ({"free_thresh": 0.7}, "free_thresh"),
    ({"origin": "[0.0, 0.0]"}, "origin"),
    ({"mode": "fancy"}, "mode"),
    ({"negate": 2}, "negate"),
    ({"start": "[1.0, 1.0]", "goal": "[4.5, 2.3]"}, "goal"),  # goal inside the block
    ({"start": "[30.0, 1.0]", "goal": "[1.0, 1.0]"}, "start"),  # start off the map
])
def test_bad_map_files_name_the_field(tmp_path: Path, fields: dict[str, object], field: str) -> None:
    path = _write(tmp_path, _room(), **fields)
    with pytest.raises(WorldError, match=f"'{field}'"):
        make_world(str(path))


def test_absolute_image_path_of_another_machine_falls_back_to_the_yaml_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, _room(), image="/home/someone/.ros/map.pgm", start="[1.0, 1.0, 0.0]", goal="[4.0, 1.0]")
    assert load_map(path).meta.image == tmp_path / "map.pgm"
    path = _write(tmp_path, _room(), image="/home/someone/.ros/other.pgm")
    with pytest.raises(WorldError, match=r"'image'.*does not exist"):
        make_world(str(path))


def test_missing_keys_and_corrupt_images(tmp_path: Path) -> None:
    path = _write(tmp_path, _room(), resolution=None, negate=None)
    with pytest.raises(WorldError, match=r"missing field\(s\) \['resolution', 'negate'\]"):
        make_world(str(path))
    path = _write(tmp_path, _room())
    (tmp_path / "map.pgm").write_bytes(b"P5\n60 40\n255\n" + bytes(100))  # truncated raster
    with pytest.raises(WorldError, match=r"'image'.*truncated"):
        make_world(str(path))
    (tmp_path / "map.pgm").write_bytes(b"GIF89a not a map")
    with pytest.raises(WorldError, match="'image'"):
        make_world(str(path))
    (tmp_path / "map.yaml").write_text("image: [unclosed\n")
    with pytest.raises(WorldError, match="not valid YAML"):
        make_world(str(path))
    with pytest.raises(WorldError, match="unknown option"):
        make_world(str(_write(tmp_path, _room())) + "?speed=3")


def test_unreachable_given_goal_is_refused(tmp_path: Path) -> None:
    img = _room()
    img[:, 30] = OCCUPIED  # a wall across the room
    path = _write(tmp_path, img, start="[1.0, 2.0, 0.0]", goal="[5.0, 2.0]")
    with pytest.raises(WorldError, match="cannot be reached"):
        make_world(str(path))


# ----------------------------------------------------------------------------------- start and goal
def test_automatic_start_goal_is_reachable_far_apart_and_deterministic(tmp_path: Path) -> None:
    fp = FloorPlan(12.0, 8.0, 0.05)
    fp.floor(0.5, 0.5, 11.5, 7.5)
    fp.wall(0.5, 0.5, 11.5, 0.5).wall(0.5, 7.5, 11.5, 7.5).wall(0.5, 0.5, 0.5, 7.5).wall(11.5, 0.5, 11.5, 7.5)
    fp.wall(6.0, 0.5, 6.0, 7.5).door(6.0, 6.5, 1.2, vertical_wall=True)  # two rooms, one 1.2 m door
    path = fp.save(tmp_path)
    a, b = make_world(str(path)), make_world(str(path))
    assert (a.start, a.goal) == (b.start, b.goal)
    assert a.meta["start_goal"] == "auto"
    assert is_reachable(a, RADIUS)
    assert min(a.clearance(np.array([a.start[:2], a.goal]))) >= RADIUS + 0.1
    assert (a.start[0] - 6.0) * (a.goal[0] - 6.0) < 0  # the two ends are in different rooms
    assert math.dist(a.start[:2], a.goal) > 7.0
    # the query string overrides, and is checked
    c = make_world(f"{path}?start=2,2,1.57&goal=9,2")
    assert c.start == (2.0, 2.0, 1.57) and c.goal == (9.0, 2.0)


# ------------------------------------------------------------------------------ big maps and boxes
def test_grid_to_boxes_covers_exactly_the_occupied_cells() -> None:
    rng = np.random.default_rng(3)
    occ = rng.random((70, 90)) < 0.3
    occ[10:40, 20:25] = True
    rects = grid_to_boxes(occ)
    painted = np.zeros(occ.shape, dtype=int)
    for r0, c0, r1, c1 in rects:
        painted[r0:r1, c0:c1] += 1
    assert np.array_equal(painted, occ.astype(int))  # every occupied cell exactly once, nothing else


@pytest.fixture(scope="module")
def big_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The generated 60 x 60 m building at 0.05 m (1200 x 1200 pixels), loaded once for this module."""
    return map_world(str(large_building().save(tmp_path_factory.mktemp("big"))), RADIUS)


def test_big_building_builds_fast_data_and_exact_clearance(big_world: World) -> None:
    world = big_world
    assert world.meta["size_px"] == [1200, 1200]
    assert world.bounds == pytest.approx((0.5, 0.5, 59.45, 59.45))  # cropped to the floor + one cell
    assert 1000 < len(world.boxes) < 5000  # merged rectangles, not 1.4 M cells
    assert is_reachable(world, RADIUS)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.0, 60.0, size=(400, 2))
    xmin, ymin, xmax, ymax = world.bounds
    walls = np.minimum.reduce([pts[:, 0] - xmin, xmax - pts[:, 0], pts[:, 1] - ymin, ymax - pts[:, 1]])
    brute = np.minimum(walls, box_distance(pts, world.box_array()).min(axis=1))
    assert np.array_equal(world.clearance(pts), brute)  # the index changes the cost, not the result


def test_big_building_builds_in_pybullet(big_world: World) -> None:
    from toponav.sim.pybullet_agv import AgvSim, obstacle_mesh

    world = big_world
    _vertices, triangles = obstacle_mesh(world)
    assert len(triangles) == 10 * len(world.boxes) + 4 * 10  # each box and bounds wall a 4-sided prism
    sim = AgvSim(world)
    try:
        ranges = sim.scan()
        assert np.isfinite(ranges).any()  # in a room: walls around
        sim.step((0.2, 0.0))
        assert not sim.collided
    finally:
        sim.close()


@pytest.mark.parametrize("name", ["office", "depot", "campus_wing"])
def test_packaged_maps_load_and_are_reachable(name: str) -> None:
    assert name in packaged_maps()
    world = make_world(f"map:{name}")
    assert world.family == "map" and world.name == name
    assert is_reachable(world, RADIUS)
    assert math.dist(world.start[:2], world.goal) > 15.0
    assert World.from_dict(world.to_dict()) == world  # a map world saves as an ordinary world file


def test_unknown_packaged_map_lists_the_available_ones() -> None:
    with pytest.raises(WorldError, match="office"):
        make_world("map:nope")


def test_world_show_renders_a_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from toponav.sim import world_show

    path = _write(tmp_path, _room(), start="[1.0, 1.0, 0.0]", goal="[4.0, 1.0]")
    out = tmp_path / "map.png"
    args = argparse.Namespace(world=str(path), seed=0, out=str(out), radius=RADIUS)
    assert world_show.run(args) == 0
    assert out.stat().st_size > 1000
    assert "reachable for radius 0.25: True" in capsys.readouterr().out


def test_map_worlds_are_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = _write(tmp_path, _room(), start="[1.0, 1.0, 0.0]", goal="[4.0, 1.0]")
    a = make_world(str(path))
    assert make_world(str(path)) is a
    img = _room()
    img[30:35, 20:25] = OCCUPIED
    import os
    import time

    _write(tmp_path, img, start="[1.0, 1.0, 0.0]", goal="[4.0, 1.0]")
    future = time.time() + 5  # a new mtime even on coarse file-system clocks
    os.utime(tmp_path / "map.pgm", (future, future))
    b = make_world(str(path))
    assert b is not a and len(b.boxes) > len(a.boxes)

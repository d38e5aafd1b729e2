"""World families, BARN data, seed splits and bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toponav.worlds import (
    FAMILIES,
    World,
    WorldError,
    barn_heldout_indices,
    barn_train_indices,
    heldout_seeds,
    is_reachable,
    make_world,
    num_barn_worlds,
    train_seeds,
)
from toponav.worlds.barn import DATA_FILE, barn_world
from toponav.worlds.families import GENERATORS, generate
from toponav.worlds.reachability import carve_corridor

RADIUS = 0.25


@pytest.mark.parametrize("family", ["warehouse", "maze", "forest"])
def test_reachability_guarantee_over_many_seeds(family: str) -> None:
    seeds = train_seeds(20) + heldout_seeds(8)
    for seed in seeds:
        world = make_world(family, seed)
        assert world.family == family
        assert is_reachable(world, RADIUS), f"{family} seed {seed} not reachable"
        assert world.clearance(np.array([world.start[:2], world.goal]))[:].min() > RADIUS


def test_families_have_obstacles_and_differ_by_seed() -> None:
    for family in ("warehouse", "maze", "forest"):
        a, b = make_world(family, 1), make_world(family, 2)
        assert len(a.circles) + len(a.boxes) > 5
        assert (a.circles, a.boxes) != (b.circles, b.boxes)
    forest = make_world("forest", 3)
    h = forest.terrain.as_array()
    assert h.max() - h.min() > 0.1  # hills/slopes, not flat
    slope = np.abs(np.diff(h, axis=1)).max() / forest.terrain.resolution
    assert slope < 0.6  # drivable: < ~31 degrees between neighbouring cells


def test_generation_is_deterministic() -> None:
    for family in FAMILIES:
        assert make_world(family, 5) == make_world(family, 5)


def test_carve_makes_a_blocked_world_reachable() -> None:
    blocked = World(name="wall", family="test", seed=0, bounds=(0, 0, 10, 10), start=(1, 5, 0), goal=(9, 5),
                    boxes=((5.0, 5.0, 0.2, 5.0, 0.0),), circles=((3.0, 5.0, 0.3), (7.0, 1.0, 0.3)))
    assert not is_reachable(blocked, RADIUS)
    carved = carve_corridor(blocked, RADIUS)
    assert is_reachable(carved, RADIUS)
    assert carved.circles == ((7.0, 1.0, 0.3),)  # untouched away from the corridor
    assert carved.meta["carved"] == 2


def test_generate_falls_back_to_carving(monkeypatch: pytest.MonkeyPatch) -> None:
    def walled(seed: int, attempt: int = 0) -> World:
        return World(name="w", family="empty", seed=seed, bounds=(0, 0, 10, 10), start=(1, 5, 0), goal=(9, 5),
                     boxes=((5.0, 5.0, 0.2, 5.0, 0.0),))

    monkeypatch.setitem(GENERATORS, "empty", walled)
    assert is_reachable(generate("empty", 0, RADIUS), RADIUS)


def test_barn_loading_matches_data_file() -> None:
    data = json.loads(DATA_FILE.read_text())
    assert num_barn_worlds() == len(data["worlds"]) == 300
    for index in (0, 1, 150, 299):
        world = make_world(f"barn:{index}")
        entry = data["worlds"][index]
        assert len(world.circles) == len(entry["cylinders"])
        assert world.circle_array()[:, :2].tolist() == entry["cylinders"]
        assert np.allclose(world.circle_array()[:, 2], 0.075)
        assert world.start == (-2.0, 3.0, 1.57)
        assert world.goal == (-2.0, 13.0)
        assert [list(p) for p in world.reference_path] == entry["reference_path"]
    assert make_world("barn", 7) == barn_world(7)
    assert is_reachable(make_world("barn:0"), 0.2)


def test_seed_splits_are_disjoint() -> None:
    assert not set(train_seeds(1000)) & set(heldout_seeds(1000))
    held, train = barn_heldout_indices(), barn_train_indices()
    assert len(held) == 50 and len(train) == 250 and not set(held) & set(train)


def test_world_json_round_trip(tmp_path) -> None:
    world = make_world("forest", 2)
    path = tmp_path / "forest.json"
    world.save(path)
    assert make_world(str(path)) == world


def test_unknown_world_lists_valid_names() -> None:
    with pytest.raises(WorldError) as err:
        make_world("jungle", 0)
    for name in ("warehouse", "maze", "forest", "empty", "barn:<index 0..299>", ".json"):
        assert name in str(err.value)
    with pytest.raises(WorldError, match="not an integer"):
        make_world("barn:abc")
    with pytest.raises(WorldError, match="empty world spec"):
        make_world("  ")


def test_barn_index_out_of_range() -> None:
    for bad in ("barn:300", "barn:-1"):
        with pytest.raises(WorldError, match=r"valid indices are 0\.\.299"):
            make_world(bad)


def test_malformed_world_files(tmp_path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(WorldError, match="not valid JSON"):
        make_world(str(bad_json))
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"name": "x", "family": "f"}))
    with pytest.raises(WorldError, match="missing fields"):
        make_world(str(missing))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"name": "x", "family": "f", "seed": 0, "bounds": [0, 0, 1, 1], "start": [0, 0],
                                 "goal": [1, 1]}))
    with pytest.raises(WorldError, match="start must be 3"):
        make_world(str(wrong))
    with pytest.raises(WorldError, match="cannot read"):
        make_world(str(tmp_path / "nope.json"))
    bad_barn = tmp_path / "barn.json"
    bad_barn.write_text(json.dumps({"worlds": "x"}))
    with pytest.raises(WorldError, match="no 'worlds' list"):
        barn_world(0, path=bad_barn)

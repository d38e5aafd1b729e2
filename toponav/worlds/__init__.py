"""World data (obstacles, terrain, start, goal), procedural families, BARN and ROS map_server maps. No ROS.

``make_world(spec, seed)`` is the one entry point every backend and tool uses::

    make_world("warehouse", 7)      # procedural family + seed (start-goal reachable for the robot radius)
    make_world("barn:12")           # BARN world 12 (also "barn" with seed=12)
    make_world("path/to/world.json")
    make_world("path/to/map.yaml")  # ROS map_server map (+ "?start=x,y,yaw&goal=x,y"), see map_server.py
    make_world("map:office")        # a map shipped in toponav/worlds/data/maps

Seed splits: training uses :func:`train_seeds`, evaluation :func:`heldout_seeds` (disjoint ranges);
BARN has a fixed held-out set of 50 worlds (every sixth index) and 250 training worlds.
"""

from __future__ import annotations

import os

from toponav.worlds.barn import barn_metadata, barn_world, num_barn_worlds
from toponav.worlds.families import GENERATORS, generate
from toponav.worlds.map_server import map_world, packaged_map_path, packaged_maps
from toponav.worlds.model import Terrain, World, WorldError
from toponav.worlds.reachability import is_reachable

#: Procedural families (plus "barn", which is data).
FAMILIES: tuple[str, ...] = ("warehouse", "maze", "forest", "empty")
#: Everything ``make_world`` accepts as a name.
SPEC_HELP = ("one of warehouse, maze, forest, empty, barn:<index 0..299>, map:<packaged map name>, a path to "
             "a world .json file, or a path to a ROS map_server map.yaml (optionally ?start=x,y,yaw&goal=x,y)")
#: Held-out seeds start here; training seeds are below it.
HELDOUT_OFFSET = 1_000_000
DEFAULT_ROBOT_RADIUS = 0.25  # AgvParams().radius; reachability is guaranteed for this radius by default


def train_seeds(n: int, start: int = 0) -> list[int]:
    """``n`` training seeds (disjoint from :func:`heldout_seeds`)."""
    if start + n > HELDOUT_OFFSET:
        raise ValueError(f"at most {HELDOUT_OFFSET} training seeds")
    return list(range(start, start + n))


def heldout_seeds(n: int, start: int = 0) -> list[int]:
    """``n`` evaluation seeds, never used for training."""
    return list(range(HELDOUT_OFFSET + start, HELDOUT_OFFSET + start + n))


def is_heldout_seed(seed: int) -> bool:
    return seed >= HELDOUT_OFFSET


def barn_heldout_indices() -> list[int]:
    """50 BARN worlds kept for evaluation (every sixth index: all difficulty levels represented)."""
    return list(range(0, num_barn_worlds(), 6))


def barn_train_indices() -> list[int]:
    held = set(barn_heldout_indices())
    return [i for i in range(num_barn_worlds()) if i not in held]


def _looks_like_path(spec: str) -> bool:
    path = spec.partition("?")[0]
    return path.endswith((".json", ".yaml", ".yml")) or os.sep in path or os.path.exists(path)


def _is_map_yaml(spec: str) -> bool:
    return spec.partition("?")[0].lower().endswith((".yaml", ".yml"))


def make_world(spec: str, seed: int = 0, robot_radius: float = DEFAULT_ROBOT_RADIUS) -> World:
    """Build a world from a spec (family name, ``barn:<i>``, or JSON path) and a seed.

    Procedural families and maps guarantee that a disc of ``robot_radius`` can reach the goal from the
    start (a map's start and goal are chosen on it for that radius unless given). The seed is ignored
    for files and maps.
    ``family:<n>`` is accepted as shorthand for ``family`` with seed ``n``. Raises :class:`WorldError`
    with the list of valid names on unknown input.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise WorldError(f"empty world spec: use {SPEC_HELP}")
    spec = spec.strip()
    name, sep, arg = spec.partition(":")
    name = name.lower()
    if name == "map" and sep:
        mapname, q, query = arg.partition("?")
        return map_world(str(packaged_map_path(mapname.strip())) + q + query, robot_radius)
    if name in GENERATORS or name == "barn":
        if sep:
            try:
                seed = int(arg)
            except ValueError:
                raise WorldError(f"world spec {spec!r}: '{arg}' is not an integer ({SPEC_HELP})") from None
        if name == "barn":
            return barn_world(int(seed))
        return generate(name, int(seed), robot_radius)
    if _looks_like_path(spec):
        return map_world(spec, robot_radius) if _is_map_yaml(spec) else World.load(spec)
    raise WorldError(f"unknown world {spec!r}: use {SPEC_HELP}")


__all__ = [
    "FAMILIES", "HELDOUT_OFFSET", "SPEC_HELP", "Terrain", "World", "WorldError", "barn_heldout_indices",
    "barn_metadata", "barn_train_indices", "barn_world", "heldout_seeds", "is_heldout_seed", "is_reachable",
    "make_world", "map_world", "num_barn_worlds", "packaged_maps", "train_seeds",
]

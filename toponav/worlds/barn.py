"""The 300 static BARN worlds (Perille, Truong, Xiao, Stone 2020; MIT licence, see data/BARN_LICENSE).

Each world: cylinders (radius 0.075 m, height 1 m) on a 0.15 m grid, start (-2, 3, yaw 1.57),
goal = start + (0, 10), and the benchmark's reference path (kept in :attr:`World.reference_path`;
the BARN score uses its length). The data is never altered here: whether a robot of a given radius
fits through is a property of the world, checked with :func:`toponav.worlds.is_reachable`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from toponav.worlds.model import World, WorldError

DATA_FILE = Path(__file__).resolve().parent / "data" / "barn_worlds.json"
#: Free area around the BARN field (the enclosure is x in [-4.5, 0], y in [0, 9.6]; the goal is at y = 13).
BARN_BOUNDS = (-7.0, -1.0, 3.0, 16.0)


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise WorldError(f"cannot read BARN data file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise WorldError(f"BARN data file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("worlds"), list):
        raise WorldError(f"BARN data file {path} has no 'worlds' list")
    for key in ("cylinder_radius", "start_pose", "goal_offset_from_start"):
        if key not in data:
            raise WorldError(f"BARN data file {path} lacks '{key}'")
    return data


def num_barn_worlds(path: str | Path = DATA_FILE) -> int:
    return len(_load(str(path))["worlds"])


def barn_metadata(path: str | Path = DATA_FILE) -> dict[str, Any]:
    """Everything in the data file except the worlds (metric text, reference results, licence)."""
    return {k: v for k, v in _load(str(path)).items() if k != "worlds"}


def barn_world(index: int, path: str | Path = DATA_FILE) -> World:
    """BARN world ``index`` (0-based, as in the data file)."""
    data = _load(str(path))
    worlds = data["worlds"]
    if not isinstance(index, int) or not 0 <= index < len(worlds):
        raise WorldError(f"BARN index {index!r} out of range: valid indices are 0..{len(worlds) - 1}")
    entry = worlds[index]
    try:
        r = float(data["cylinder_radius"])
        sx, sy, syaw = (float(v) for v in data["start_pose"])
        gx, gy = (float(v) for v in data["goal_offset_from_start"])
        circles = tuple((float(x), float(y), r) for x, y in entry["cylinders"])
        ref = tuple((float(x), float(y)) for x, y in entry.get("reference_path", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise WorldError(f"BARN data file {path}: world {index} is malformed ({exc})") from None
    return World(
        name=f"barn-{index}", family="barn", seed=int(entry.get("index", index)), bounds=BARN_BOUNDS,
        start=(sx, sy, syaw), goal=(sx + gx, sy + gy), circles=circles,
        obstacle_height=float(data.get("cylinder_height", 1.0)), reference_path=ref,
        meta={"barn_index": index},
    )

"""A world is data: static 2-D obstacles (+ optional terrain), start and goal, in metres (REP 103).

Every backend (PyBullet sim, numpy training twin, mapper tests, evaluation plots) loads the same
:class:`World`, so geometry never drifts between them. Obstacles are extruded prisms:
circles (trees, BARN cylinders, pillars) and oriented boxes (walls, shelves).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from toponav.worlds.spatial import MIN_OBSTACLES, ClearanceIndex, box_distance, circle_distance

SCHEMA_VERSION = 1


def read_document(path: str | Path, what: str, parse: Callable[[str], Any], error: type[Exception],
                  language: str) -> Any:
    """Read and parse a text file; a missing/unreadable file or a syntax error is a WorldError naming it."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise WorldError(f"cannot read {what} {path}: {exc}") from None
    try:
        return parse(text)
    except error as exc:
        raise WorldError(f"{what} {path} is not valid {language}: {exc}") from None


class WorldError(ValueError):
    """A world file or world specification is malformed or unknown."""


@dataclass(frozen=True)
class Terrain:
    """Heightfield over the world bounds: ``heights[row, col]`` in metres, row = y, col = x."""

    heights: tuple[tuple[float, ...], ...]
    resolution: float  # metres per cell
    origin: tuple[float, float]  # world (x, y) of cell (0, 0) centre

    def as_array(self) -> np.ndarray:
        """The heights as a read-only array, converted once: the sim samples the ground under the robot on
        every scan, and converting the nested tuples each time cost more than the bilinear lookup."""
        return self._array

    @cached_property
    def _array(self) -> np.ndarray:
        h = np.asarray(self.heights, dtype=np.float64)
        h.setflags(write=False)
        return h

    def height_at(self, points: np.ndarray) -> np.ndarray:
        """Bilinear terrain height (m) at (x, y) points; clamped to the grid edge outside it."""
        h = self.as_array()
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        fx = np.clip((p[:, 0] - self.origin[0]) / self.resolution, 0, h.shape[1] - 1)
        fy = np.clip((p[:, 1] - self.origin[1]) / self.resolution, 0, h.shape[0] - 1)
        x0 = np.minimum(np.floor(fx).astype(int), h.shape[1] - 2).clip(0)
        y0 = np.minimum(np.floor(fy).astype(int), h.shape[0] - 2).clip(0)
        x1, y1 = np.minimum(x0 + 1, h.shape[1] - 1), np.minimum(y0 + 1, h.shape[0] - 1)
        tx, ty = fx - x0, fy - y0
        top = h[y0, x0] * (1 - tx) + h[y0, x1] * tx
        bottom = h[y1, x0] * (1 - tx) + h[y1, x1] * tx
        return top * (1 - ty) + bottom * ty


@dataclass(frozen=True)
class World:
    """Static world description.

    circles: (N, 3) rows of (cx, cy, radius).
    boxes:   (M, 5) rows of (cx, cy, half_x, half_y, yaw).
    bounds:  (xmin, ymin, xmax, ymax) of the free area; the outside counts as occupied.
    start:   (x, y, yaw); goal: (x, y).
    """

    name: str
    family: str
    seed: int
    bounds: tuple[float, float, float, float]
    start: tuple[float, float, float]
    goal: tuple[float, float]
    circles: tuple[tuple[float, float, float], ...] = ()
    boxes: tuple[tuple[float, float, float, float, float], ...] = ()
    obstacle_height: float = 1.0
    terrain: Terrain | None = None
    reference_path: tuple[tuple[float, float], ...] = ()  # e.g. BARN's reference path
    meta: dict[str, Any] = field(default_factory=dict)

    # -- arrays -------------------------------------------------------------------------------------
    def circle_array(self) -> np.ndarray:
        return np.asarray(self.circles, dtype=np.float64).reshape(-1, 3)

    def box_array(self) -> np.ndarray:
        return np.asarray(self.boxes, dtype=np.float64).reshape(-1, 5)

    def box_corners(self) -> np.ndarray:
        """(M, 4, 2) corners of each box, counter-clockwise."""
        b = self.box_array()
        signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
        local = signs[None] * b[:, None, 2:4]
        c, s = np.cos(b[:, 4])[:, None], np.sin(b[:, 4])[:, None]
        x = b[:, None, 0] + c * local[..., 0] - s * local[..., 1]
        y = b[:, None, 1] + s * local[..., 0] + c * local[..., 1]
        return np.stack([x, y], axis=-1)

    def with_endpoints(self, start: tuple[float, float, float], goal: tuple[float, float],
                       **meta: Any) -> World:
        """The same obstacles with a new start and goal (and extra ``meta``), keeping a built clearance index."""
        world = replace(self, start=tuple(start), goal=tuple(goal), meta={**self.meta, **meta})
        if "_clearance_index" in self.__dict__:  # it depends on the obstacles and bounds only
            world.__dict__["_clearance_index"] = self.__dict__["_clearance_index"]
        return world

    @cached_property
    def _clearance_index(self) -> ClearanceIndex:
        """Built on first use for big worlds (a frozen dataclass may still cache in its ``__dict__``)."""
        return ClearanceIndex(self.bounds, self.circle_array(), self.box_array())

    def clearance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (m) from each (x, y) point to the nearest obstacle or the bounds wall.

        Negative inside an obstacle. Vectorised over points; used for reachability, collision
        checks and the minimum-clearance metric. Worlds with many obstacles (buildings from maps) go
        through a :class:`~toponav.worlds.spatial.ClearanceIndex`: same formula, same result, but each
        point meets only the few obstacles that can be its nearest.
        """
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        xmin, ymin, xmax, ymax = self.bounds
        d = np.minimum.reduce([p[:, 0] - xmin, xmax - p[:, 0], p[:, 1] - ymin, ymax - p[:, 1]])
        if len(self.circles) + len(self.boxes) >= MIN_OBSTACLES:
            return self._clearance_index.clearance(p, d)
        circles = self.circle_array()
        if len(circles):
            d = np.minimum(d, circle_distance(p, circles).min(axis=1))
        boxes = self.box_array()
        if len(boxes):
            d = np.minimum(d, box_distance(p, boxes).min(axis=1))
        return d

    def occupancy(self, resolution: float, inflate: float = 0.0) -> tuple[np.ndarray, tuple[float, float]]:
        """Boolean grid (rows = y) of cells whose centre is within ``inflate`` of an obstacle.

        Returns (grid, origin) where origin is the world (x, y) of cell (0, 0)'s lower-left corner.
        """
        xmin, ymin, xmax, ymax = self.bounds
        nx = max(1, math.ceil((xmax - xmin) / resolution))
        ny = max(1, math.ceil((ymax - ymin) / resolution))
        xs = xmin + (np.arange(nx) + 0.5) * resolution
        ys = ymin + (np.arange(ny) + 0.5) * resolution
        gx, gy = np.meshgrid(xs, ys)
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        occ = np.empty(len(pts), dtype=bool)
        for i in range(0, len(pts), 20000):  # bounded memory for big worlds
            occ[i : i + 20000] = self.clearance(pts[i : i + 20000]) <= inflate
        return occ.reshape(ny, nx), (xmin, ymin)

    # -- io -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schema_version"] = SCHEMA_VERSION
        return d

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> World:
        if not isinstance(data, dict):
            raise WorldError("world data must be a JSON object")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise WorldError(f"unsupported world schema_version {version} (this build reads {SCHEMA_VERSION})")
        required = ("name", "family", "seed", "bounds", "start", "goal")
        missing = [k for k in required if k not in data]
        if missing:
            raise WorldError(f"world is missing fields {missing}; required: {list(required)}")
        try:
            terrain = data.get("terrain")
            world = cls(
                name=str(data["name"]),
                family=str(data["family"]),
                seed=int(data["seed"]),
                bounds=_floats(data["bounds"], 4, "bounds"),
                start=_floats(data["start"], 3, "start"),
                goal=_floats(data["goal"], 2, "goal"),
                circles=tuple(_floats(c, 3, "circles[]") for c in data.get("circles", ())),
                boxes=tuple(_floats(b, 5, "boxes[]") for b in data.get("boxes", ())),
                obstacle_height=float(data.get("obstacle_height", 1.0)),
                terrain=None if terrain is None else Terrain(
                    heights=tuple(tuple(float(v) for v in row) for row in terrain["heights"]),
                    resolution=float(terrain["resolution"]),
                    origin=_floats(terrain["origin"], 2, "terrain.origin"),
                ),
                reference_path=tuple(_floats(p, 2, "reference_path[]") for p in data.get("reference_path", ())),
                meta=dict(data.get("meta", {})),
            )
        except (TypeError, KeyError) as exc:
            raise WorldError(f"malformed world data: {exc}") from None
        if world.bounds[0] >= world.bounds[2] or world.bounds[1] >= world.bounds[3]:
            raise WorldError(f"bounds {world.bounds} must be (xmin, ymin, xmax, ymax) with min < max")
        return world

    @classmethod
    def load(cls, path: str | Path) -> World:
        return cls.from_dict(read_document(path, "world file", json.loads, json.JSONDecodeError, "JSON"))


def _floats(values: Any, n: int, what: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise WorldError(f"{what} must be {n} numbers, got {values!r}") from None
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise WorldError(f"{what} must be {n} finite numbers, got {values!r}")
    return out

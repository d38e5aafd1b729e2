"""ROS map_server maps (``map.yaml`` + PGM/PNG image) as worlds, with Nav2 map_server's meaning of every field.

A map is read exactly as ``nav2_map_server``'s ``loadMapYaml`` / ``loadMapFromFile`` read it:

- required keys ``image`` (relative to the YAML file, or absolute), ``resolution`` (m/pixel), ``origin``
  ``[x, y, yaw]`` (pose of the lower-left pixel's lower-left corner), ``negate``, ``occupied_thresh`` and
  ``free_thresh``; optional ``mode`` (``trinary`` default, ``scale``, ``raw``);
- shade = mean of the pixel's channels / max value (colour is averaged; in trinary mode the alpha channel
  is averaged in too); occupancy probability ``p = 1 - shade`` (``p = shade`` with ``negate``);
- trinary: occupied if ``p > occupied_thresh``, free if ``p < free_thresh``, else unknown;
  scale: the same, plus any transparent pixel is unknown; raw: the pixel value is the occupancy in
  percent (``round(shade * 255)``), values above 100 are unknown, and ``p = value / 100``.

A simulated world is binary: a cell is **free exactly when p < free_thresh** (and it is not unknown);
occupied, unknown and in-between cells are all obstacles (a robot must not drive where the map does not
know the floor). The obstacle cells become merged rectangles (:func:`grid_to_boxes`), so every backend,
the lidar and the clearance metric see exactly the map's cells.

Start and goal (toponav extension, ignored by Nav2): the optional YAML keys ``start: [x, y, yaw]`` and
``goal: [x, y]``, or the same in the world spec's query ``map.yaml?start=x,y,yaw&goal=x,y`` (the spec wins).
When absent they are chosen on the map, deterministically: the two ends of the longest geodesic path
(two passes of "farthest free cell by Dijkstra") in the largest region the robot fits in, each with
at least ``START_MARGIN`` of extra clearance, the start facing along that path.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import ndimage
from scipy.sparse.csgraph import dijkstra

from toponav.grid_graph import GridGraph
from toponav.worlds.model import World, WorldError, read_document
from toponav.worlds.reachability import is_reachable

MODES = ("trinary", "scale", "raw")
REQUIRED_KEYS = ("image", "resolution", "origin", "negate", "occupied_thresh", "free_thresh")
#: Extra clearance (m) beyond the robot radius that an automatically chosen start or goal has.
START_MARGIN = 0.15
#: Grid (m) of the automatic start/goal search (the reachability check's); coarser above 1.5 M cells.
SEARCH_RESOLUTION = 0.1
#: Height (m) of the extruded walls.
WALL_HEIGHT = 2.0
#: Packaged maps: ``map:<name>`` is ``MAPS_DIR/<name>/map.yaml``.
MAPS_DIR = Path(__file__).resolve().parent / "data" / "maps"


@dataclass(frozen=True)
class MapYaml:
    """The validated fields of a map_server YAML file (plus toponav's optional start and goal)."""

    path: Path
    image: Path
    resolution: float
    origin: tuple[float, float, float]
    negate: bool
    occupied_thresh: float
    free_thresh: float
    mode: str = "trinary"
    start: tuple[float, float, float] | None = None
    goal: tuple[float, float] | None = None


@dataclass(frozen=True)
class OccupancyMap:
    """A loaded map: ``free[row, col]`` with row 0 at the BOTTOM (y up, as nav_msgs/OccupancyGrid data)."""

    meta: MapYaml
    free: np.ndarray  # bool (H, W)
    values: np.ndarray  # int8 (H, W) nav_msgs/OccupancyGrid values: -1 unknown, 0..100

    @property
    def shape(self) -> tuple[int, int]:
        return self.free.shape  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- yaml
def _field_error(path: Path, key: str, problem: str) -> WorldError:
    return WorldError(f"map {path}: field '{key}' {problem}")


def _number(doc: dict[str, Any], key: str, path: Path) -> float:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _field_error(path, key, f"must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise _field_error(path, key, f"must be finite, got {value!r}")
    return float(value)


def _pose(value: Any, n: tuple[int, ...], key: str, path: Path) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(" ", ",").split(",") if v]
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise _field_error(path, key, f"must be a list of {' or '.join(map(str, n))} numbers, got {value!r}") from None
    if len(out) not in n or not all(math.isfinite(v) for v in out):
        raise _field_error(path, key, f"must be {' or '.join(map(str, n))} finite numbers, got {value!r}")
    return out


def read_map_yaml(path: str | Path) -> MapYaml:
    """Parse and validate a map_server YAML file; every error names the offending field."""
    path = Path(path)
    doc = read_document(path, "map file", yaml.safe_load, yaml.YAMLError, "YAML")
    if not isinstance(doc, dict):
        raise WorldError(f"map {path} must be a YAML mapping with keys {list(REQUIRED_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing:
        raise WorldError(f"map {path}: missing field(s) {missing}; a map_server map needs {list(REQUIRED_KEYS)}")
    image = doc["image"]
    if not isinstance(image, str) or not image.strip():
        raise _field_error(path, "image", f"must be a non-empty file name, got {image!r}")
    image_path = Path(os.path.expanduser(image.strip()))
    if not image_path.is_absolute():
        image_path = path.parent / image_path
    elif not image_path.exists() and (path.parent / image_path.name).is_file():
        # map_saver writes the absolute path of the machine that made the map ("/home/<user>/.ros/map.pgm");
        # a map copied elsewhere keeps its image beside the YAML
        image_path = path.parent / image_path.name
    resolution = _number(doc, "resolution", path)
    if resolution <= 0:
        raise _field_error(path, "resolution", f"must be > 0 (metres per pixel), got {resolution}")
    origin = _pose(doc["origin"], (3,), "origin", path)
    occ, free = _number(doc, "occupied_thresh", path), _number(doc, "free_thresh", path)
    for key, value in (("occupied_thresh", occ), ("free_thresh", free)):
        if not 0.0 <= value <= 1.0:
            raise _field_error(path, key, f"must be in [0, 1], got {value}")
    if not free < occ:
        raise _field_error(path, "free_thresh", f"({free}) must be smaller than occupied_thresh ({occ})")
    negate = doc["negate"]
    if isinstance(negate, bool) or negate in (0, 1):
        negate = bool(negate)
    else:
        raise _field_error(path, "negate", f"must be 0, 1, true or false, got {negate!r}")
    mode = str(doc.get("mode", "trinary")).strip().lower()
    if mode not in MODES:
        raise _field_error(path, "mode", f"must be one of {list(MODES)}, got {doc.get('mode')!r}")
    start = goal = None
    if doc.get("start") is not None:
        s = _pose(doc["start"], (2, 3), "start", path)
        start = (s[0], s[1], s[2] if len(s) == 3 else 0.0)
    if doc.get("goal") is not None:
        goal = _pose(doc["goal"], (2,), "goal", path)
    return MapYaml(path=path, image=image_path, resolution=resolution, origin=origin,  # type: ignore[arg-type]
                   negate=negate, occupied_thresh=occ, free_thresh=free, mode=mode, start=start,
                   goal=goal)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ image
def _pnm_tokens(data: bytes, count: int, pos: int) -> tuple[list[int], int]:
    """``count`` whitespace-separated integers of a PNM header from ``pos`` (``#`` comments skipped)."""
    out: list[int] = []
    n = len(data)
    while len(out) < count:
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        if pos < n and data[pos] == ord("#"):
            while pos < n and data[pos] not in b"\r\n":
                pos += 1
            continue
        start = pos
        while pos < n and data[pos] not in b" \t\r\n#":
            pos += 1
        if start == pos:
            raise ValueError("header ends early")
        out.append(int(data[start:pos]))
    return out, pos


def read_pnm(path: Path) -> tuple[np.ndarray, int]:
    """Pixels (H, W) or (H, W, 3) and the max value of a PGM (P2/P5) or PPM (P3/P6) file, numpy only."""
    data = path.read_bytes()
    magic = data[:2]
    if magic not in (b"P2", b"P5", b"P3", b"P6"):
        raise ValueError(f"not a PGM/PPM file (magic {magic!r})")
    (width, height, maxval), pos = _pnm_tokens(data, 3, 2)
    if width < 1 or height < 1 or not 0 < maxval < 65536:
        raise ValueError(f"bad size {width}x{height} or max value {maxval}")
    channels = 3 if magic in (b"P3", b"P6") else 1
    n = width * height * channels
    if magic in (b"P5", b"P6"):
        pos += 1  # exactly one whitespace byte before the raster
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        raster = np.frombuffer(data, dtype=dtype, count=-1, offset=pos) if pos <= len(data) else np.zeros(0)
        if raster.size < n:
            raise ValueError(f"raster truncated: {raster.size} of {n} samples")
        pixels = raster[:n].astype(np.int64)
    else:
        values = data[pos:].split()
        if len(values) < n:
            raise ValueError(f"raster truncated: {len(values)} of {n} samples")
        pixels = np.array([int(v) for v in values[:n]], dtype=np.int64)
    if pixels.max(initial=0) > maxval:
        raise ValueError(f"sample above the max value {maxval}")
    shape = (height, width, 3) if channels == 3 else (height, width)
    return pixels.reshape(shape), maxval


def _read_pixels(path: Path) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(colour channels (H, W, C), alpha (H, W) or None, max value) of the map image."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head in (b"P2", b"P5", b"P3", b"P6"):
        pixels, maxval = read_pnm(path)
        return pixels.reshape(pixels.shape[0], pixels.shape[1], -1), None, maxval
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("only PGM/PPM images can be read without Pillow (pip install pillow for PNG/BMP)") from None
    with Image.open(path) as img:
        img.load()
        if img.mode in ("I;16", "I;16B", "I"):
            arr = np.asarray(img, dtype=np.int64)
            return arr[..., None], None, 65535 if arr.max(initial=0) > 255 else 255
        has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
        grey = img.mode in ("L", "LA", "1")
        img = img.convert(("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB"))
        arr = np.asarray(img, dtype=np.int64)
    if arr.ndim == 2:
        arr = arr[..., None]
    if has_alpha:
        return arr[..., :-1], arr[..., -1], 255
    return arr, None, 255


def classify(colour: np.ndarray, alpha: np.ndarray | None, maxval: int,
             meta: MapYaml) -> tuple[np.ndarray, np.ndarray]:
    """(nav_msgs/OccupancyGrid values, free mask) of an image, top row first.

    The values (-1 unknown, 0..100) are what Nav2's map_server would publish; free is the world's rule:
    occupancy probability below ``free_thresh`` (raw: value / 100) and not unknown.
    """
    channels = colour.astype(np.float64)
    if meta.mode == "trinary" and alpha is not None:  # Nav2 averages alpha in (opaque = max value)
        channels = np.concatenate([channels, alpha[..., None].astype(np.float64)], axis=-1)
    shade = channels.mean(axis=-1) / maxval
    occ = shade if meta.negate else 1.0 - shade
    values = np.full(shade.shape, -1, dtype=np.int8)
    if meta.mode == "raw":
        pct = np.round(shade * 255)
        known = (pct >= 0) & (pct <= 100)
        values[known] = pct[known].astype(np.int8)
        return values, known & (pct / 100.0 < meta.free_thresh)
    values[occ > meta.occupied_thresh] = 100
    free = occ < meta.free_thresh
    values[free] = 0
    if meta.mode == "scale":
        mid = (occ >= meta.free_thresh) & (occ <= meta.occupied_thresh)
        scaled = np.rint((occ - meta.free_thresh) / (meta.occupied_thresh - meta.free_thresh) * 100.0)
        values[mid] = scaled[mid].astype(np.int8)
        if alpha is not None:
            transparent = alpha != maxval
            values[transparent] = -1
            free &= ~transparent
    return values, free


def load_map(path: str | Path) -> OccupancyMap:
    """Read a map_server map (YAML + image) into a bottom-row-first occupancy map."""
    meta = read_map_yaml(path)
    if not meta.image.is_file():
        raise _field_error(meta.path, "image", f"names {meta.image}, which does not exist")
    try:
        colour, alpha, maxval = _read_pixels(meta.image)
    except (ValueError, OSError) as exc:
        raise _field_error(meta.path, "image", f"({meta.image}) cannot be read: {exc}") from None
    except Exception as exc:  # Pillow's decoders raise their own types (SyntaxError, DecompressionBombError...)
        raise _field_error(meta.path, "image", f"({meta.image}) cannot be read: {type(exc).__name__}: {exc}") from None
    values, free = classify(colour, alpha, maxval, meta)
    return OccupancyMap(meta=meta, free=np.flipud(free), values=np.flipud(values))  # image top row = max y


# ------------------------------------------------------------------------------------ rectangles
def grid_to_boxes(occupied: np.ndarray) -> np.ndarray:
    """Merge occupied cells (rows = y) into disjoint axis-aligned rectangles covering exactly those cells.

    Returns (K, 4) int rows (row0, col0, row1, col1), half-open. Runs of occupied cells per row are
    found with numpy; a run identical to one in the row below extends that rectangle (walls, shelves
    and the unknown outside merge into a few long boxes). Both scan directions are tried and the one
    with fewer rectangles is kept.
    """
    occ = np.asarray(occupied, dtype=bool)
    a = _merge_runs(occ)
    b = _merge_runs(occ.T)[:, [1, 0, 3, 2]]
    return a if len(a) <= len(b) else b


def _merge_runs(occ: np.ndarray) -> np.ndarray:
    h, w = occ.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = occ
    edges = np.diff(padded, axis=1)
    rs, cs = np.nonzero(edges == 1)
    _, ce = np.nonzero(edges == -1)  # same row order: run i of a row starts at cs[i] and ends at ce[i]
    open_: dict[tuple[int, int], int] = {}  # (c0, c1) -> row where the rectangle began
    out: list[tuple[int, int, int, int]] = []
    i, n = 0, len(rs)
    for r in range(h):
        current: dict[tuple[int, int], int] = {}
        while i < n and rs[i] == r:
            key = (int(cs[i]), int(ce[i]))
            current[key] = open_.pop(key, r)
            i += 1
        for (c0, c1), r0 in open_.items():  # runs that did not continue: close their rectangles
            out.append((r0, c0, r, c1))
        open_ = current
    for (c0, c1), r0 in open_.items():
        out.append((r0, c0, h, c1))
    return np.array(sorted(out), dtype=np.int64).reshape(-1, 4)


def cell_boxes(rects: np.ndarray, resolution: float, origin: tuple[float, float, float]) -> np.ndarray:
    """World boxes (cx, cy, hx, hy, yaw) of grid rectangles, rotated by the map's origin yaw about its origin."""
    r0, c0, r1, c1 = (rects[:, k].astype(np.float64) for k in range(4))
    lx, ly = (c0 + c1) / 2 * resolution, (r0 + r1) / 2 * resolution
    cy, sy = math.cos(origin[2]), math.sin(origin[2])
    cx = origin[0] + cy * lx - sy * ly
    cyy = origin[1] + sy * lx + cy * ly
    return np.stack([cx, cyy, (c1 - c0) / 2 * resolution, (r1 - r0) / 2 * resolution,
                     np.full(len(rects), origin[2])], axis=1)


def _frame_boxes(width: float, height: float, origin: tuple[float, float, float]) -> list[tuple[float, ...]]:
    """Four boxes outside a rotated map's footprint that fill its axis-aligned bounds (outside = obstacle)."""
    t = width + height
    local = [(width / 2, -t / 2, width / 2 + t, t / 2), (width / 2, height + t / 2, width / 2 + t, t / 2),
             (-t / 2, height / 2, t / 2, height / 2 + t), (width + t / 2, height / 2, t / 2, height / 2 + t)]
    c, s = math.cos(origin[2]), math.sin(origin[2])
    return [(origin[0] + c * x - s * y, origin[1] + s * x + c * y, hx, hy, origin[2]) for x, y, hx, hy in local]


# --------------------------------------------------------------------------------- start and goal
def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``path?start=x,y,yaw&goal=x,y`` into the path and its options."""
    path, _, query = spec.partition("?")
    options: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("start", "goal"):
            raise WorldError(f"world spec {spec!r}: unknown option {part!r} (use ?start=x,y[,yaw]&goal=x,y)")
        options[key.strip()] = value
    return path, options


def _farthest(graph: Any, free_flat: np.ndarray, source: int) -> tuple[int, np.ndarray, np.ndarray]:
    dist, pred = dijkstra(graph, indices=source, return_predecessors=True)
    dist = np.where(free_flat & np.isfinite(dist), dist, -1.0)
    return int(np.argmax(dist)), dist, pred


def choose_start_goal(world: World, radius: float) -> tuple[tuple[float, float, float], tuple[float, float]]:
    """Deterministic far-apart start and goal, both in the largest region a disc of ``radius`` can roam.

    Cells need clearance >= radius + START_MARGIN (radius + 2 cm where the margin would more than halve
    the region, as in a cluttered or speckled SLAM map).
    Pass 1: farthest cell (geodesic, 8-connected) from the region's most open cell; pass 2: farthest
    cell from that one. The start is the end with more clearance; it faces along the path.
    """
    xmin, ymin, xmax, ymax = world.bounds
    res = max(SEARCH_RESOLUTION, math.sqrt((xmax - xmin) * (ymax - ymin) / 1.5e6))  # <= 1.5 M cells
    nx, ny = max(1, math.ceil((xmax - xmin) / res)), max(1, math.ceil((ymax - ymin) / res))
    xs, ys = xmin + (np.arange(nx) + 0.5) * res, ymin + (np.arange(ny) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    # micrometre rounding: ties (cells exactly at the threshold, equally open cells) must not depend on
    # the last bit of a libm's hypot, or another machine would choose another start
    clear = np.round(world.clearance(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(ny, nx), 6)
    regions = []
    for need in (radius + START_MARGIN, radius + 0.02):
        labels, count = ndimage.label(clear >= need)
        if count:
            sizes = np.bincount(labels.ravel())[1:]
            regions.append((int(sizes.max()), labels == int(np.argmax(sizes)) + 1))
    if not regions:
        raise WorldError(f"world {world.name}: no free space for a robot of radius {radius} m")
    # keep the margin unless it cuts the roomiest region to less than half (a cluttered, speckled map)
    region = regions[0][1] if regions[0][0] >= 0.5 * regions[-1][0] else regions[-1][1]
    flat = region.ravel()
    graph = GridGraph(region.shape, res).graph(region)
    seed = int(np.argmax(np.where(flat, clear.ravel(), -np.inf)))
    a, _, _ = _farthest(graph, flat, seed)
    b, _, pred = _farthest(graph, flat, a)
    if clear.ravel()[b] > clear.ravel()[a]:
        a, b = b, a
        _, _, pred = _farthest(graph, flat, a)
    # heading: from the start towards the path point ~1 m along it (walk back from the goal)
    chain = [b]
    while chain[-1] != a and pred[chain[-1]] >= 0:
        chain.append(int(pred[chain[-1]]))
    ahead = chain[max(0, len(chain) - 1 - int(1.0 / res))]
    (ra, ca), (rh, ch), (rb, cb) = (divmod(v, nx) for v in (a, ahead, b))
    yaw = math.atan2(ys[rh] - ys[ra], xs[ch] - xs[ca]) if ahead != a else 0.0
    return ((round(float(xs[ca]), 3), round(float(ys[ra]), 3), round(yaw, 3)),
            (round(float(xs[cb]), 3), round(float(ys[rb]), 3)))


# ------------------------------------------------------------------------------------------ world
def map_name(path: Path) -> str:
    """``office/map.yaml`` -> ``office``; ``lab.yaml`` -> ``lab``."""
    return path.parent.name if path.stem == "map" and path.parent.name else path.stem


def map_world(spec: str, robot_radius: float) -> World:
    """A :class:`World` from a map_server map spec ``path/to/map.yaml[?start=x,y,yaw&goal=x,y]``.

    Raises :class:`WorldError` naming the field on bad files, and when a given start or goal is off the
    map, inside an obstacle or not reachable from each other for ``robot_radius``. Cached per process
    while the YAML and image files are unchanged (an env that resets onto the same map pays once).
    """
    path_text, options = parse_spec(spec)
    path = Path(path_text)
    try:
        stamp = path.stat().st_mtime_ns
        meta = read_map_yaml(path)
        image_stamp = meta.image.stat().st_mtime_ns if meta.image.is_file() else 0
    except (OSError, WorldError):
        stamp = image_stamp = 0  # let the uncached path raise the precise error
    key = (str(path.resolve()), stamp, image_stamp, tuple(sorted(options.items())), float(robot_radius))
    return _map_world_cached(key, path_text, tuple(sorted(options.items())), float(robot_radius))


@lru_cache(maxsize=8)
def _map_world_cached(key: tuple[Any, ...], path_text: str, options_items: tuple[tuple[str, str], ...],
                      robot_radius: float) -> World:
    del key  # only part of the cache key (file identity and modification times)
    return _build_map_world(path_text, dict(options_items), robot_radius)


def _crop_to_free(grid: OccupancyMap) -> tuple[np.ndarray, tuple[float, float, float], list[int]]:
    """The free mask cut to the free cells' bounding box plus one cell, the origin moved to match.

    Outside that box everything is obstacle, which the world's bounds already say: a SLAM map's wide
    unknown border then costs no boxes, grid cells or mesh triangles. The kept one-cell rim means the
    geometry next to free space is exactly the map's cells. Returns (free, origin, [col0, row0, w, h]).
    """
    rows, cols = np.nonzero(grid.free.any(axis=1))[0], np.nonzero(grid.free.any(axis=0))[0]
    if not len(rows):
        raise _field_error(grid.meta.path, "image", "has no free cell (check negate, free_thresh and mode)")
    h, w = grid.shape
    r0, r1 = max(0, int(rows[0]) - 1), min(h, int(rows[-1]) + 2)
    c0, c1 = max(0, int(cols[0]) - 1), min(w, int(cols[-1]) + 2)
    ox, oy, yaw = grid.meta.origin
    lx, ly = c0 * grid.meta.resolution, r0 * grid.meta.resolution
    c, s = math.cos(yaw), math.sin(yaw)
    origin = (ox + c * lx - s * ly, oy + s * lx + c * ly, yaw)
    return grid.free[r0:r1, c0:c1], origin, [c0, r0, c1 - c0, r1 - r0]


def _build_map_world(path_text: str, options: dict[str, str], robot_radius: float) -> World:
    grid = load_map(path_text)
    meta = grid.meta
    free, origin, crop = _crop_to_free(grid)
    h, w = free.shape
    width, height = w * meta.resolution, h * meta.resolution
    boxes = cell_boxes(grid_to_boxes(~free), meta.resolution, origin)
    ox, oy, yaw = origin
    if abs(yaw) < 1e-12:
        bounds = (ox, oy, ox + width, oy + height)
        frame: list[tuple[float, ...]] = []
    else:
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]])
        c, s = math.cos(yaw), math.sin(yaw)
        wx, wy = ox + c * corners[:, 0] - s * corners[:, 1], oy + s * corners[:, 0] + c * corners[:, 1]
        bounds = (float(wx.min()), float(wy.min()), float(wx.max()), float(wy.max()))
        frame = _frame_boxes(width, height, origin)
    # nanometre rounding: the same cells print and serialise without float noise from the origin sums
    bounds = tuple(round(v, 9) for v in bounds)  # type: ignore[assignment]
    all_boxes = tuple(tuple(round(float(v), 9) for v in row) for row in (*boxes, *frame))
    start = meta.start
    goal = meta.goal
    if "start" in options:
        s3 = _pose(options["start"], (2, 3), "start", meta.path)
        start = (s3[0], s3[1], s3[2] if len(s3) == 3 else 0.0)
    if "goal" in options:
        goal = _pose(options["goal"], (2,), "goal", meta.path)  # type: ignore[assignment]
    name = map_name(meta.path)
    info = {"source": str(meta.path), "resolution": meta.resolution, "size_px": [grid.shape[1], grid.shape[0]],
            "crop_px": crop, "mode": meta.mode, "free_fraction": round(float(grid.free.mean()), 4),
            "boxes_from_cells": len(boxes)}
    world = World(name=name, family="map", seed=0, bounds=bounds, start=start or (0.0, 0.0, 0.0),
                  goal=goal or (0.0, 0.0), boxes=all_boxes, obstacle_height=WALL_HEIGHT, meta=info)
    if start is None or goal is None:
        auto_start, auto_goal = choose_start_goal(world, robot_radius)
        world = world.with_endpoints(start or auto_start, goal or auto_goal,
                                     start_goal="auto" if start is None and goal is None else "partly auto")
    else:
        world = world.with_endpoints(start, goal, start_goal="given")
    for key, xy in (("start", world.start[:2]), ("goal", world.goal)):
        if not (bounds[0] <= xy[0] <= bounds[2] and bounds[1] <= xy[1] <= bounds[3]):
            raise _field_error(meta.path, key, f"{tuple(xy)} is outside the map {bounds}")
        if world.clearance(np.asarray([xy]))[0] < robot_radius:
            raise _field_error(meta.path, key, f"{tuple(xy)} is inside or within {robot_radius} m of an obstacle")
    # both ends chosen automatically lie in one region of clearance > radius: connected by construction
    if world.meta["start_goal"] != "auto" and not is_reachable(world, robot_radius):
        raise WorldError(f"map {meta.path}: goal {world.goal} cannot be reached from start {world.start[:2]} "
                         f"by a robot of radius {robot_radius} m")
    return world


def packaged_maps() -> list[str]:
    """Names of the maps shipped in ``toponav/worlds/data/maps`` (``map:<name>``)."""
    return sorted(p.parent.name for p in MAPS_DIR.glob("*/map.yaml"))


def packaged_map_path(name: str) -> Path:
    path = MAPS_DIR / name / "map.yaml"
    if not path.is_file():
        raise WorldError(f"unknown packaged map {name!r}: available {packaged_maps()}")
    return path

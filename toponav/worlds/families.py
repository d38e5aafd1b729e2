"""Procedural world families: warehouse aisles, maze/office corridors with rooms, rough forest, empty.

Every generator is a pure function of (seed, attempt) through one numpy Generator, so a seed always
gives the same world on every machine. :func:`generate` wraps a generator with the reachability
guarantee: regenerate (new attempt) until a disc of the robot's radius can get from start to goal,
and as a last resort carve a corridor along the start-goal segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from toponav.worlds.model import Terrain, World
from toponav.worlds.reachability import carve_corridor, is_reachable

Box = tuple[float, float, float, float, float]
Circle = tuple[float, float, float]

#: Stable per-family salt so that seed 3 of "maze" and seed 3 of "forest" draw unrelated numbers.
_SALT = {"warehouse": 101, "maze": 202, "forest": 303, "empty": 404}
MAX_ATTEMPTS = 12


def _rng(family: str, seed: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng([_SALT[family], int(seed) & 0xFFFFFFFF, attempt])


def _r(v: float) -> float:
    """Round to mm so that worlds print and serialise compactly and identically everywhere."""
    return round(float(v), 3)


def _box(cx: float, cy: float, hx: float, hy: float, yaw: float = 0.0) -> Box:
    return (_r(cx), _r(cy), _r(hx), _r(hy), _r(yaw))


# ------------------------------------------------------------------------------------------ warehouse
def warehouse(seed: int, attempt: int = 0) -> World:
    """Rows of shelves (long boxes) with cross aisles and a few pallets left in the aisles."""
    rng = _rng("warehouse", seed, attempt)
    width, height = 20.0, 14.0
    shelf_depth = rng.uniform(0.8, 1.2)
    aisle = rng.uniform(1.4, 2.2)
    x0, x1 = 3.0, width - 3.0
    boxes: list[Box] = []
    y = rng.uniform(1.2, 2.0)
    while y + shelf_depth < height - 1.2:
        # split the row into shelf segments separated by 1.4-2.4 m cross aisles
        x = x0
        while x < x1 - 1.0:
            length = min(rng.uniform(3.0, 6.0), x1 - x)
            if length > 0.8:
                boxes.append(_box(x + length / 2, y + shelf_depth / 2, length / 2, shelf_depth / 2))
            x += length + rng.uniform(1.4, 2.4)
        y += shelf_depth + aisle
    start = (1.0, _r(rng.uniform(2.0, height - 2.0)), 0.0)
    goal = (width - 1.0, _r(rng.uniform(2.0, height - 2.0)))
    # pallets: small boxes dropped in aisles, kept away from start and goal
    world = World(name=f"warehouse-{seed}", family="warehouse", seed=int(seed), bounds=(0.0, 0.0, width, height),
                  start=start, goal=goal, boxes=tuple(boxes), obstacle_height=2.0)
    for _ in range(int(rng.integers(3, 9))):
        p = np.array([rng.uniform(x0, x1), rng.uniform(1.0, height - 1.0)])
        h = rng.uniform(0.3, 0.5)
        if world.clearance(p[None])[0] < h + 0.1:
            continue  # would overlap a shelf
        if min(math.dist(p, start[:2]), math.dist(p, goal)) < 1.5:
            continue
        boxes.append(_box(p[0], p[1], h, h, rng.uniform(0, math.pi / 2)))
    return World(name=f"warehouse-{seed}", family="warehouse", seed=int(seed), bounds=(0.0, 0.0, width, height),
                 start=start, goal=goal, boxes=tuple(boxes), obstacle_height=2.0,
                 meta={"shelf_depth": _r(shelf_depth), "aisle_width": _r(aisle)})


# ------------------------------------------------------------------------------------------- maze
def maze(seed: int, attempt: int = 0) -> World:
    """Office-like maze: a grid of rooms joined by doors (spanning tree + a few loops), some merged rooms."""
    rng = _rng("maze", seed, attempt)
    nx, ny = int(rng.integers(4, 7)), int(rng.integers(4, 7))
    cell = float(rng.uniform(2.6, 3.4))
    thick = 0.15
    # spanning tree by randomised depth-first search -> every room reachable
    open_edges: set[tuple[tuple[int, int], tuple[int, int]]] = set()
    seen = {(0, 0)}
    stack = [(0, 0)]
    while stack:
        cx, cy = stack[-1]
        nbrs = [(cx + dx, cy + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))
                if 0 <= cx + dx < nx and 0 <= cy + dy < ny and (cx + dx, cy + dy) not in seen]
        if not nbrs:
            stack.pop()
            continue
        nxt = nbrs[int(rng.integers(len(nbrs)))]
        open_edges.add(tuple(sorted(((cx, cy), nxt))))
        seen.add(nxt)
        stack.append(nxt)
    boxes: list[Box] = []
    for i in range(nx):
        for j in range(ny):
            for di, dj in ((1, 0), (0, 1)):
                a, b = (i, j), (i + di, j + dj)
                if b[0] >= nx or b[1] >= ny:
                    continue
                door = tuple(sorted((a, b))) in open_edges or rng.random() < 0.15
                if door and rng.random() < 0.2:
                    continue  # merged rooms: no wall at all
                # wall along the shared side, from s0 to s1 on the free axis, at fixed coordinate c
                c = (i + 1) * cell if di else (j + 1) * cell
                s0 = (j if di else i) * cell - thick / 2
                s1 = s0 + cell + thick
                pieces = [(s0, s1)]
                if door:
                    w = rng.uniform(1.0, 1.4)
                    d0 = rng.uniform(s0 + thick + 0.2, s1 - thick - 0.2 - w)
                    pieces = [(s0, d0), (d0 + w, s1)]
                for p0, p1 in pieces:
                    if p1 - p0 < 0.05:
                        continue
                    mid, half = (p0 + p1) / 2, (p1 - p0) / 2
                    boxes.append(_box(c, mid, thick / 2, half) if di else _box(mid, c, half, thick / 2))
    width, height = nx * cell, ny * cell
    start = (_r(cell / 2), _r(cell / 2), 0.0)
    goal = (_r(width - cell / 2), _r(height - cell / 2))
    return World(name=f"maze-{seed}", family="maze", seed=int(seed), bounds=(0.0, 0.0, _r(width), _r(height)),
                 start=start, goal=goal, boxes=tuple(boxes), obstacle_height=1.5,
                 meta={"rooms": [nx, ny], "room_size": _r(cell)})


# ------------------------------------------------------------------------------------------ forest
def forest(seed: int, attempt: int = 0) -> World:
    """Trees (cylinders) on rough heightfield terrain with an overall slope and a few hills."""
    rng = _rng("forest", seed, attempt)
    width, height = 20.0, 20.0
    start = (1.5, _r(rng.uniform(4.0, height - 4.0)), 0.0)
    goal = (width - 1.5, _r(rng.uniform(4.0, height - 4.0)))
    density = rng.uniform(0.08, 0.14)  # trees per m^2
    trees: list[Circle] = []
    for _ in range(int(density * width * height * 3)):
        if len(trees) >= density * width * height:
            break
        r = rng.uniform(0.1, 0.35)
        p = rng.uniform([0.5, 0.5], [width - 0.5, height - 0.5])
        if min(math.dist(p, start[:2]), math.dist(p, goal)) < 1.2 + r:
            continue
        if any(math.hypot(p[0] - t[0], p[1] - t[1]) < r + t[2] + 0.3 for t in trees):
            continue
        trees.append((_r(p[0]), _r(p[1]), _r(r)))
    terrain = _terrain(rng, width, height)
    return World(name=f"forest-{seed}", family="forest", seed=int(seed), bounds=(0.0, 0.0, width, height),
                 start=start, goal=goal, circles=tuple(trees), obstacle_height=4.0, terrain=terrain,
                 meta={"tree_density": _r(density)})


def _terrain(rng: np.random.Generator, width: float, height: float, res: float = 0.25) -> Terrain:
    """Heightfield: a gentle tilt (<= ~3 deg), a few Gaussian hills/hollows and small-scale roughness."""
    xs = np.arange(0.0, width + 1e-9, res)
    ys = np.arange(0.0, height + 1e-9, res)
    gx, gy = np.meshgrid(xs, ys)
    tilt = rng.uniform(-0.05, 0.05, size=2)
    h = tilt[0] * (gx - width / 2) + tilt[1] * (gy - height / 2)
    for _ in range(int(rng.integers(2, 6))):
        c = rng.uniform([0, 0], [width, height])
        s = rng.uniform(1.5, 4.0)
        h += rng.uniform(-0.4, 0.4) * np.exp(-((gx - c[0]) ** 2 + (gy - c[1]) ** 2) / (2 * s * s))
    # roughness: smoothed white noise, a few cm
    noise = rng.normal(0.0, 1.0, size=h.shape)
    k = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16
    for axis in (0, 1):
        noise = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, noise)
    h += 0.03 * noise / max(noise.std(), 1e-9)
    h -= h.min()
    heights = tuple(tuple(round(float(v), 3) for v in row) for row in h)
    return Terrain(heights=heights, resolution=res, origin=(0.0, 0.0))


# ------------------------------------------------------------------------------------------- empty
def empty(seed: int, attempt: int = 0) -> World:
    """A walled 10 m x 10 m square with no obstacles (start left, goal right)."""
    return World(name=f"empty-{seed}", family="empty", seed=int(seed), bounds=(0.0, 0.0, 10.0, 10.0),
                 start=(1.0, 5.0, 0.0), goal=(9.0, 5.0))


GENERATORS: dict[str, Callable[[int, int], World]] = {
    "warehouse": warehouse,
    "maze": maze,
    "forest": forest,
    "empty": empty,
}


def generate(family: str, seed: int, robot_radius: float) -> World:
    """Generate ``family`` with ``seed``, guaranteed start-goal connected for a disc of ``robot_radius``."""
    gen = GENERATORS[family]
    world = gen(seed, 0)
    for attempt in range(1, MAX_ATTEMPTS):
        if is_reachable(world, robot_radius):
            return world
        world = gen(seed, attempt)
    if not is_reachable(world, robot_radius):
        world = carve_corridor(world, robot_radius)
    return world

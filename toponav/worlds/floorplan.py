"""Draw building floor plans in metres and save them as ROS map_server maps (``map.yaml`` + PGM).

Used to make the maps shipped in ``data/maps`` (``python -m toponav.worlds.floorplan``), the big
generated building of the speed measurement and the tests' maps, so all of them come from one
documented recipe instead of hand-edited images. Pixel values are what Nav2's ``map_saver`` writes in
trinary mode: free 254, occupied 0, unknown 205 (with free_thresh 0.196, as ROS map_saver and the
TurtleBot3 maps write it, 205 reads as unknown: p = 50/255 = 0.19608).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FREE, OCCUPIED, UNKNOWN = 254, 0, 205


class FloorPlan:
    """A ``width`` x ``height`` m canvas at ``resolution`` m/pixel; (0, 0) is the lower-left corner."""

    def __init__(self, width: float, height: float, resolution: float = 0.05, fill: int = UNKNOWN) -> None:
        self.resolution = float(resolution)
        self.image = np.full((round(height / resolution), round(width / resolution)), fill, dtype=np.uint8)

    def _window(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice]:
        h, w = self.image.shape
        r = self.resolution
        c0, c1 = sorted((round(x0 / r), round(x1 / r)))
        b0, b1 = sorted((round(y0 / r), round(y1 / r)))
        # image row 0 is the top (max y)
        return slice(max(0, h - b1), max(0, h - b0)), slice(max(0, c0), min(w, c1))

    def rect(self, x0: float, y0: float, x1: float, y1: float, value: int) -> FloorPlan:
        self.image[self._window(x0, y0, x1, y1)] = value
        return self

    def floor(self, x0: float, y0: float, x1: float, y1: float) -> FloorPlan:
        return self.rect(x0, y0, x1, y1, FREE)

    def wall(self, x0: float, y0: float, x1: float, y1: float, thickness: float = 0.15) -> FloorPlan:
        """An axis-aligned wall from (x0, y0) to (x1, y1) (one of them equal), ``thickness`` m thick."""
        t = thickness / 2
        if abs(y1 - y0) < 1e-9:
            return self.rect(min(x0, x1) - t, y0 - t, max(x0, x1) + t, y0 + t, OCCUPIED)
        return self.rect(x0 - t, min(y0, y1) - t, x0 + t, max(y0, y1) + t, OCCUPIED)

    def enclosure(self, x0: float, y0: float, x1: float, y1: float, thickness: float) -> FloorPlan:
        """Free floor over the rectangle, closed by four outer walls ``thickness`` m thick along its edges."""
        self.floor(x0, y0, x1, y1)
        self.wall(x0, y0, x1, y0, thickness).wall(x0, y1, x1, y1, thickness)
        return self.wall(x0, y0, x0, y1, thickness).wall(x1, y0, x1, y1, thickness)

    def door(self, x: float, y: float, width: float = 1.2, vertical_wall: bool = False,
             thickness: float = 0.3) -> FloorPlan:
        """Open a ``width`` m door centred at (x, y) in a wall running along x (or along y)."""
        w, t = width / 2, thickness / 2
        if vertical_wall:
            return self.floor(x - t, y - w, x + t, y + w)
        return self.floor(x - w, y - t, x + w, y + t)

    def pillar(self, x: float, y: float, size: float = 0.15) -> FloorPlan:
        return self.rect(x - size / 2, y - size / 2, x + size / 2, y + size / 2, OCCUPIED)

    def block(self, x0: float, y0: float, x1: float, y1: float) -> FloorPlan:
        """A solid obstacle (furniture, rack, stairwell)."""
        return self.rect(x0, y0, x1, y1, OCCUPIED)

    def jitter_walls(self, rng: np.random.Generator, fraction: float = 0.04) -> FloorPlan:
        """Ragged wall edges like a SLAM map's: a few free pixels next to walls turn occupied."""
        occ = self.image == OCCUPIED
        beside = np.roll(occ, 1, 0) | np.roll(occ, -1, 0) | np.roll(occ, 1, 1) | np.roll(occ, -1, 1)
        edge = (self.image == FREE) & beside
        flip = edge & (rng.random(self.image.shape) < fraction)
        self.image[flip] = OCCUPIED
        return self

    def save(self, directory: str | Path, start: tuple[float, ...] | None = None,
             goal: tuple[float, ...] | None = None) -> Path:
        """Write ``map.pgm`` (P5) and ``map.yaml`` into ``directory``; returns the YAML path."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        h, w = self.image.shape
        (out / "map.pgm").write_bytes(f"P5\n# toponav floorplan\n{w} {h}\n255\n".encode() + self.image.tobytes())
        lines = ["image: map.pgm", "mode: trinary", f"resolution: {self.resolution}", "origin: [0.0, 0.0, 0.0]",
                 "negate: 0", "occupied_thresh: 0.65", "free_thresh: 0.196"]
        if start is not None:
            lines.append(f"start: [{', '.join(f'{v:g}' for v in start)}]")
        if goal is not None:
            lines.append(f"goal: [{', '.join(f'{v:g}' for v in goal)}]")
        (out / "map.yaml").write_text("\n".join(lines) + "\n")
        return out / "map.yaml"


# ----------------------------------------------------------------------------------------- recipes
def office(resolution: float = 0.05) -> FloorPlan:
    """An office floor, 30 x 20 m: a 2 m corridor, six rooms on each side with 1.2 m doors, desks, a kitchen."""
    rng = np.random.default_rng(11)
    fp = FloorPlan(31.0, 21.0, resolution)
    fp.enclosure(0.5, 0.5, 30.5, 20.5, 0.2)
    fp.wall(0.5, 9.5, 30.5, 9.5).wall(0.5, 11.5, 30.5, 11.5)  # corridor y 9.5..11.5
    for i in range(6):
        x0, x1 = 0.5 + 5 * i, 5.5 + 5 * i
        if i:
            fp.wall(x0, 0.5, x0, 9.5).wall(x0, 11.5, x0, 20.5)
        fp.door(x0 + 1.5 + (i % 2), 9.5).door(x1 - 1.5 - (i % 2), 11.5)
        for lo, hi in ((1.0, 9.0), (12.0, 20.0)):  # two desks per room, away from the doors
            for k in range(2):
                dx = x0 + 0.9 + 2.2 * k + rng.uniform(0, 0.4)
                dy = lo + 0.6 if lo < 5 else hi - 1.4
                fp.block(dx, dy, dx + 1.4, dy + 0.8)
    fp.door(10.5, 4.0, vertical_wall=True).door(20.5, 16.0, vertical_wall=True)  # connecting doors
    fp.floor(13.0, 9.5, 18.0, 11.5)  # open kitchen area into the corridor
    fp.block(14.8, 12.5, 16.2, 14.0)  # kitchen island in room 3 (north)
    return fp


def depot(resolution: float = 0.05) -> FloorPlan:
    """A depot, 40 x 25 m: racks with 2.6 m aisles, 0.15 m steel pillars in the open dock area, pallets."""
    rng = np.random.default_rng(22)
    fp = FloorPlan(41.0, 26.0, resolution)
    fp.enclosure(0.5, 0.5, 40.5, 25.5, 0.3)
    y = 3.0
    while y + 1.0 < 24.0:  # racks from x 16 to 39 with a cross aisle at x 27..29.5
        fp.block(16.0, y, 27.0, y + 1.0).block(29.5, y, 39.0, y + 1.0)
        y += 1.0 + 2.6
    for px in np.arange(3.0, 15.0, 4.0):  # thin pillars in the dock area
        for py in np.arange(3.5, 24.0, 5.0):
            fp.pillar(float(px), float(py), 0.15)
    for _ in range(6):  # pallets in the dock area, clear of the pillars
        x, yy = rng.uniform(2.0, 13.0), rng.uniform(2.0, 23.0)
        fp.block(x, yy, x + 1.2, yy + 1.0)
    fp.block(0.5, 10.0, 1.5, 15.0)  # dock leveller
    return fp


def campus_wing(resolution: float = 0.05) -> FloorPlan:
    """A campus building wing, 60 x 16 m: a 2.4 m corridor, 10 classrooms, a lobby with columns, stairwells."""
    rng = np.random.default_rng(33)
    fp = FloorPlan(61.0, 17.0, resolution)
    fp.floor(0.5, 0.5, 60.5, 16.5)
    for x0, y0, x1, y1 in ((0.5, 0.5, 60.5, 0.5), (0.5, 16.5, 60.5, 16.5), (0.5, 0.5, 0.5, 16.5),
                           (60.5, 0.5, 60.5, 16.5)):
        fp.wall(x0, y0, x1, y1, 0.3)
    fp.wall(12.5, 6.8, 60.5, 6.8, 0.2).wall(12.5, 9.2, 60.5, 9.2, 0.2)  # corridor y 6.8..9.2 east of the lobby
    fp.wall(12.5, 0.5, 12.5, 6.8, 0.2).wall(12.5, 9.2, 12.5, 16.5, 0.2)
    for i in range(6):  # classrooms of 8 m along the corridor, south and north
        x0 = 12.5 + 8 * i
        if i:
            fp.wall(x0, 0.5, x0, 6.8, 0.2).wall(x0, 9.2, x0, 16.5, 0.2)
        if i < 5:
            fp.door(x0 + 1.6, 6.8).door(x0 + 6.4, 9.2)
            for row in range(2):  # rows of tables
                fp.block(x0 + 2.0, 2.0 + 2.0 * row, x0 + 6.0, 2.6 + 2.0 * row)
                fp.block(x0 + 2.0, 11.2 + 2.0 * row, x0 + 6.0, 11.8 + 2.0 * row)
    fp.block(52.5, 0.6, 60.4, 6.7).block(52.5, 9.3, 60.4, 16.4)  # stairwells / plant rooms at the east end
    for cx in (4.0, 8.5):  # lobby columns
        for cy in (4.0, 13.0):
            fp.pillar(cx, cy, 0.4)
    fp.block(2.0, 7.2, 4.5, 8.8)  # reception desk
    return fp.jitter_walls(rng, 0.03)


def large_building(rooms: int = 10, room: float = 5.9, resolution: float = 0.05, seed: int = 0) -> FloorPlan:
    """A ``rooms`` x ``rooms`` grid of rooms with doors, furniture and a pillar each (default 60 x 60 m)."""
    rng = np.random.default_rng(seed)
    size = rooms * room + 1.0
    fp = FloorPlan(size, size, resolution)
    fp.floor(0.5, 0.5, size - 0.5, size - 0.5)
    for k in range(rooms + 1):
        c = 0.5 + k * room
        fp.wall(0.5, c, size - 0.5, c).wall(c, 0.5, c, size - 0.5)
    for i in range(rooms):
        for j in range(rooms):
            x0, y0 = 0.5 + i * room, 0.5 + j * room
            if i + 1 < rooms:
                fp.door(x0 + room, y0 + rng.uniform(1.2, room - 1.2), vertical_wall=True)
            if j + 1 < rooms:
                fp.door(x0 + rng.uniform(1.2, room - 1.2), y0 + room)
            for _ in range(int(rng.integers(1, 4))):
                bx, by = x0 + rng.uniform(1.0, room - 2.2), y0 + rng.uniform(1.0, room - 2.0)
                fp.block(bx, by, bx + rng.uniform(0.4, 1.2), by + rng.uniform(0.4, 1.0))
            fp.pillar(x0 + room / 2, y0 + room / 2, 0.15)
    return fp.jitter_walls(rng, 0.03)


RECIPES = {"office": office, "depot": depot, "campus_wing": campus_wing}


def main() -> None:
    """Regenerate the packaged maps in place (deterministic)."""
    from toponav.worlds.map_server import MAPS_DIR

    for name, recipe in RECIPES.items():
        plan = recipe()
        path = plan.save(MAPS_DIR / name)
        print(f"wrote {path} ({plan.image.shape[1]} x {plan.image.shape[0]} px)")


if __name__ == "__main__":
    main()

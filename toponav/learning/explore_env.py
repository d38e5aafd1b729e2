"""A fast, faithful *abstraction* of "twin + mapper + low-level controller" for exploration experiments.

The env that trained ``models/checkpoints/meta_controller.pt`` (``toponav train meta``,
:mod:`toponav.experiments.train_meta`) and the one ``toponav bench explore`` runs every method in, including the
flat PPO baselines it trains (:mod:`toponav.experiments.flat_ppo`). The meta-controller's input is the deployed
planner's own candidate features (:class:`toponav.planning.SubgoalPlanner` runs in the loop on :meth:`graph`), the
code that feeds it on the robot; the graphs themselves come from this abstraction, not the real mapper, and motion
is abstract (no dynamics, no velocity limits).

Training the meta-controller and benchmarking exploration needs thousands of episodes; running the
PyBullet sim, the ROS mapper and the low-level controller for each would take hours on two cores. This
environment keeps what matters to the sub-goal planner and abstracts the rest, on a grid over the same
:class:`toponav.worlds.World` data the sim uses:

* **sensor** (the twin's lidar): ``beams`` rays up to ``range_max`` over the true obstacle grid; cells
  along a ray become known-free, the hit cell known-occupied. Scans are taken every ``scan_every``
  metres of travel (the mapper's update rate at cruise speed).
* **mapper** (``toponav.mapping.TopoMap``): a place node is added when the robot is farther than
  ``node_spacing`` from every place; edges join consecutive places and places in mutual line of sight
  (through known free space); visits count arrivals; frontier nodes sit at the cell nearest the centroid of
  each connected cluster of frontier cells (known free cells next to unknown ones), ``frontier_size`` is
  the cluster's extent in metres, and each frontier is joined to its nearest place. Explored area is
  the known-free area, as the mapper's ``explored_area()`` reports it.
* **low-level controller** (DWA / learned policy): the robot follows the shortest 8-connected path
  through *known* traversable cells (obstacles inflated by the robot radius) at an effective speed
  ``speed`` (cruise speed less turning and slow-downs). One control step is ``dt`` seconds, so the
  step budget of a benchmark is comparable with the twin's.

What is *not* modelled: odometry drift, dynamic limits, collisions of a real controller (the abstract
one never collides), and mapper mis-associations. Flat baselines move with primitive actions (8
headings, ``primitive_step`` metres each, blocked moves cost the time but do not move).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from toponav.config import param
from toponav.grid_graph import STEPS, grid_graph
from toponav.planning.graph import Place, PlaceGraph
from toponav.worlds.model import World

_NB8 = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


@dataclass
class ExploreEnvConfig:
    """Abstraction parameters (ours; chosen to match the default AgvParams / LidarParams and mapper)."""

    resolution: float = param(0.25, "grid cell size (m)", min=0.02)
    robot_radius: float = param(0.25, "obstacle inflation for traversability (m)", min=0.0)
    beams: int = param(64, "lidar beams", min=4)
    range_max: float = param(6.0, "lidar range (m)", min=0.5)
    scan_every: float = param(0.5, "metres of travel between scans", min=0.05)
    speed: float = param(0.6, "effective travel speed of the low-level controller (m/s)", min=0.01)
    dt: float = param(0.1, "seconds per control step", min=0.001)
    node_spacing: float = param(1.5, "mapper place spacing (m)", min=0.1)
    frontier_min_cells: int = param(3, "smallest frontier cluster that becomes a frontier node", min=1)
    primitive_step: float = param(0.5, "metres per primitive move of the flat baselines", min=0.05)
    goal_tolerance: float = param(0.5, "goal reached within this distance (m)", min=0.01)


class ExploreEnv:
    """One world, one robot. ``steps`` counts control steps of ``dt`` seconds used so far."""

    def __init__(self, world: World, cfg: ExploreEnvConfig | None = None) -> None:
        self.world = world
        self.cfg = cfg or ExploreEnvConfig()
        c = self.cfg
        self.occ, (self.ox, self.oy) = world.occupancy(c.resolution, 0.0)
        inflated, _ = world.occupancy(c.resolution, c.robot_radius)
        self.passable = ~inflated
        self.ny, self.nx = self.occ.shape
        self.free_area_total = float((~self.occ).sum()) * c.resolution**2
        ang = np.linspace(-math.pi, math.pi, c.beams, endpoint=False)
        self._dirs = np.stack([np.cos(ang), np.sin(ang)], axis=1)
        self._samples = np.arange(c.resolution * 0.5, c.range_max, c.resolution * 0.5)
        self.reset()

    def fresh(self) -> ExploreEnv:
        """A new, reset environment on the same world, sharing the static grids (no recomputation)."""
        env = ExploreEnv.__new__(ExploreEnv)
        for name in ("world", "cfg", "occ", "ox", "oy", "passable", "ny", "nx", "free_area_total", "_dirs", "_samples"):
            setattr(env, name, getattr(self, name))
        env.reset()
        return env

    # -- geometry helpers -----------------------------------------------------------------------------
    def cell(self, x: float, y: float) -> tuple[int, int]:
        r = self.cfg.resolution
        return (min(max(int((y - self.oy) / r), 0), self.ny - 1), min(max(int((x - self.ox) / r), 0), self.nx - 1))

    def xy(self, cell: tuple[int, int]) -> tuple[float, float]:
        r = self.cfg.resolution
        return (self.ox + (cell[1] + 0.5) * r, self.oy + (cell[0] + 0.5) * r)

    # -- episode --------------------------------------------------------------------------------------
    def reset(self, start: tuple[float, float] | None = None) -> None:
        x, y = start if start is not None else self.world.start[:2]
        cell = self.cell(x, y)
        if not self.passable[cell]:  # start too close to an obstacle on this grid: nearest passable cell
            idx = np.argwhere(self.passable)
            cell = tuple(idx[np.argmin(np.hypot(idx[:, 0] - cell[0], idx[:, 1] - cell[1]))])
        self.pose = self.xy(cell)
        self.known = np.zeros_like(self.occ, dtype=np.int8)  # 0 unknown, 1 free, 2 occupied
        self.steps = 0
        self.distance = 0.0
        self.collisions = 0
        self.places: list[Place] = []
        self.place_edges: set[tuple[int, int]] = set()
        self._last_place: int | None = None
        self.visit_grid = np.zeros_like(self.occ, dtype=np.int32)
        self.last_scan = self.scan()
        self._update_places()

    @property
    def time(self) -> float:
        return self.steps * self.cfg.dt

    def explored_area(self) -> float:
        return float((self.known == 1).sum()) * self.cfg.resolution**2

    def coverage(self) -> float:
        return self.explored_area() / max(self.free_area_total, 1e-9)

    def at_goal(self, goal: tuple[float, float] | None = None) -> bool:
        g = goal if goal is not None else self.world.goal
        return math.hypot(g[0] - self.pose[0], g[1] - self.pose[1]) <= self.cfg.goal_tolerance

    # -- sensing --------------------------------------------------------------------------------------
    def scan(self) -> np.ndarray:
        """Cast rays from the pose, update the known grid, return ranges (``range_max`` = no return)."""
        c = self.cfg
        px, py = self.pose
        pts = np.array([px, py]) + self._dirs[:, None, :] * self._samples[None, :, None]  # (B, S, 2)
        col = ((pts[..., 0] - self.ox) / c.resolution).astype(int)
        row = ((pts[..., 1] - self.oy) / c.resolution).astype(int)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        colc, rowc = np.clip(col, 0, self.nx - 1), np.clip(row, 0, self.ny - 1)
        hit = self.occ[rowc, colc] | ~inside
        first = np.where(hit.any(1), hit.argmax(1), hit.shape[1])
        ranges = np.where(first < hit.shape[1], self._samples[np.minimum(first, len(self._samples) - 1)], c.range_max)
        seen = np.arange(hit.shape[1])[None, :] < first[:, None]
        self.known[rowc[seen & inside], colc[seen & inside]] = 1
        b = np.nonzero(first < hit.shape[1])[0]
        hr, hc = rowc[b, first[b]], colc[b, first[b]]
        ok = inside[b, first[b]]
        self.known[hr[ok], hc[ok]] = 2
        return ranges

    # -- mapper abstraction ---------------------------------------------------------------------------
    def _los(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        n = max(2, int(math.hypot(b[0] - a[0], b[1] - a[1]) / (self.cfg.resolution * 0.5)))
        for t in np.linspace(0, 1, n):
            cell = self.cell(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
            if self.known[cell] != 1 or not self.passable[cell]:
                return False
        return True

    def _update_places(self) -> None:
        from toponav.models.rnd import scan_descriptor

        x, y = self.pose
        self.visit_grid[self.cell(x, y)] += 1
        if self.places:
            d = [math.hypot(p.x - x, p.y - y) for p in self.places]
            i = int(np.argmin(d))
        else:
            d, i = [math.inf], -1
        if min(d) > self.cfg.node_spacing:
            p = Place(f"p{len(self.places)}", x, y, visits=1,
                      descriptor=scan_descriptor(self.last_scan, self.cfg.range_max))
            self.places.append(p)
            i = len(self.places) - 1
            for j, q in enumerate(self.places[:-1]):
                if j == self._last_place or (math.hypot(q.x - x, q.y - y) <= 2.0 * self.cfg.node_spacing
                                             and self._los((q.x, q.y), (x, y))):
                    self.place_edges.add((min(i, j), max(i, j)))
        elif i != self._last_place:
            self.places[i].visits += 1
            if self._last_place is not None:
                self.place_edges.add((min(i, self._last_place), max(i, self._last_place)))
        self._last_place = i

    def frontier_cells(self) -> np.ndarray:
        free = (self.known == 1) & self.passable
        unknown = self.known == 0
        nb_unknown = np.zeros_like(unknown)
        nb_unknown[1:, :] |= unknown[:-1, :]
        nb_unknown[:-1, :] |= unknown[1:, :]
        nb_unknown[:, 1:] |= unknown[:, :-1]
        nb_unknown[:, :-1] |= unknown[:, 1:]
        return free & nb_unknown

    def graph(self) -> PlaceGraph:
        """The current topological map, as the planner sees it from /topo_graph."""
        g = PlaceGraph()
        for p in self.places:
            g.add_node(Place(p.id, p.x, p.y, p.visits, False, 0.0, p.descriptor))
        for a, b in self.place_edges:
            g.add_edge(self.places[a].id, self.places[b].id)
        reach = self._distance_field(self.cell(*self.pose))
        labels, n = ndimage.label(self.frontier_cells() & (reach >= 0), structure=np.ones((3, 3)))
        if n:
            idx = np.argwhere(labels > 0)
            lab = labels[idx[:, 0], idx[:, 1]]
            for k in range(1, n + 1):
                cells = idx[lab == k]
                if len(cells) < self.cfg.frontier_min_cells:
                    continue
                centre = cells.mean(0)
                rep = cells[np.argmin(np.hypot(cells[:, 0] - centre[0], cells[:, 1] - centre[1]))]
                fx, fy = self.xy((int(rep[0]), int(rep[1])))
                fid = f"f{int(rep[0])}_{int(rep[1])}"
                g.add_node(Place(fid, fx, fy, 0, True, len(cells) * self.cfg.resolution))
                # Join to the nearest place in line of sight (else the nearest place).
                order = sorted(self.places, key=lambda p: math.hypot(p.x - fx, p.y - fy))
                anchor = next((p for p in order[:5] if self._los((p.x, p.y), (fx, fy))), order[0])
                g.add_edge(fid, anchor.id)
        g.explored_area = self.explored_area()
        return g

    # -- motion ---------------------------------------------------------------------------------------
    def _distance_field(self, start: tuple[int, int]) -> np.ndarray:
        """8-connected breadth-first step counts through known traversable cells (-1 = unreachable)."""
        ok = (self.known == 1) & self.passable
        ok[start] = True
        steps = grid_graph(ok.shape, 1.0, STEPS).distances(ok, start)
        return np.where(np.isfinite(steps), steps, -1).astype(np.int32)

    def plan(self, x: float, y: float) -> list[tuple[float, float]]:
        """Cell path (as xy) to the reachable known cell nearest (x, y); [] when nothing is reachable."""
        start = self.cell(*self.pose)
        dist = self._distance_field(start)
        target = self.cell(x, y)
        if dist[target] < 0:
            idx = np.argwhere(dist >= 0)
            if len(idx) == 0:
                return []
            target = tuple(idx[np.argmin(np.hypot(idx[:, 0] - target[0], idx[:, 1] - target[1]))])
        cells = [target]
        while dist[cells[-1]] > 0:
            r, c = cells[-1]
            d = dist[r, c]
            for dr, dc in _NB8:
                rr, cc = r + dr, c + dc
                if 0 <= rr < self.ny and 0 <= cc < self.nx and dist[rr, cc] == d - 1:
                    cells.append((rr, cc))
                    break
            else:  # cannot happen for a BFS field; guard against an infinite loop
                break
        return [self.xy(cell) for cell in reversed(cells)]

    def go_to(self, x: float, y: float, max_steps: int, max_distance: float = math.inf) -> bool:
        """Follow the planned path toward (x, y); stop at the target, the step budget or ``max_distance``.

        Returns True when the robot ends within one cell of the chosen target cell.
        """
        path = self.plan(x, y)
        if len(path) < 2:
            return len(path) == 1
        step_len = self.cfg.speed * self.cfg.dt
        travelled = since_scan = 0.0
        for a, b in itertools.pairwise(path):
            seg = math.hypot(b[0] - a[0], b[1] - a[1])
            steps = max(1, round(seg / step_len))
            if self.steps + steps > max_steps or travelled + seg > max_distance + 1e-9:
                return False
            if self.known[self.cell(*b)] == 2 or not self.passable[self.cell(*b)]:
                return False
            self.steps += steps
            self.pose = b
            travelled += seg
            self.distance += seg
            since_scan += seg
            if since_scan >= self.cfg.scan_every:
                since_scan = 0.0
                self.last_scan = self.scan()
                self._update_places()
        self.last_scan = self.scan()
        self._update_places()
        return True

    def primitive(self, action: int) -> bool:
        """Flat-baseline move: heading ``action * 45 deg``, ``primitive_step`` metres. Returns False if blocked."""
        c = self.cfg
        ang = action * math.pi / 4
        steps = max(1, round(c.primitive_step / (c.speed * c.dt)))
        self.steps += steps
        x0, y0 = self.pose
        n = max(2, int(c.primitive_step / (c.resolution * 0.5)))
        ok = True
        for t in np.linspace(0, 1, n)[1:]:
            cell = self.cell(x0 + t * c.primitive_step * math.cos(ang), y0 + t * c.primitive_step * math.sin(ang))
            if not self.passable[cell]:
                ok = False
                break
        if ok:
            self.pose = (x0 + c.primitive_step * math.cos(ang), y0 + c.primitive_step * math.sin(ang))
            self.distance += c.primitive_step
        else:
            self.collisions += 1
        self.last_scan = self.scan()
        self._update_places()
        return ok

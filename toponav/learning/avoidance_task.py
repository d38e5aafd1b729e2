"""The env that trained ``models/checkpoints/avoidance_policy.pt``: sub-goal reaching in the vectorised twin.

``toponav train policy`` (:mod:`toponav.experiments.train_policy`) runs PPO on :class:`AvoidanceTask` over the
curriculum stages of :func:`make_stage`; :mod:`toponav.learning.avoidance_eval` measures the result for the
model card. The policy observes exactly what it gets on the robot: :func:`toponav.control.observation.build_observation`
on the cleaned scan, the sub-goal and the twin's velocity; commands pass through the robot's safety layer
(:class:`toponav.control.safety.SafetyLayer`), and the twin applies the velocity and acceleration limits.

Each of N robots gets a world from the current curriculum stage, a start pose and a target:

* ``local`` episodes: random start anywhere in the start's free component, sub-goal 1-5 m away in the
  same component (what the sub-goal planner asks of the low level);
* ``route`` episodes: the world's own start and goal (BARN: 10 m through the field), the goal observed
  as the sub-goal;
* ``carrot`` episodes: the same route, but the policy observes what the robot stack gives it there: a
  carrot sub-goal 2 m along a path planned on the lidar hits seen so far
  (:class:`toponav.control.carrot.ScanCarrot`, the sub-goal source of ``toponav bench barn``), which jumps
  as new obstacles come into view. Rewards still follow the route to the goal.

A stage's ``mode`` is one episode kind or a mix (:data:`EPISODE_MIX`).

``step`` takes the (v, ω) the policy proposes, passes it through the same safety layer the robot runs
(optional), steps the twin and returns observation, reward, done flags and per-env info. Rewards:

* ``sparse``: +1 on reaching the sub-goal, -``collision_penalty`` on a collision (episode ends);
* ``carl``: CaRL-style route completion: progress along the *geodesic* distance to the target (m,
  computed on the world's free space for the robot's disc, as a route would be) × soft penalty factors
  in (0, 1] (the safety layer had to intervene, low clearance); the episode ends on a collision (plus
  the penalty). The geodesic field is privileged training information only: the policy observes the
  lidar and the straight-line sub-goal, so it learns which gaps lead somewhere instead of being paid for
  pushing straight at a wall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from toponav.control.carrot import ScanCarrot
from toponav.control.config import ObservationConfig, SafetyConfig
from toponav.control.observation import build_observation
from toponav.control.safety import CLEAR, SafetyLayer
from toponav.control.scan import clean_scan
from toponav.geometry import wrap_angle
from toponav.grid_graph import grid_graph
from toponav.robot import AgvParams, LidarParams
from toponav.sim.twin import VecAgvTwin
from toponav.worlds import World, barn_train_indices, make_world, train_seeds


@dataclass
class TaskConfig:
    reward: str = "carl"  # "sparse" | "carl"
    collision_penalty: float = 0.5
    reach_bonus: float = 0.5
    safety_in_loop: bool = True
    safety_factor: float = 0.5  # CaRL factor when the safety layer changed the command
    safety_penalty: float = 0.0  # subtracted per step the safety layer changed the command (being held is not free)
    action_delay_prob: float = 0.0  # share of episodes whose commands act one step late (a real base lags ~0.1 s)
    clearance_soft: float = 0.25  # CaRL clearance factor ramps from 0.5 (touching) to 1 at this clearance (m)
    goal_tolerance: float = 0.3
    min_subgoal: float = 1.0
    max_subgoal: float = 5.0
    time_base: float = 5.0  # episode limit = time_base + time_per_m * initial distance (s)
    time_per_m: float = 3.0


def occupancy(world: World, inflate: float, resolution: float = 0.1) -> tuple[np.ndarray, tuple[float, float]]:
    """Same grid as :meth:`World.occupancy`, rasterised per circle (fast for BARN/forest; boxes use the world's)."""
    if len(world.boxes):
        return world.occupancy(resolution, inflate)
    xmin, ymin, xmax, ymax = world.bounds
    nx = max(1, math.ceil((xmax - xmin) / resolution))
    ny = max(1, math.ceil((ymax - ymin) / resolution))
    xs = xmin + (np.arange(nx) + 0.5) * resolution
    ys = ymin + (np.arange(ny) + 0.5) * resolution
    occ = np.zeros((ny, nx), dtype=bool)
    occ[:, xs - xmin <= inflate] = True
    occ[:, xmax - xs <= inflate] = True
    occ[ys - ymin <= inflate, :] = True
    occ[ymax - ys <= inflate, :] = True
    for cx, cy, r in world.circle_array():
        reach = r + inflate
        c0, c1 = np.searchsorted(xs, [cx - reach, cx + reach])
        r0, r1 = np.searchsorted(ys, [cy - reach, cy + reach])
        if c0 >= c1 or r0 >= r1:
            continue
        gx, gy = np.meshgrid(xs[c0:c1], ys[r0:r1])
        occ[r0:r1, c0:c1] |= np.hypot(gx - cx, gy - cy) <= reach
    return occ, (xmin, ymin)


class FreeSpace:
    """Cells a disc of the robot's radius (+ margin) can occupy, connected to the world's start."""

    def __init__(self, world: World, radius: float, margin: float = 0.1, resolution: float = 0.1) -> None:
        occ, _ = occupancy(world, radius + margin, resolution)
        labels, _ = ndimage.label(~occ)
        r0 = min(max(int((world.start[1] - world.bounds[1]) / resolution), 0), occ.shape[0] - 1)
        c0 = min(max(int((world.start[0] - world.bounds[0]) / resolution), 0), occ.shape[1] - 1)
        start_label = int(labels[r0, c0])
        if start_label == 0:  # start itself too tight for the margin: use every free cell
            rows, cols = np.nonzero(labels > 0)
        else:
            rows, cols = np.nonzero(labels == start_label)
        xmin, ymin = world.bounds[0], world.bounds[1]
        self.xy = np.stack([xmin + (cols + 0.5) * resolution, ymin + (rows + 0.5) * resolution], axis=1)
        circles = world.circle_array()
        if len(circles) and not len(world.boxes):
            # obstacle fields inside big open bounds (BARN): practise where the obstacles are
            lo, hi = circles[:, :2].min(0) - 1.0, circles[:, :2].max(0) + 1.0
            inside = np.all((self.xy >= lo) & (self.xy <= hi), axis=1)
            if inside.sum() > 10:
                self.xy = self.xy[inside]
        if not len(self.xy):
            self.xy = np.asarray([world.start[:2]], dtype=np.float64)

    def sample_pair(self, rng: np.random.Generator, dmin: float, dmax: float) -> tuple[np.ndarray, np.ndarray]:
        start = self.xy[rng.integers(len(self.xy))]
        cand = self.xy[rng.integers(len(self.xy), size=256)]
        d = np.hypot(*(cand - start).T)
        ok = np.nonzero((d >= dmin) & (d <= dmax))[0]
        if len(ok):
            return start, cand[ok[0]]
        return start, cand[np.argmin(np.abs(d - dmin))]


class GeoField:
    """Geodesic (shortest free path) distance to a goal over a grid of the disc robot's free space."""

    def __init__(self, world: World, radius: float, resolution: float = 0.1) -> None:
        occ, origin = occupancy(world, radius + 0.02, resolution)
        self.free = ~occ
        self.origin = np.asarray(origin, dtype=np.float64)
        self.res = resolution
        self._csr = None
        # every occupied cell points at its nearest free cell (robot poses near obstacles still get a value)
        if occ.any() and self.free.any():
            _, (self.near_r, self.near_c) = ndimage.distance_transform_edt(occ, return_indices=True)
        else:
            self.near_r, self.near_c = np.indices(occ.shape)

    def cell(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy = np.atleast_2d(xy)
        c = np.clip(((xy[:, 0] - self.origin[0]) / self.res).astype(int), 0, self.free.shape[1] - 1)
        r = np.clip(((xy[:, 1] - self.origin[1]) / self.res).astype(int), 0, self.free.shape[0] - 1)
        return self.near_r[r, c], self.near_c[r, c]

    def _graph(self):
        """The grid graph over this world's free cells (built once per world)."""
        if self._csr is None:
            self._csr = grid_graph(self.free.shape, self.res).graph(self.free)
        return self._csr

    def field(self, goal: np.ndarray, limit: float = np.inf) -> np.ndarray:
        """(H, W) metres to ``goal`` along free cells (8-connected Dijkstra), inf where unreachable/beyond limit."""
        r, c = self.cell(np.asarray(goal, dtype=np.float64))
        return grid_graph(self.free.shape, self.res).distances(self.free, (r[0], c[0]), limit, self._graph())

    def lookup(self, field: np.ndarray, xy: np.ndarray) -> np.ndarray:
        r, c = self.cell(xy)
        return field[r, c]


def robot_polar(pose: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N, 2) targets in the frames of N robots at ``pose`` (N, 3): (distance, bearing), the policy's sub-goal input."""
    dx, dy = (targets - pose[:, :2]).T
    return np.stack([np.hypot(dx, dy), wrap_angle(np.arctan2(dy, dx) - pose[:, 2])], axis=1)


@dataclass
class Stage:
    """One curriculum stage: which worlds, and which episode kinds (a key of :data:`EPISODE_MIX`)."""

    name: str
    worlds: list[World]
    mode: str  # "local" | "route" | "carrot" | "mixed" | "hier"

    def __post_init__(self) -> None:
        if self.mode not in EPISODE_MIX:
            raise ValueError(f"stage mode must be one of {sorted(EPISODE_MIX)}, got {self.mode!r}")


#: Share of each episode kind per stage mode.
EPISODE_MIX: dict[str, dict[str, float]] = {
    "local": {"local": 1.0},
    "route": {"route": 1.0},
    "carrot": {"carrot": 1.0},
    "mixed": {"route": 0.5, "local": 0.5},
    # the hierarchy as deployed (carrots) most of the time, without forgetting local sub-goals and full routes
    "hier": {"local": 0.25, "route": 0.25, "carrot": 0.5},
}


class AvoidanceTask:
    """N robots in the twin, each running episodes of the current stage."""

    def __init__(self, stage: Stage, num_envs: int, cfg: TaskConfig, obs_cfg: ObservationConfig,
                 robot: AgvParams | None = None, lidar: LidarParams | None = None,
                 safety: SafetyConfig | None = None, dt: float = 0.1, seed: int = 0) -> None:
        self.cfg = cfg
        self.obs_cfg = obs_cfg
        self.robot = robot or AgvParams()
        self.lidar = lidar or LidarParams()
        self.dt = dt
        self.num_envs = num_envs
        self.rng = np.random.default_rng(seed)
        self.safety = SafetyLayer(safety or SafetyConfig(), self.robot.radius, self.robot.max_w)
        self.angles = np.asarray(self.lidar.angles(), dtype=np.float64)
        self._free: dict[int, FreeSpace] = {}
        self._geo: dict[int, GeoField] = {}
        self._route_fields: dict[int, np.ndarray] = {}
        self.twin: VecAgvTwin | None = None
        self.set_stage(stage)

    # -- episodes -----------------------------------------------------------------------------------
    def set_stage(self, stage: Stage) -> None:
        self.stage = stage
        self.twin = VecAgvTwin(stage.worlds, self.num_envs, self.robot, self.lidar, self.dt,
                               seed=int(self.rng.integers(2**31)))
        self._free, self._geo, self._route_fields = {}, {}, {}
        n = self.num_envs
        self.fields: list[np.ndarray | None] = [None] * n
        self.prev_geo = np.zeros(n)
        self.target = np.zeros((n, 2))
        self.d0 = np.ones(n)
        self.prev_dist = np.ones(n)
        self.steps = np.zeros(n, dtype=np.int64)
        self.limit = np.ones(n, dtype=np.int64)
        self.route = np.zeros(n, dtype=bool)
        self.subgoal = np.zeros((n, 2))  # what the policy observes: the target, or the carrot toward it
        self.carrots: list[ScanCarrot | None] = [None] * n
        self.ep_return = np.zeros(n)
        self.ep_safety = np.zeros(n)
        self.delayed = np.zeros(n, dtype=bool)
        self.pending = np.zeros((n, 2))
        self.reset_envs(np.arange(n))

    def _free_space(self, wi: int) -> FreeSpace:
        if wi not in self._free:
            self._free[wi] = FreeSpace(self.stage.worlds[wi], self.robot.radius)
        return self._free[wi]

    def _geo_field(self, wi: int) -> GeoField:
        if wi not in self._geo:
            self._geo[wi] = GeoField(self.stage.worlds[wi], self.robot.radius)
        return self._geo[wi]

    def _geodesic(self, ids: np.ndarray) -> np.ndarray:
        """Geodesic distance of robots ``ids`` to their targets (Euclidean where no field/unreachable)."""
        out = np.hypot(*(self.target[ids] - self.twin.pose[ids, :2]).T)
        for k, i in enumerate(ids):
            f = self.fields[i]
            if f is not None:
                g = float(self._geo_field(int(self.twin.world_index[i])).lookup(f, self.twin.pose[i, :2])[0])
                if math.isfinite(g):
                    out[k] = g
        return out

    def reset_envs(self, ids: Sequence[int] | np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        tw = self.twin
        wi = tw.world_index.copy()
        wi[ids] = self.rng.integers(len(self.stage.worlds), size=len(ids))
        tw.set_world_index(wi)
        poses = np.zeros((len(ids), 3))
        mix = EPISODE_MIX[self.stage.mode]
        kinds, edges = list(mix), np.cumsum(list(mix.values()))
        for k, i in enumerate(ids):
            world = self.stage.worlds[wi[i]]
            # one uniform draw per episode, none for single-kind stages (keeps earlier runs reproducible)
            kind = kinds[0] if len(kinds) == 1 else kinds[min(int(np.searchsorted(edges, self.rng.random(),
                                                                                  side="right")), len(kinds) - 1)]
            self.route[i] = kind in ("route", "carrot")
            self.carrots[i] = ScanCarrot(world.bounds, world.goal, self.robot.radius) if kind == "carrot" else None
            if self.route[i]:
                poses[k] = world.start
                self.target[i] = world.goal
            else:
                start, goal = self._free_space(int(wi[i])).sample_pair(
                    self.rng, self.cfg.min_subgoal, self.cfg.max_subgoal)
                poses[k] = (start[0], start[1], self.rng.uniform(-math.pi, math.pi))
                self.target[i] = goal
        tw.reset(ids, poses)
        self.subgoal[ids] = self.target[ids]
        if self.cfg.reward == "carl":
            for i in ids:
                wi_i = int(wi[i])
                if self.route[i]:
                    if wi_i not in self._route_fields:
                        self._route_fields[wi_i] = self._geo_field(wi_i).field(self.target[i])
                    self.fields[i] = self._route_fields[wi_i]
                else:
                    # local sub-goals are 1-5 m away: paths longer than this are not worth computing
                    self.fields[i] = self._geo_field(wi_i).field(self.target[i], limit=4.0 * self.cfg.max_subgoal)
            self.prev_geo[ids] = self._geodesic(ids)
        d = np.hypot(*(self.target[ids] - tw.pose[ids, :2]).T)
        self.d0[ids] = np.maximum(d, 1e-3)
        self.prev_dist[ids] = d
        self.steps[ids] = 0
        self.limit[ids] = np.ceil((self.cfg.time_base + self.cfg.time_per_m * d) / self.dt).astype(np.int64)
        self.ep_return[ids] = 0.0
        self.ep_safety[ids] = 0.0
        self.delayed[ids] = self.rng.random(len(ids)) < self.cfg.action_delay_prob
        self.pending[ids] = 0.0

    # -- observation --------------------------------------------------------------------------------
    def subgoal_polar(self) -> np.ndarray:
        """The observed sub-goal (target or carrot) in each robot's frame: (distance, bearing)."""
        return robot_polar(self.twin.pose, self.subgoal)

    def observe(self) -> np.ndarray:
        """Observation of every robot; carrot episodes first add this scan to their map and move the carrot."""
        ranges = clean_scan(self.twin.scan(), self.lidar.range_max).ranges
        pose = self.twin.pose
        for i, carrot in enumerate(self.carrots):
            if carrot is not None:
                self.subgoal[i] = carrot.update(pose[i], ranges[i], self.angles, self.lidar.range_max)
        return build_observation(self.obs_cfg, self.robot, ranges, self.angles, self.subgoal_polar(), self.twin.vel)

    # -- step ---------------------------------------------------------------------------------------
    def step(self, cmd: np.ndarray):
        """Returns obs (after auto-reset), reward, done, info dict of arrays for the finished episodes."""
        cfg = self.cfg
        tw = self.twin
        cmd = np.asarray(cmd, dtype=np.float64)
        intervened = np.zeros(self.num_envs, dtype=bool)
        if cfg.safety_in_loop:
            scan = clean_scan(tw.scan(), self.lidar.range_max)
            res = self.safety.filter(cmd, scan.ranges, self.angles, scan.valid, None, self.lidar.range_max)
            intervened = res.mode != CLEAR
            cmd = res.cmd
        if cfg.action_delay_prob > 0:  # delayed robots execute the previous step's (filtered) command
            cmd, self.pending = np.where(self.delayed[:, None], self.pending, cmd), cmd
        out = tw.step(cmd)
        self.steps += 1
        dist = np.hypot(*(self.target - out.pose[:, :2]).T)
        progress = self.prev_dist - dist
        self.prev_dist = dist
        reached = dist <= cfg.goal_tolerance
        collided = out.collided.copy()
        timeout = self.steps >= self.limit
        if cfg.reward == "carl":
            geo = self._geodesic(np.arange(self.num_envs))
            # route completion along the geodesic; clipped so a grid-cell jump is never a windfall
            progress = np.clip(self.prev_geo - geo, -0.3, 0.3)
            self.prev_geo = geo
            clearance = tw.clearance() - self.robot.radius
            f_clear = 0.5 + 0.5 * np.clip(clearance / max(cfg.clearance_soft, 1e-6), 0.0, 1.0)
            f_safe = np.where(intervened, cfg.safety_factor, 1.0)
            reward = progress * f_clear * f_safe + cfg.reach_bonus * reached - cfg.safety_penalty * intervened
        else:
            reward = reached.astype(np.float64)
        reward = reward - cfg.collision_penalty * collided
        done = reached | collided | timeout
        self.ep_return += reward
        self.ep_safety += intervened
        info = {}
        ids = np.nonzero(done)[0]
        if len(ids):
            info = {
                "success": reached[ids], "collision": collided[ids] & ~reached[ids],
                "timeout": timeout[ids] & ~reached[ids] & ~collided[ids], "return": self.ep_return[ids].copy(),
                "length": self.steps[ids].copy(), "route": self.route[ids].copy(),
                "carrot": np.array([self.carrots[i] is not None for i in ids]),
                "safety_rate": self.ep_safety[ids] / np.maximum(self.steps[ids], 1),
            }
            self.reset_envs(ids)
        return self.observe(), reward, done, timeout & ~reached & ~collided, info


# ------------------------------------------------------------------------------------------ curriculum
def make_stage(name: str, forest_worlds: int) -> Stage:
    """World pools per stage: difficulty grows from sparse forests to the full BARN routes.

    ``forest``: ``forest_worlds`` training seeds, local sub-goals; ``barn_easy``: the easier half of the BARN
    training worlds (:func:`barn_difficulty`), local sub-goals; ``barn_all``: every BARN training world, half
    local, half the full route; ``barn_hier``: every BARN training world with the deployed hierarchy's carrots
    most of the time. BARN held-out worlds are never trained on.
    """
    if name == "forest":
        return Stage(name, [make_world("forest", s) for s in train_seeds(forest_worlds)], "local")
    barn = [make_world(f"barn:{i}") for i in barn_train_indices()]
    # difficulty proxy: obstacles near the straight start-goal line (more = harder)
    difficulty = [barn_difficulty(w) for w in barn]
    order = np.argsort(difficulty, kind="stable")
    if name == "barn_easy":
        return Stage(name, [barn[i] for i in order[: len(order) // 2]], "local")
    if name == "barn_all":
        return Stage(name, barn, "mixed")
    if name == "barn_hier":
        return Stage(name, barn, "hier")
    raise SystemExit(f"unknown curriculum stage {name!r}: use forest, barn_easy, barn_all, barn_hier")


def barn_difficulty(world: World) -> float:
    """Mean of 1 / clearance along the reference path (narrow passages dominate)."""
    path = np.asarray(world.reference_path or [world.start[:2], world.goal], dtype=np.float64)
    return float(np.mean(1.0 / np.maximum(world.clearance(path), 0.05)))

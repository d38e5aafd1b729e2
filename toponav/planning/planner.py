"""The sub-goal planner: a small state machine over the topological graph.

States (reported on /toponav/status):

* ``idle``        exploration stopped and no goal;
* ``exploring``   pick frontier / place sub-goals by score (novelty, visits, frontier gain, goal progress
                  when a goal is known but not yet in the map, path cost);
* ``navigating``  a goal (or home, after ``return_home``) lies on the graph: follow the graph path to it;
* ``done``        goal / home reached, or exploration finished (no frontier left);
* ``stuck``       candidates remain only blacklisted or unreachable.

A chosen sub-goal is kept until it is **reached** (robot within ``reach_radius``), becomes
**unreachable** (gone from the graph's reachable set), or goes **stale** (no progress of
``min_progress`` metres toward it for ``stale_timeout`` seconds); then the planner replans.
Unreachable and stale count as failures of that place; after ``max_failures`` the place is
blacklisted for ``blacklist_duration`` seconds (0 = for good) and a log line says so. Places are
keyed by position (``blacklist_resolution`` grid), because frontier ids change as the map grows.

The planner is pure Python + numpy (+ torch for RND / the learned scorer); the ROS node and the fast
exploration environment both drive it through :meth:`SubgoalPlanner.step`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from toponav.config import param
from toponav.planning.boundary import boundary_polygon, inside_polygon
from toponav.planning.candidates import Candidates, GoalDistance, ScoringWeights, build_candidates, distances_to
from toponav.planning.explore_lite import ExploreLiteSettings
from toponav.planning.goal_field import GoalField
from toponav.planning.graph import PlaceGraph
from toponav.planning.scorers import Scorer, make_scorer

Logger = Callable[[str, str], None]  # (level, message)


class State(StrEnum):
    IDLE = "idle"
    EXPLORING = "exploring"
    NAVIGATING = "navigating"
    DONE = "done"
    STUCK = "stuck"


@dataclass
class RNDSettings:
    """Online RND used for candidate novelty (trained on the places the robot stands at)."""

    enabled: bool = param(True, "score candidates with RND novelty")
    lr: float = param(1e-3, "predictor learning rate", min=0.0)
    batch: int = param(32, "observations per predictor step (from a recent-history buffer)", min=1)
    history: int = param(512, "recent observations kept for predictor training", min=1)
    seed: int = param(0, "seed of the random target network")


@dataclass
class GoalFieldSettings:
    """The coarse map the optimistic goal distance runs on (``goal_distance: optimistic``; planning/goal_field.py)."""

    cell: float = param(0.2, "cell size of the field (m); the map's cells are pooled into it", min=0.05, max=2.0)
    inflate: float = param(
        0.0, "known obstacles grow by this (m) in the field. 0: pooling map cells into the coarse cells already joins "
        "the lidar hits along a far wall, and no diagonal step passes between two blocked cells; 0.2 closed the "
        "0.6-0.8 m gaps between desks on the office map, which then timed out (reached with 0)", min=0.0)


@dataclass
class PlannerConfig:
    """All sub-goal planner settings; the ROS node declares them as parameters (nested names)."""

    mode: str = param("heuristic", "sub-goal scorer: heuristic weighted sum, the learned meta-controller, or the "
                      "explore_lite baseline (toponav.planning.explore_lite)",
                      choices=["heuristic", "learned", "explore_lite"])
    checkpoint: str = param("", "meta-controller checkpoint (.pt); empty = the shipped one")
    weights: ScoringWeights = field(default_factory=ScoringWeights)
    rnd: RNDSettings = field(default_factory=RNDSettings)
    explore_lite: ExploreLiteSettings = field(default_factory=ExploreLiteSettings)
    include_places: bool = param(False, "also offer visited places (not only frontiers) as exploration sub-goals")
    reach_radius: float = param(0.6, "sub-goal counts as reached within this distance (m)", min=0.01)
    goal_tolerance: float = param(0.5, "goal counts as reached within this distance (m)", min=0.01)
    goal_node_radius: float = param(2.0, "goal is 'on the graph' when a place lies this close (m)", min=0.0)
    stale_timeout: float = param(
        12.0, "seconds without progress (path length to go) before a sub-goal is given up; below "
        "hodat_controller's progress_timeout so the planner acts first", min=0.1)
    min_progress: float = param(0.3, "metres of progress that reset the stale timer", min=0.0)
    goal_direct_radius: float = param(4.0, "try the straight leg to the goal from a place this close (m) when no "
                                      "frontier is closer to the goal", min=0.0)
    goal_distance: str = param(
        "optimistic", "how a goal beyond the map pulls candidates: 'optimistic' = path length through every cell "
        "of /map not known to be blocked (toponav.planning.goal_field; known walls count, unknown space does "
        "not), 'straight' = straight line. Without a /map the straight line is used",
        choices=["optimistic", "straight"])
    goal_field: GoalFieldSettings = field(default_factory=GoalFieldSettings)
    explore_while_blocked: bool = param(
        True, "while the straight leg to the goal is blacklisted, score frontiers as plain exploration (no pull "
              "toward the goal): in a maze the straight-line pull keeps the robot at frontiers beside the goal's "
              "wall, and the way round starts far from it")
    goal_retry: float = param(30.0, "seconds a failed goal point stays blacklisted (the map keeps growing); "
                              "doubles with each new blacklisting of the same point",
                              min=0.0)
    max_failures: int = param(2, "failures (unreachable/stale) before a place is blacklisted", min=1)
    goal_max_failures: int = param(
        1, "failures of the straight leg to the goal point before it is put aside (for goal_retry s, doubling): "
        "the leg is only offered from the place nearest the goal, so a second try repeats the first over the "
        "same map; in mazes it cost 12 s of stalling plus the drive back each time (held-out maze 1000001: 93 s "
        "circling in the room beside the goal's wall)", min=1)
    blacklist_duration: float = param(0.0, "seconds a place stays blacklisted (0 = for good)", min=0.0)
    blacklist_resolution: float = param(1.0, "grid (m) on which places are keyed for failures", min=0.01)
    switch_margin: float = param(0.0, "switch to a candidate scoring this much above the current target while "
                                 "travelling (0 = keep the sub-goal until reached/closed/failed)", min=0.0)
    lookahead: float = param(2.0, "publish the farthest path point within this path length (m)", min=0.0)
    corner_angle: float = param(
        50.0, "the lookahead stops at a path corner turning more than this (deg) that lies beyond corner_skip: a "
        "sub-goal past a door frame, shelf end or tree is behind it as seen from the robot (DWA turned in place "
        "at one for 200 s in maze 1000002); measured against 180 (= never stop at corners) in docs/planning.md: "
        "fewer collisions in forests, one training maze fewer reached", min=0.0, max=180.0)
    corner_skip: float = param(0.5, "corners closer than this along the path (m) do not stop the lookahead (the "
                               "robot is at them; a sub-goal that close reads as reached)", min=0.0)
    explore_on_start: bool = param(True, "start exploring as soon as a graph arrives")
    boundary: list[float] = param(  # noqa: RUF009
        [], "exploration boundary in the graph frame, as frontier_exploration's polygon: [xmin, ymin, xmax, ymax] "
        "or a polygon [x0, y0, x1, y1, ...] (>= 3 points); frontiers outside it (or closer than boundary_margin "
        "to its edge) are no sub-goals. Empty = unbounded; the sim's /world_info bounds fill it in simulation")
    boundary_margin: float = param(0.3, "frontiers closer than this to the boundary's edge count as outside (m)",
                                   min=0.0)


@dataclass
class SubgoalDecision:
    """What the planner chose this step (sub-goal, path, target) and why; the controller's own step result is
    :class:`toponav.control.hodat.ControlDecision`."""

    state: State
    subgoal: tuple[float, float] | None = None
    path: list[tuple[float, float]] = field(default_factory=list)
    target: str | None = None
    reason: str = ""
    replanned: bool = False


@dataclass
class _Target:
    id: str
    x: float
    y: float
    frontier: bool
    since: float
    best_dist: float
    last_progress: float
    kind: str  # "explore" | "goal" | "home"
    nav: bool = False  # True: the destination itself is on the graph (navigating), else exploring toward it
    fixed: bool = False  # True: (x, y) is the goal point itself (last leg), not a node position


class SubgoalPlanner:
    def __init__(self, cfg: PlannerConfig | None = None, log: Logger | None = None,
                 scorer: Scorer | None = None) -> None:
        self.cfg = cfg or PlannerConfig()
        self._log = log or (lambda level, msg: None)
        self.scorer, self.mode = (scorer, getattr(scorer, "name", "custom")) if scorer is not None \
            else make_scorer(self.cfg, self._log)
        self.graph: PlaceGraph | None = None
        self.pose: tuple[float, float, float] | None = None
        self.home: tuple[float, float] | None = None
        self.goal: tuple[float, float] | None = None
        self.exploring = self.cfg.explore_on_start
        self.returning_home = False
        self.state = State.IDLE
        self.target: _Target | None = None
        self.failures: dict[tuple[int, int], int] = {}
        self.blacklist: dict[tuple[int, int], float] = {}  # key -> time blacklisted
        self._blacklist_for: dict[tuple[int, int], float] = {}  # key -> blacklist duration (0 = for good)
        self._goal_blacklists: dict[tuple[int, int], int] = {}  # goal-point key -> times blacklisted so far
        self.last = SubgoalDecision(State.IDLE, reason="waiting for graph and odometry")
        self.replans = 0
        self._rnd = None
        self._history: deque[np.ndarray] = deque(maxlen=self.cfg.rnd.history)
        self._novelty_cache: dict[str, float] | None = None
        self._boundary = boundary_polygon(self.cfg.boundary)
        # the planner's own generator (not the global np.random): the same seed gives the same RND batches,
        # hence the same novelty and the same sub-goals, whatever else in the process draws random numbers
        self._rng = np.random.default_rng(self.cfg.rnd.seed)
        self._map: tuple[np.ndarray, tuple[float, float], float] | None = None  # (values, origin, resolution)
        self._field = GoalField(self.cfg.goal_field.cell, self.cfg.goal_field.inflate)
        self._field_for: tuple | None = None  # (map version, goal, boundary, cell, inflate) of the field
        self._map_version = 0
        if self.cfg.rnd.enabled:
            from toponav.models.rnd import FEATURE_DIM, RND, RNDConfig

            self._rnd = RND(FEATURE_DIM, RNDConfig(lr=self.cfg.rnd.lr, warmup_samples=16), seed=self.cfg.rnd.seed)

    # -- inputs -----------------------------------------------------------------------------------------
    def set_graph(self, graph: PlaceGraph) -> None:
        self.graph = graph

    def set_map(self, values: np.ndarray, origin: tuple[float, float], resolution: float) -> None:
        """The mapper's occupancy grid (ROS values: -1 unknown, 0 free, 100 occupied; row 0 = lowest y), used
        for the optimistic goal distance (``goal_distance``)."""
        v = np.asarray(values)
        if v.ndim != 2 or v.size == 0 or not resolution > 0:
            raise ValueError(f"map must be a non-empty 2-D grid with resolution > 0, got shape {v.shape}, "
                             f"resolution {resolution}")
        self._map = (v, (float(origin[0]), float(origin[1])), float(resolution))
        self._map_version += 1

    def goal_distance(self, dest: tuple[float, float] | None) -> GoalDistance | None:
        """Distance-to-``dest`` function for candidate scoring: the optimistic field over the latest map
        (recomputed when the map, the destination or the boundary changed), or None for the straight line."""
        if dest is None or self._map is None or self.cfg.goal_distance != "optimistic":
            return None
        fc = self.cfg.goal_field
        key = (self._map_version, (float(dest[0]), float(dest[1])), tuple(self.cfg.boundary), fc.cell, fc.inflate)
        if key != self._field_for:
            if (self._field.cell, self._field.inflate) != (fc.cell, fc.inflate):
                self._field = GoalField(fc.cell, fc.inflate)
            values, origin, res = self._map
            self._field.update(values, origin, res, dest, self._boundary, extra=self.pose[:2] if self.pose else None)
            self._field_for = key
        return self._field.distance if self._field.dist is not None else None

    def set_pose(self, x: float, y: float, yaw: float = 0.0) -> bool:
        if not all(math.isfinite(v) for v in (x, y, yaw)):
            self._log("warn", f"ignoring non-finite pose ({x}, {y}, {yaw})")
            return False
        self.pose = (float(x), float(y), float(yaw))
        if self.home is None:
            self.home = (float(x), float(y))
        return True

    def set_goal(self, x: float, y: float) -> bool:
        if not (math.isfinite(x) and math.isfinite(y)):
            self._log("warn", f"ignoring non-finite goal ({x}, {y})")
            return False
        self.goal = (float(x), float(y))
        self.returning_home = False
        self.target = None  # replan toward the new goal
        self._log("info", f"new goal ({x:.2f}, {y:.2f})")
        return True

    def clear_goal(self) -> None:
        self.goal = None
        self.target = None

    def set_exploring(self, on: bool) -> None:
        self.exploring = bool(on)
        if on:
            self.returning_home = False
            if self.state in (State.DONE, State.STUCK):
                self.state = State.IDLE
        if not on and self.target is not None and self.target.kind == "explore":
            self.target = None
        self._log("info", f"exploration {'started' if on else 'stopped'}")

    def return_home(self) -> bool:
        if self.home is None:
            return False
        self.returning_home = True
        self.goal = None
        self.target = None
        self._log("info", f"returning home to ({self.home[0]:.2f}, {self.home[1]:.2f})")
        return True

    # -- blacklist --------------------------------------------------------------------------------------
    def _key(self, x: float, y: float) -> tuple[int, int]:
        r = self.cfg.blacklist_resolution
        return (math.floor(x / r), math.floor(y / r))

    def is_blacklisted(self, x: float, y: float, now: float) -> bool:
        key = self._key(x, y)
        since = self.blacklist.get(key)
        if since is None:
            return False
        duration = self._blacklist_for.get(key, self.cfg.blacklist_duration)
        if duration > 0 and now - since > duration:
            del self.blacklist[key]
            self._blacklist_for.pop(key, None)
            self.failures.pop(key, None)
            return False
        return True

    def _fail(self, why: str, now: float) -> None:
        t = self.target
        assert t is not None
        key = self._key(t.x, t.y)
        self.failures[key] = self.failures.get(key, 0) + 1
        n = self.failures[key]
        limit = self.cfg.goal_max_failures if t.fixed else self.cfg.max_failures
        if n >= limit and key not in self.blacklist:
            # Goal points are only put aside for goal_retry seconds: the goal itself must stay reachable later.
            # Each new blacklisting of the same goal point doubles the wait (30, 60, 120 s...): in a maze the
            # straight leg from the place nearest the goal runs into a wall every time, and retrying it every
            # 30 s with 24 s of stalling each time took the robot's whole budget (issue 14, maze 1000001).
            if t.fixed:
                n_before = self._goal_blacklists.get(key, 0)
                self._goal_blacklists[key] = n_before + 1
                duration = self.cfg.goal_retry * 2.0**n_before
            else:
                duration = self.cfg.blacklist_duration
            self.blacklist[key] = now
            self._blacklist_for[key] = duration
            span = "for good" if duration <= 0 else f"for {duration:.0f} s"
            self._log("warn", f"blacklisting sub-goal {t.id} at ({t.x:.2f}, {t.y:.2f}) {span}: "
                              f"failed {n} times (last: {why})")
        else:
            self._log("info", f"sub-goal {t.id} at ({t.x:.2f}, {t.y:.2f}) failed ({why}), {n}/{limit}")
        self.target = None

    def report_failure(self, why: str, now: float) -> None:
        """The low-level layer gave up on the current sub-goal (counts toward blacklisting, then replans)."""
        if self.target is not None:
            self._fail(why, now)

    # -- novelty ----------------------------------------------------------------------------------------
    def _observe_rnd(self, current: str) -> None:
        if self._rnd is None or self.graph is None or self.pose is None:
            return
        from toponav.models.rnd import observation_features

        p = self.graph.nodes[current]
        self._history.append(observation_features(self.pose[0], self.pose[1], p.descriptor))
        hist = np.stack(self._history)
        batch = hist[self._rng.integers(0, len(hist), size=min(self.cfg.rnd.batch, len(hist)))]
        self._rnd.train_step(batch)

    def novelty(self) -> dict[str, float]:
        if self._rnd is None or self.graph is None or not self._rnd.warmed_up:
            return {}
        from toponav.models.rnd import observation_features

        ids = list(self.graph.nodes)
        feats = np.stack([observation_features(self.graph.nodes[i].x, self.graph.nodes[i].y,
                                               self.graph.nodes[i].descriptor) for i in ids])
        err = self._rnd.error(feats)
        # Novelty relative to what the robot has already seen: error / mean error on its history.
        ref = float(np.mean(self._rnd.error(np.stack(self._history)))) + 1e-9
        return dict(zip(ids, (err / ref).tolist()))

    # -- main step --------------------------------------------------------------------------------------
    def step(self, now: float) -> SubgoalDecision:
        """Advance the state machine with the latest graph/pose; returns what to publish."""
        g, pose = self.graph, self.pose
        if g is None or pose is None or len(g) == 0:
            missing = "graph" if g is None or len(g) == 0 else "odometry"
            self.last = SubgoalDecision(State.IDLE, reason=f"waiting for {missing}")
            self.state = State.IDLE
            return self.last
        rx, ry = pose[0], pose[1]
        current = g.nearest(rx, ry, frontier=False) or g.nearest(rx, ry)
        assert current is not None
        self._observe_rnd(current)

        # Which task applies now.
        dest = self.home if self.returning_home else self.goal
        kind = "home" if self.returning_home else ("goal" if self.goal is not None else "explore")
        if dest is not None and math.hypot(dest[0] - rx, dest[1] - ry) <= self.cfg.goal_tolerance:
            if self.state != State.DONE:
                self._log("info", f"{'home' if kind == 'home' else 'goal'} reached at ({dest[0]:.2f}, {dest[1]:.2f})")
            self.state, self.target = State.DONE, None
            # Arrived within goal_tolerance: the goal itself is the last sub-goal, so the controller settles on it
            # (within its own, tighter tolerance) instead of holding wherever the tolerance circle was entered.
            # The corrected pose is off by a few cm to decimetres; stopping on the circle's edge would leave the
            # robot that much outside a user's check with the same tolerance (maze 1000001: 0.42 m believed,
            # 0.59 m true).
            self.last = SubgoalDecision(State.DONE, subgoal=(float(dest[0]), float(dest[1])),
                                        path=[(float(dest[0]), float(dest[1]))], reason=f"{kind} reached")
            return self.last
        if dest is None and not self.exploring:
            self.state, self.target = State.IDLE, None
            self.last = SubgoalDecision(State.IDLE, reason="exploration stopped, no goal")
            return self.last

        dist, prev = g.dijkstra(current)
        replanned = False
        reason = ""
        # Check the active target.
        if self.target is not None:
            t = self.target
            tid = self._rebind(t)
            d = math.hypot(t.x - rx, t.y - ry)
            remaining = self._remaining(g, current, (rx, ry), t, tid, dist)
            if d <= self.cfg.reach_radius:
                reason = f"sub-goal {t.id} reached"
                key = self._key(t.x, t.y)
                self.failures.pop(key, None)
                self.target = None
            elif tid is None and t.frontier:
                reason = f"frontier {t.id} closed"
                self.target = None
            elif tid is None or tid not in dist:
                self._fail("unreachable", now)
                reason = "sub-goal unreachable"
            else:
                if remaining < t.best_dist - self.cfg.min_progress:
                    t.best_dist, t.last_progress = remaining, now
                if now - t.last_progress > self.cfg.stale_timeout:
                    self._fail(f"no progress for {now - t.last_progress:.0f} s", now)
                    reason = "sub-goal stale"
                elif kind != t.kind:
                    self.target = None
                    reason = "task changed"
                elif kind != "explore" and not t.nav and self._goal_on_graph(g, dest, dist) is not None:
                    self.target = None
                    reason = f"{kind} is now on the graph"
                elif not t.nav and self.cfg.switch_margin > 0 and self._better_exists(g, current, (rx, ry), dest, now):
                    self.target = None
                    reason = f"a sub-goal better by > {self.cfg.switch_margin:g} appeared"
        # Choose a new target.
        if self.target is None:
            replanned = True
            self.replans += 1
            self.target, why = self._choose(g, current, (rx, ry), dest, kind, now)
            reason = f"{reason}; {why}" if reason else why
            if self.target is None:
                self.last = SubgoalDecision(self.state, reason=reason, replanned=True)
                return self.last
        t = self.target
        if math.isinf(t.best_dist):  # a new target: progress is measured from here
            t.best_dist = self._remaining(g, current, (rx, ry), t, t.id if t.id in g.nodes else None, dist)
        self.state = State.NAVIGATING if t.nav else State.EXPLORING
        nodes = g.path_from(prev, current, t.id) or [current, t.id]
        path = g.polyline(nodes)
        if self.state == State.NAVIGATING and dest is not None:
            path.append(dest)
        elif t.fixed or math.hypot(path[-1][0] - t.x, path[-1][1] - t.y) > 1e-3:
            path.append((t.x, t.y))
        path = [(rx, ry), *_ahead_of(path, (rx, ry))]
        path = [q for i, q in enumerate(path)
                if i == 0 or math.hypot(q[0] - path[i - 1][0], q[1] - path[i - 1][1]) > 1e-3]
        # Along graph edges (free space) the sub-goal is a lookahead point; the last straight leg to the goal
        # point crosses space the graph knows nothing of, so the controller gets the goal itself and plans
        # that leg around what its lidar sees.
        sub = (t.x, t.y) if t.fixed else self._lookahead(path)
        self.last = SubgoalDecision(self.state, subgoal=sub, path=path, target=t.id,
                                    reason=reason or "following sub-goal", replanned=replanned)
        return self.last

    def _remaining(self, g: PlaceGraph, current: str, robot: tuple[float, float], t: _Target, tid: str | None,
                   dist: dict[str, float]) -> float:
        """Path length still to go to the target (robot -> current place -> graph path -> target point).

        Progress is judged on this rather than on straight-line distance, so a target behind a wall is
        not declared stale while the robot follows the detour the graph prescribes.
        """
        if tid is None or tid not in dist:
            return math.hypot(t.x - robot[0], t.y - robot[1])
        c, n = g.nodes[current], g.nodes[tid]
        return (math.hypot(c.x - robot[0], c.y - robot[1]) + dist[tid]
                + math.hypot(t.x - n.x, t.y - n.y))

    def _rebind(self, t: _Target) -> str | None:
        """The target's node id now; frontier ids may change, so look near the old position."""
        g = self.graph
        assert g is not None
        if t.fixed:  # a goal point: it does not move with the graph; route via the place nearest to it
            return t.id if t.id in g.nodes else g.nearest(t.x, t.y, frontier=False)
        if t.id in g.nodes and g.nodes[t.id].frontier == t.frontier:
            p = g.nodes[t.id]
            t.x, t.y = p.x, p.y
            return t.id
        best = g.nearest(t.x, t.y, frontier=t.frontier)
        if best is not None and math.hypot(g.nodes[best].x - t.x, g.nodes[best].y - t.y) <= 2 * self.cfg.reach_radius:
            t.id = best
            return best
        return None

    def _goal_on_graph(self, g: PlaceGraph, dest: tuple[float, float] | None, dist: dict[str, float]) -> str | None:
        if dest is None:
            return None
        best, best_d = None, math.inf
        for nid in dist:
            p = g.nodes[nid]
            if p.frontier:
                continue
            d = math.hypot(p.x - dest[0], p.y - dest[1])
            if d <= self.cfg.goal_node_radius and d < best_d:
                best, best_d = nid, d
        return best

    def _choose(self, g: PlaceGraph, current: str, robot: tuple[float, float], dest: tuple[float, float] | None,
                kind: str, now: float) -> tuple[_Target | None, str]:
        dist, _ = g.dijkstra(current)
        if kind in ("goal", "home"):
            gid = self._goal_on_graph(g, dest, dist)
            if gid is not None and dest is not None:
                p = g.nodes[gid]
                tx, ty = dest if gid == current else (p.x, p.y)  # last leg: straight to the goal point
                if not self.is_blacklisted(tx, ty, now):
                    self.state = State.NAVIGATING
                    t = _Target(gid, tx, ty, False, now, math.inf, now, kind, nav=True,
                                fixed=gid == current)
                    return t, f"navigating to {kind} via {gid}"
        exclude = self._excluded(g, current, robot, now)
        self._novelty_cache = self.novelty() if self._rnd else None
        pull = self._pull(dest, kind, now)
        cands = build_candidates(g, current, robot, pull, self.cfg.weights, self._novelty_cache, exclude,
                                 include_places=self.cfg.include_places, goal_distance=self.goal_distance(pull))
        if kind in ("goal", "home") and dest is not None:
            # When no frontier is left, or a known place lies within goal_direct_radius of the destination and
            # no frontier is closer to it, head for that place, then straight to the destination. "Within" and
            # "closer" go by the goal distance the candidates are scored with: with the optimistic field a place
            # 4 m from the goal behind a known wall is as far as the way round, and the straight leg is not tried
            # from it (held-out maze 1000001 lost 12 s per such try).
            places = [n for n in dist if not g.nodes[n].frontier]
            front = [c for c, f in zip(cands.ids, cands.features) if f[2] > 0]
            d_all = distances_to([(g.nodes[n].x, g.nodes[n].y) for n in places + front], dest,
                                 self.goal_distance(dest))
            i_near = int(np.argmin(d_all[:len(places)]))
            near, d_near = places[i_near], float(d_all[i_near])
            d_front = float(d_all[len(places):].min()) if front else math.inf
            gx, gy = (g.nodes[near].x, g.nodes[near].y) if near != current else dest
            close = d_near <= self.cfg.goal_direct_radius and d_near <= d_front
            # while the straight leg is blacklisted, frontiers come first: driving to the place nearest the goal
            # only to wait there for the blacklist to expire is the back-and-forth of issue 14
            leg_blocked = bool(front) and self.is_blacklisted(dest[0], dest[1], now)
            if (close or not front) and not leg_blocked and not self.is_blacklisted(gx, gy, now):
                t = _Target(near, gx, gy, False, now, math.inf, now, kind, nav=True,
                            fixed=near == current)
                self.state = State.NAVIGATING
                why = "no frontier left" if not front else f"no frontier is closer to the {kind}"
                return t, f"{why}: heading for the place nearest the {kind} ({near}), then straight on"
        if len(cands) == 0:
            frontiers = [f for f in g.frontier_ids() if f in dist]
            blocked = [f for f in frontiers if f in exclude]
            if not set(g.frontier_ids()) - self._outside(g) and kind == "explore":
                if self.state != State.DONE:
                    self._log("info", "exploration complete: no reachable frontier left")
                self.state = State.DONE
                return None, "exploration complete"
            if self.state != State.STUCK:
                self._log("warn", f"stuck: no usable sub-goal ({len(blocked)} blacklisted frontiers, "
                                  f"{len(g.frontier_ids()) - len(frontiers)} unreachable)")
            self.state = State.STUCK
            return None, "no usable sub-goal"
        scores = self.scorer.score(cands)
        i = int(np.argmax(scores))
        nid = cands.ids[i]
        p = g.nodes[nid]
        self.state = State.EXPLORING
        why = f"new sub-goal {nid} (score {scores[i]:.2f})"
        return _Target(nid, p.x, p.y, p.frontier, now, math.inf, now, kind), why

    def _better_exists(self, g: PlaceGraph, current: str, robot: tuple[float, float],
                       dest: tuple[float, float] | None, now: float) -> bool:
        """Re-score while travelling: does some candidate beat the current target by ``switch_margin``?"""
        t = self.target
        assert t is not None
        exclude = self._excluded(g, current, robot, now)
        pull = self._pull(dest, t.kind, now)
        cands = build_candidates(g, current, robot, pull, self.cfg.weights, self._novelty_cache, exclude,
                                 include_places=self.cfg.include_places, goal_distance=self.goal_distance(pull))
        if t.id not in cands.ids:
            return False
        scores = self.scorer.score(cands) if not hasattr(self.scorer, "peek") else self.scorer.peek(cands)
        return bool(np.max(scores) > scores[cands.ids.index(t.id)] + self.cfg.switch_margin)

    def _pull(self, dest: tuple[float, float] | None, kind: str, now: float) -> tuple[float, float] | None:
        """The point candidates are scored toward: the destination, or none (plain exploration) while the
        straight leg to the goal is blacklisted (``explore_while_blocked``)."""
        if (dest is not None and kind == "goal" and self.cfg.explore_while_blocked
                and self.is_blacklisted(dest[0], dest[1], now)):
            return None
        return dest

    def _excluded(self, g: PlaceGraph, current: str, robot: tuple[float, float], now: float) -> set[str]:
        """Not candidates: where the robot stands (already reached) and blacklisted places."""
        out = {current} | self._outside(g)
        for nid, p in g.nodes.items():
            near = math.hypot(p.x - robot[0], p.y - robot[1]) <= self.cfg.reach_radius
            if near or self.is_blacklisted(p.x, p.y, now):
                out.add(nid)
        return out

    def set_boundary(self, values: list[float]) -> None:
        """Set the exploration boundary (see ``PlannerConfig.boundary``); raises ValueError when malformed."""
        self._boundary = boundary_polygon(values)
        self.cfg.boundary = [float(v) for v in values]

    def _outside(self, g: PlaceGraph) -> set[str]:
        """Frontier nodes outside the exploration boundary (none without one)."""
        if self._boundary is None:
            return set()
        ids = g.frontier_ids()
        if not ids:
            return set()
        xy = np.array([(g.nodes[i].x, g.nodes[i].y) for i in ids], dtype=np.float64)
        inside = inside_polygon(xy, self._boundary, self.cfg.boundary_margin)
        return {i for i, ok in zip(ids, inside.tolist(), strict=True) if not ok}

    def _lookahead(self, path: list[tuple[float, float]]) -> tuple[float, float]:
        """The point ``lookahead`` metres along the path (interpolated on the edge), or its end.

        Edges are free-space connections, so a point on one is as safe to drive to as its end points; a
        point past a sharp corner is not (the straight line to it cuts the corner), so the lookahead stops
        at the first corner sharper than ``corner_angle`` beyond ``corner_skip``.
        """
        if len(path) == 1:
            return path[0]
        acc = 0.0
        limit = math.radians(self.cfg.corner_angle)
        for i in range(1, len(path)):
            (ax, ay), (bx, by) = path[i - 1], path[i]
            seg = math.hypot(bx - ax, by - ay)
            if acc + seg >= self.cfg.lookahead and seg > 0:
                u = (self.cfg.lookahead - acc) / seg
                return (ax + u * (bx - ax), ay + u * (by - ay))
            acc += seg
            if i + 1 < len(path) and acc >= self.cfg.corner_skip and seg > 1e-6:
                cx, cy = path[i + 1]
                nxt = math.hypot(cx - bx, cy - by)
                if nxt > 1e-6:
                    cos = ((bx - ax) * (cx - bx) + (by - ay) * (cy - by)) / (seg * nxt)
                    if math.acos(max(-1.0, min(1.0, cos))) > limit:
                        return path[i]  # do not cut the corner: its far side may be behind a wall
        return path[-1]

    def candidates(self, now: float) -> Candidates | None:
        """Current candidate set (for training and diagnostics)."""
        if self.graph is None or self.pose is None or len(self.graph) == 0:
            return None
        g = self.graph
        current = g.nearest(self.pose[0], self.pose[1], frontier=False) or g.nearest(self.pose[0], self.pose[1])
        exclude = self._excluded(g, current, self.pose[:2], now)
        dest = self.home if self.returning_home else self.goal
        novelty = self.novelty() if self._rnd else None
        return build_candidates(g, current, self.pose[:2], dest, self.cfg.weights, novelty, exclude,
                                include_places=self.cfg.include_places, goal_distance=self.goal_distance(dest))


_ON_PATH = 0.3  # metres: path segments this close to the nearest one count as where the robot is


def _ahead_of(path: list[tuple[float, float]], robot: tuple[float, float]) -> list[tuple[float, float]]:
    """The part of ``path`` still ahead of the robot: from its projection onto the nearest segment on.

    The graph path starts at the place nearest the robot, which is often behind it; following the path
    from the projection (as pure pursuit does) keeps the published sub-goal from flipping back to it.
    Where the path doubles back past the robot (place B, back to place A, then on past B toward the
    target), every segment within ``_ON_PATH`` metres of the nearest counts as "here" and the latest of them
    is taken: otherwise the sub-goal flips between the way back and the way on as the robot turns.
    """
    if len(path) < 2:
        return list(path)
    pts = np.asarray(path, dtype=np.float64)
    a, b = pts[:-1], pts[1:]
    ab = b - a
    denom = np.maximum((ab * ab).sum(axis=1), 1e-12)
    u = np.clip(((np.asarray(robot) - a) * ab).sum(axis=1) / denom, 0.0, 1.0)
    proj = a + u[:, None] * ab
    d = np.hypot(*(proj - np.asarray(robot)).T)
    k = int(np.flatnonzero(d <= d.min() + _ON_PATH)[-1])
    return [(float(proj[k, 0]), float(proj[k, 1])), *path[k + 1:]]

"""The localiser: wheel odometry corrected by scan-to-map matching and loop closure, one call per scan.

Per scan (:meth:`Localiser.update`):

1. predict the pose in ``map`` from the wheel odometry and the last ``map <- odom`` correction;
2. register the scan against the local point map (:mod:`toponav.localisation.registration`), the prediction
   as initial guess and the odometry increment's uncertainty as a prior: where the geometry leaves an axis
   unconstrained (a long aisle, open forest) the prior keeps the odometry there;
3. the registered pose becomes the new ``map <- odom`` correction and the scan joins the local map;
4. every ``keyframe_distance`` metres (or ``keyframe_angle``) the pose becomes a keyframe: a node of the pose
   graph (:mod:`toponav.localisation.pose_graph`) joined to the previous keyframe by the matched motion, with
   the scan kept for loop closures and for rebuilding the map after one;
5. at a new keyframe, old keyframes near the current pose are candidates for a loop closure (a caller checks
   its own candidates, e.g. a place the descriptors recognised, with :meth:`Localiser.verify`): the scan is
   registered against the candidate's scans, the result is gated against the drift the graph predicts (a
   look-alike room 5 m away is not a revisit when the drift since is 10 cm) and, if accepted, the graph is
   optimised and the local map rebuilt.

Frames (REP 105): ``odom`` is the wheel odometry's frame, ``map`` the corrected one; both coincide at start
(the simulator puts odom at the start pose), so the correction starts at identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from toponav.config import param
from toponav.geometry import se2_apply, se2_between, se2_compose, se2_inverse, wrap_angle
from toponav.localisation.global_search import LikelihoodField, correlative_search
from toponav.localisation.loop_closure import ClosureCheck, LoopClosureConfig, add_closure
from toponav.localisation.point_map import PointMap
from toponav.localisation.pose_graph import PoseGraph2D, PoseGraphConfig
from toponav.localisation.registration import (
    Registration,
    RegistrationConfig,
    Target,
    information_to_covariance,
    register,
)


@dataclass
class LocalisationConfig:
    """Pose correction in the mapper: scan-to-map matching on wheel odometry, keyframes and loop closure."""

    enabled: bool = param(True, "correct the odometry by scan matching and loop closure; false: take the "
                          "incoming poses as they are (a robot that already runs AMCL / slam_toolbox)")
    odom_sigma_trans: float = param(
        0.03, "prior std of the odometry's translation per metre driven (fraction): how far the registration may "
        "pull the prediction; about twice the simulated wheel odometry's drift (docs/simulation.md)", min=1e-4)
    odom_sigma_rot: float = param(0.05, "prior std of the odometry's rotation per radian turned (fraction)", min=1e-4)
    odom_sigma_floor: float = param(
        0.005, "prior std floor per scan of the translation (m): even a still robot's pose is not exact, and a zero "
        "prior would freeze it. Several times the simulated wheels' error per scan (about 0.7 mm at 0.5 m/s); at "
        "2 cm the prior held nothing against the matcher's range-noise shrink (docs/localisation.md, 'The noisy "
        "map, not the noisy scan')", min=1e-5)
    odom_sigma_floor_yaw: float = param(
        0.002, "prior std floor per scan of the heading (rad): 20x a MEMS gyro's error in 0.1 s (BMI088, about 1e-4 "
        "rad); raise it (0.02) for a base whose odometry yaw comes from the wheels alone", min=1e-5)
    map_add_distance: float = param(0.1, "add a scan to the local map after moving this far (m) or turning "
                                    "map_add_angle: a still robot would only add its own noise", min=0.0)
    map_add_angle: float = param(0.1, "see map_add_distance (rad)", min=0.0)
    map_unmatched_scans: int = param(5, "after this many unmatched scans in a row the map grows on odometry alone "
                                     "(the robot left what the map covers)", min=1)
    keyframe_distance: float = param(0.5, "a keyframe (pose-graph node, stored scan) every this many metres",
                                     min=0.05)
    keyframe_angle: float = param(0.5, "... or after turning this much (rad)", min=0.01)
    keyframe_points: int = param(360, "points kept per keyframe scan (evenly thinned): the local map is rebuilt "
                                 "from them after a closure, and 180 left it sparser than the live one (replayed "
                                 "bags: APE RMSE depot 0.085 -> 0.083 m, warehouse 0.042 -> 0.033 m)", min=10)
    edge_sigma_trans: float = param(0.02, "std of the matched motion between consecutive keyframes per metre "
                                    "(fraction): scan-to-map drift, far below raw odometry", min=1e-4)
    edge_sigma_rot: float = param(0.01, "std of the matched rotation between keyframes per metre driven (rad/m)",
                                  min=1e-5)
    edge_sigma_floor: float = param(0.01, "std floor of a keyframe edge (m and rad)", min=1e-5)
    loop_closure: bool = param(True, "look for loop closures at each keyframe")
    loop_min_travel: float = param(8.0, "a keyframe is a loop candidate only if the robot drove this far since "
                                   "(m): nearer ones are still in the local map", min=0.0)
    loop_search_radius: float = param(3.0, "candidates within this distance of the current pose (m)", min=0.1)
    loop_cooldown: float = param(2.0, "after an accepted closure, drive this far before trying the next (m)",
                                 min=0.0)
    loop_submap: int = param(2, "a candidate is matched against its own scan and this many keyframes either "
                             "side (a single scan may see too little of the place)", min=0)
    loop_min_fitness: float = param(0.6, "inlier fraction a closure's registration needs", min=0.0, max=1.0)
    loop_max_rmse: float = param(0.08, "inlier residual a closure's registration may have (m)", min=0.001)
    loop_sigma_floor: float = param(
        0.05, "std floor (m; rad / 2 m for yaw) of a closure's measurement: the registration's own covariance, from "
        "hundreds of points with independent noise, claims millimetres, but its errors are correlated (a slightly "
        "bent wall); so overconfident an edge wins against the whole odometry chain in the robust kernel",
        min=1e-4)
    correction_min: float = param(
        0.05, "a closure that moves no keyframe more than this (m; rad / 2 m for yaw) keeps the graph, grid and "
        "frontiers as they are (the constraint still goes into the pose graph): in the warehouse demo 14 closures of "
        "1 cm each rebuilt the grid and renewed every frontier, and the planner dropped its sub-goal each time",
        min=0.0)
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    pose_graph: PoseGraphConfig = field(default_factory=PoseGraphConfig)
    closure: LoopClosureConfig = field(default_factory=LoopClosureConfig)


@dataclass
class Keyframe:
    """One pose-graph node: when and where, how far the robot had driven, and the scan seen there."""

    node: int
    stamp: float
    travelled: float
    odom: np.ndarray  # (3,) odometry pose when taken (the correction at a keyframe is map <- odom)
    points: np.ndarray  # (K, 2) scan points in the keyframe's frame


@dataclass
class LocaliseResult:
    """What one update did. ``pose`` and ``covariance`` are in ``map``."""

    pose: np.ndarray
    covariance: np.ndarray
    matched: bool = False  # the scan was registered (else the pose is the odometry prediction)
    keyframe: int | None = None  # id of the keyframe this update made
    closure: ClosureCheck | None = None  # the loop closure tried at this update, if any
    corrected: bool = False  # past keyframe poses moved (a closure was accepted): maps built on them must follow
    before: np.ndarray | None = None  # with ``corrected``: the keyframe poses before the closure moved them
    messages: list[str] = field(default_factory=list)


def _information(sigma_trans: float, sigma_rot: float) -> np.ndarray:
    """Diagonal (x, y, yaw) information matrix of independent errors with these standard deviations."""
    return np.diag([sigma_trans ** -2, sigma_trans ** -2, sigma_rot ** -2])


class Localiser:
    """Odometry in, corrected ``map`` pose out. See the module docstring."""

    def __init__(self, cfg: LocalisationConfig | None = None) -> None:
        self.cfg = cfg or LocalisationConfig()
        self.clear()

    def clear(self) -> None:
        """Forget everything (a time jump, a new map)."""
        self.map_from_odom = np.zeros(3)
        self.points = PointMap(self.cfg.registration)
        self.graph = PoseGraph2D(self.cfg.pose_graph)
        self.keyframes: list[Keyframe] = []
        self.pose: np.ndarray | None = None  # last corrected pose
        self.covariance = np.diag([self.cfg.odom_sigma_floor ** 2] * 2 + [self.cfg.odom_sigma_floor_yaw ** 2])
        self.travelled = 0.0
        self._last_odom: np.ndarray | None = None
        self._last_added: np.ndarray | None = None  # pose the local map last grew at
        self._last_closure_travel = -math.inf
        self._unmatched = 0
        self._seeded: Target | None = None  # the saved map's points while relocalising
        self._field: LikelihoodField | None = None
        self.closures = 0
        self.rejected = 0

    # -- queries --------------------------------------------------------------------------------------
    def keyframe_pose(self, k: int) -> np.ndarray:
        return self.graph.poses[self.keyframes[k].node]

    def keyframe_poses(self) -> np.ndarray:
        """(K, 3) current estimates of every keyframe (a copy), index = keyframe id."""
        return self.graph.poses

    def to_map(self, odom_pose: np.ndarray) -> np.ndarray:
        return se2_compose(self.map_from_odom, np.asarray(odom_pose, dtype=np.float64))

    # -- the update -----------------------------------------------------------------------------------
    def _prior(self, odom: np.ndarray) -> np.ndarray:
        """Information of the odometry prediction since the last scan."""
        cfg = self.cfg
        if self._last_odom is None:
            return _information(cfg.odom_sigma_floor, cfg.odom_sigma_floor_yaw)
        d = se2_between(self._last_odom, odom)
        dist, turn = math.hypot(d[0], d[1]), abs(float(d[2]))
        return _information(cfg.odom_sigma_floor + cfg.odom_sigma_trans * dist,
                            cfg.odom_sigma_floor_yaw + cfg.odom_sigma_rot * turn + cfg.odom_sigma_trans * dist)

    def update(self, odom_pose: np.ndarray, scan: np.ndarray | None, stamp: float) -> LocaliseResult:
        """One scan: ``odom_pose`` (x, y, yaw) in ``odom``, ``scan`` (N, 2) hit points in the robot frame (None or
        empty: odometry only)."""
        cfg = self.cfg
        odom = np.asarray(odom_pose, dtype=np.float64).reshape(3)
        prior = self._prior(odom)
        predicted = self.to_map(odom)
        res = LocaliseResult(pose=predicted, covariance=np.linalg.inv(prior))
        reg: Registration | None = None
        target = self.points.target() if scan is not None and len(scan) else None
        if target is not None:
            reg = register(scan, target, predicted, prior, cfg.registration)
            if reg.ok:
                res.pose, res.covariance, res.matched = reg.pose, reg.covariance, True
            else:
                res.messages.append(f"scan matching failed ({reg.reason}): odometry only for this scan")
        self.map_from_odom = se2_compose(res.pose, se2_inverse(odom))
        if self.pose is not None:
            self.travelled += math.hypot(*(res.pose[:2] - self.pose[:2]))
        self.pose, self.covariance, self._last_odom = res.pose, res.covariance, odom
        if scan is None or not len(scan):
            return res
        self._unmatched = 0 if res.matched else self._unmatched + 1
        # an unmatched scan would smear its odometry error into the map: only matched ones grow it, and the first;
        # after map_unmatched_scans failures in a row the robot is somewhere the map does not reach yet (open
        # ground, a new room seen through a door) and the map follows it on odometry
        if res.matched or not len(self.points) or self._unmatched >= cfg.map_unmatched_scans:
            self._grow_map(res.pose, scan)
        if self._keyframe_due(res.pose):
            res.keyframe = self._add_keyframe(res.pose, odom, scan, stamp)
            if cfg.loop_closure:
                self._close_loops(res)
        return res

    def _grow_map(self, pose: np.ndarray, scan: np.ndarray) -> None:
        last = self._last_added
        if last is not None and math.hypot(*(pose[:2] - last[:2])) < self.cfg.map_add_distance and \
                abs(float(wrap_angle(pose[2] - last[2]))) < self.cfg.map_add_angle:
            return
        self.points.add(se2_apply(pose, scan))
        self.points.crop((float(pose[0]), float(pose[1])), self.cfg.registration.map_radius)
        self._last_added = pose.copy()

    def _keyframe_due(self, pose: np.ndarray) -> bool:
        if not self.keyframes:
            return True
        last = self.keyframe_pose(len(self.keyframes) - 1)
        return math.hypot(*(pose[:2] - last[:2])) >= self.cfg.keyframe_distance or \
            abs(float(wrap_angle(pose[2] - last[2]))) >= self.cfg.keyframe_angle

    def _thin(self, scan: np.ndarray) -> np.ndarray:
        n = len(scan)
        if n <= self.cfg.keyframe_points:
            return scan.copy()
        return scan[np.linspace(0, n - 1, self.cfg.keyframe_points).round().astype(np.int64)]

    def _add_keyframe(self, pose: np.ndarray, odom: np.ndarray, scan: np.ndarray, stamp: float) -> int:
        cfg = self.cfg
        node = self.graph.add_node(pose)
        if self.keyframes:
            prev = self.keyframes[-1]
            meas = se2_between(self.graph.poses[prev.node], pose)
            length = math.hypot(meas[0], meas[1])
            info = _information(cfg.edge_sigma_floor + cfg.edge_sigma_trans * length,
                                cfg.edge_sigma_floor + cfg.edge_sigma_rot * length)
            self.graph.add_edge(prev.node, node, meas, info, kind="odom")
        self.keyframes.append(Keyframe(node=node, stamp=float(stamp), travelled=self.travelled, odom=odom.copy(),
                                       points=self._thin(scan)))
        return len(self.keyframes) - 1

    # -- relocalisation (a restarted mapper in its saved map) -----------------------------------------
    def seed_map(self, points: np.ndarray, field: LikelihoodField | None = None) -> None:
        """Start from a saved map's obstacle points (map frame) instead of an empty local map; ``field`` (its
        likelihood field) lets :meth:`relocalise` search windows around places, not only refine guesses."""
        self.clear()
        self.points.add(np.asarray(points, dtype=np.float64).reshape(-1, 2))
        self._seeded = self.points.target()
        self._field = field

    @property
    def relocalising(self) -> bool:
        return self._seeded is not None

    def relocalise(self, odom_pose: np.ndarray, scan: np.ndarray, guesses: list[np.ndarray],
                   stamp: float, centres: list[tuple[float, float]] = ()) -> Registration | None:
        """Find the pose in the seeded map: register ``scan`` from each guessed map pose and from the best pose of
        a correlative search around each of ``centres`` (places that look alike); keep the best fit.

        Accepted only with the fitness and residual a loop closure needs; then ``map <- odom`` is set and the
        normal per-scan update takes over. None (nothing changed) when no guess fits.
        """
        cfg = self.cfg
        target = self._seeded
        if target is None or scan is None or not len(scan):
            return None
        guesses = list(guesses)
        if centres and self._field is not None:
            guesses.append(correlative_search(scan, self._field, list(centres))[0])
        best: Registration | None = None
        for g in guesses:
            reg = register(scan, target, np.asarray(g, dtype=np.float64), None, cfg.registration)
            if reg.ok and (best is None or (reg.fitness, -reg.rmse) > (best.fitness, -best.rmse)):
                best = reg
        if best is None or best.fitness < cfg.loop_min_fitness or best.rmse > cfg.loop_max_rmse:
            return None
        odom = np.asarray(odom_pose, dtype=np.float64).reshape(3)
        self.map_from_odom = se2_compose(best.pose, se2_inverse(odom))
        self.pose, self.covariance, self._last_odom = best.pose.copy(), best.covariance, odom
        self._last_added = best.pose.copy()
        self._add_keyframe(best.pose, odom, scan, stamp)
        self._seeded = None
        return best

    def abandon_relocalisation(self) -> None:
        """Give up on the saved map's frame: go on from the odometry (the map stays, poses may disagree)."""
        self._seeded = None

    # -- loop closure ---------------------------------------------------------------------------------
    def _candidates(self, cur: int) -> list[int]:
        cfg = self.cfg
        kf = self.keyframes[cur]
        if kf.travelled - self._last_closure_travel < cfg.loop_cooldown:
            return []
        poses = self.graph.poses
        here = poses[kf.node, :2]
        old = [k for k in range(cur) if kf.travelled - self.keyframes[k].travelled >= cfg.loop_min_travel]
        if not old:
            return []
        d = np.hypot(*(poses[[self.keyframes[k].node for k in old], :2] - here).T)
        near = [old[i] for i in np.argsort(d) if d[i] <= cfg.loop_search_radius]
        # the nearest, and the oldest in reach: on a shuttle the nearest old keyframe is often from the same leg
        # (drifted as much as the robot), while the first visit anchors the drift since (map-depot: 0.41 m at
        # the far end of the third leg, closures only to keyframes of that leg)
        return list(dict.fromkeys(near[:1] + sorted(near)[:1]))

    def _submap(self, k: int) -> np.ndarray:
        """Scan points of keyframe ``k`` and its neighbours, in ``k``'s frame."""
        poses = self.graph.poses
        base = poses[self.keyframes[k].node]
        lo, hi = max(0, k - self.cfg.loop_submap), min(len(self.keyframes), k + self.cfg.loop_submap + 1)
        parts = [se2_apply(se2_between(base, poses[self.keyframes[j].node]), self.keyframes[j].points)
                 for j in range(lo, hi)]
        return np.concatenate(parts, axis=0)

    def moved(self, before: np.ndarray) -> bool:
        """Whether the keyframes moved more than ``correction_min`` since ``before`` (poses of an earlier call)."""
        after = self.graph.poses[: len(before)]
        if not len(before):
            return False
        d = np.maximum(np.hypot(*(after[:, :2] - before[:, :2]).T),
                       2.0 * np.abs(wrap_angle(after[:, 2] - before[:, 2])))
        return bool(d.max() > self.cfg.correction_min)

    def _close_loops(self, res: LocaliseResult) -> None:
        before = self.graph.poses
        cur = len(self.keyframes) - 1
        for cand in self._candidates(cur):
            check = self.verify(cand, cur)
            res.closure = check
            if check.accepted:
                res.corrected = self.moved(before)
                res.before = before if res.corrected else None
                res.pose = self.keyframe_pose(cur).copy()
                self.pose = res.pose
                self.map_from_odom = se2_compose(res.pose, se2_inverse(self.keyframes[cur].odom))
                # the local map again from the keyframes near the robot, the closure's candidate among them: when
                # the robot is back where it was long ago, scan matching then holds it to that first visit
                self._rebuild_map()
                self._last_closure_travel = self.keyframes[cur].travelled
                res.messages.append(f"loop closure: keyframe {cur} -> {cand}, correction {check.correction:.2f} m "
                                    f"(Mahalanobis {check.mahalanobis:.1f})")
                return
            res.messages.append(f"loop closure keyframe {cur} -> {cand} rejected: {check.reason}")

    def verify(self, cand: int, cur: int) -> ClosureCheck:
        """Register keyframe ``cur``'s scan against ``cand``'s submap; gate, add and optimise if it holds."""
        cfg = self.cfg
        poses = self.graph.poses
        a, b = self.keyframes[cand], self.keyframes[cur]
        init = se2_between(poses[a.node], poses[b.node])
        target = Target.from_points(self._submap(cand), cfg.registration)
        reg = register(b.points, target, init, None, cfg.registration)
        if not reg.ok or reg.fitness < cfg.loop_min_fitness or reg.rmse > cfg.loop_max_rmse:
            self.rejected += 1
            why = reg.reason or f"fitness {reg.fitness:.2f} (need {cfg.loop_min_fitness}), rmse {reg.rmse:.3f} m"
            return ClosureCheck(False, math.nan, float(math.hypot(*(reg.pose[:2] - init[:2]))),
                                f"registration does not hold: {why}")
        floor = np.diag([cfg.loop_sigma_floor ** 2] * 2 + [(cfg.loop_sigma_floor / 2.0) ** 2])
        try:
            cov = np.linalg.inv(reg.information + 1e-9 * np.eye(3))
        except np.linalg.LinAlgError:  # free along a direction (an aisle) to working precision: nothing there
            cov = information_to_covariance(reg.information, max_variance=1e9)
        info = np.linalg.inv(cov + floor)
        check = add_closure(self.graph, a.node, b.node, reg.pose, info, cfg.closure)
        if check.accepted:
            self.closures += 1
        else:
            self.rejected += 1
        return check

    def _rebuild_map(self) -> None:
        """The local map again from the keyframes near the robot, at their corrected poses."""
        self.points.clear()
        poses = self.graph.poses
        here = self.pose[:2] if self.pose is not None else np.zeros(2)
        for kf in self.keyframes:
            p = poses[kf.node]
            if math.hypot(*(p[:2] - here)) <= self.cfg.registration.map_radius + 8.0:
                self.points.add(se2_apply(p, kf.points))
        self.points.crop((float(here[0]), float(here[1])), self.cfg.registration.map_radius)
        self._last_added = self.pose.copy() if self.pose is not None else None

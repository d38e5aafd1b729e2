"""HODAT priority arbitration: immediate safety > sub-goal > goal.

One control step: clean the scan, pick the target (the sub-goal if there is one, else the goal),
decide whether it is reached or unreachable (no progress for ``progress_timeout``), ask the local
planner (learned policy, DWA, or straight-line pursuit for ``safety_only``) for (v, ω), apply the
velocity/acceleration limits, and give the safety layer the last word.

With ``local_plan.enabled`` the local planner does not steer straight at the target but at a carrot on a
path planned to it over the lidar hits of a rolling window (:class:`toponav.control.carrot.LocalCarrot`):
a target behind an obstacle corner is a local minimum for a reactive planner, not for a path. Reached and
progress are still judged on the target itself.

With ``fallback_after`` > 0 the learned policy has a recovery behaviour, as move_base's local planners
do: a memoryless policy can circle in front of a gap it does not take, so when the robot has not got
``progress_min`` closer to the goal (or to the sub-goal, without a goal) for ``fallback_after`` seconds,
DWA drives for ``fallback_hold`` seconds and then hands back. Progress is watched on the goal because a
carrot sub-goal moves every step; the decision says which planner drove (``planner``). ROS-free: the node, the
benchmarks and the tests all drive this same object.

Inputs have an age. ``scan_age`` (seconds since the scan was taken) reaches the safety layer, which takes the
distance driven since off the free path and stops outright (``stale``) past ``scan_timeout``. With
``memory.enabled`` every new scan (``scan_new``) is also added to a short obstacle memory
(:class:`toponav.control.memory.ObstacleMemory`), registered at the pose the robot had when the scan was
taken (the current pose dead-reckoned back by ``scan_age``); the safety layer and DWA check the remembered
points too, so what fell between the beams of this scan is not forgotten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toponav.control.carrot import LocalCarrot
from toponav.control.config import HodatConfig
from toponav.control.dwa import DwaPlanner
from toponav.control.limits import clamp_velocity, limit_acceleration
from toponav.control.memory import ObstacleMemory
from toponav.control.safety import CLEAR, MODE_NAMES, STALE, SafetyLayer
from toponav.control.scan import clean_scan
from toponav.geometry import to_robot_polar


@dataclass
class ControlDecision:
    """What the controller did this step and why (published as status, logged on changes)."""

    cmd: np.ndarray  # (2,) final (v, ω)
    source: str  # "safety" | "subgoal" | "goal" | "idle" | "reached" | "unreachable"
    planner: str  # "learned" | "dwa" | "safety_only"
    safety: str  # safety-layer outcome name
    distance: float  # to the active target (m), nan without one
    ttc: float
    clearance: float


class _Stall:
    """How long a distance has gone without shrinking by ``min_gain`` (both watchdogs of the controller)."""

    def __init__(self, min_gain: float) -> None:
        self.min_gain = min_gain
        self.reset()

    def reset(self) -> None:
        self.best = math.inf
        self.since: float | None = None  # time of the last progress; None = nothing seen yet

    def update(self, dist: float, now: float, restart: float = -math.inf) -> float:
        """Record ``dist`` at ``now``; seconds since the last progress. Progress restarts the clock at
        ``now``, or at ``restart`` if that is later."""
        if self.since is None or dist < self.best - self.min_gain:
            self.best, self.since = dist, max(now, restart)
        return now - self.since


class HodatController:
    """Stateful controller core (previous command, progress watchdog, reached flag)."""

    def __init__(self, cfg: HodatConfig, policy=None) -> None:
        self.cfg = cfg
        self.policy = policy
        self.planner = cfg.mode
        if self.planner == "learned" and policy is None:
            self.planner = "dwa"  # the caller logs why (missing/corrupt checkpoint)
        self.dwa = DwaPlanner(cfg.dwa, cfg.robot)
        self.safety = SafetyLayer(cfg.safety, cfg.robot.radius, cfg.robot.max_w, cfg.robot.max_v)
        self.subgoal: np.ndarray | None = None
        self.goal: np.ndarray | None = None
        self.prev_cmd = np.zeros(2)
        self._target_stall = _Stall(cfg.progress_min)  # -> unreachable after progress_timeout
        self._goal_stall = _Stall(cfg.progress_min)  # -> DWA fallback after fallback_after (learned mode)
        self._watch_ref: np.ndarray | None = None  # the point _goal_stall measures the distance to
        self._fallback_until = -math.inf  # DWA drives until then
        self.local = LocalCarrot(cfg.local_plan, cfg.robot.radius) if cfg.local_plan.enabled else None
        self.memory = ObstacleMemory(cfg.memory) if cfg.memory.enabled else None
        self._reset_target_state()

    # -- targets ------------------------------------------------------------------------------------
    def _reset_target_state(self) -> None:
        self.reached = False
        self.unreachable = False
        self._unreachable_at = math.inf
        self._target_stall.reset()

    def set_subgoal(self, xy) -> None:
        new = None if xy is None else np.asarray(xy, dtype=np.float64)[:2]
        if new is not None and not np.isfinite(new).all():
            raise ValueError(f"sub-goal must be finite, got {xy!r}")
        if new is None or self.subgoal is None or np.hypot(*(new - self.subgoal)) > 1e-3:
            self._reset_target_state()
        self.subgoal = new

    def set_goal(self, xy) -> None:
        new = None if xy is None else np.asarray(xy, dtype=np.float64)[:2]
        if new is not None and not np.isfinite(new).all():
            raise ValueError(f"goal must be finite, got {xy!r}")
        if new is None or self.goal is None or np.hypot(*(new - self.goal)) > 1e-3:
            self._watch_ref = None  # the fallback watch restarts on the new goal
        if self.subgoal is None:
            self._reset_target_state()
        self.goal = new

    def target(self) -> tuple[np.ndarray | None, str]:
        if self.subgoal is not None:
            return self.subgoal, "subgoal"
        if self.goal is not None:
            return self.goal, "goal"
        return None, "idle"

    # -- one step -----------------------------------------------------------------------------------
    def step(self, pose, vel, ranges, angles, now: float, dt: float, range_min: float = 0.0,
             range_max: float | None = None, scan_age: float = 0.0, scan_new: bool = True,
             odom_age: float = 0.0) -> ControlDecision:
        """One control step. ``scan_age`` / ``odom_age``: seconds since the scan / the pose were taken (stamp to
        now); ``scan_new``: False when this scan was already given to an earlier step (it is then not added to
        the memory again)."""
        cfg = self.cfg
        rmax = float(range_max if range_max is not None and math.isfinite(range_max) else cfg.scan.range_max)
        scan = clean_scan(ranges, rmax, range_min, cfg.scan.max_invalid_fraction)
        vel = np.nan_to_num(np.asarray(vel, dtype=np.float64)[:2])
        age = float(scan_age) if math.isfinite(scan_age) else math.inf
        remembered = None
        scan_pose = False  # the pose the scan was taken from, when it is new and fresh (False: add it nowhere)
        if scan_new and age <= cfg.scan_timeout:
            # the scan was taken (scan_age - odom_age) s before the pose: move the pose back by that much
            scan_pose = _pose_back(pose, vel, age - (float(odom_age) if math.isfinite(odom_age) else 0.0))
        if self.memory is not None:
            if scan_pose is not False:
                self.memory.update(scan_pose, scan.ranges, angles, scan.valid, rmax, now)
            remembered = self.memory.points(pose)
        target, source = self.target()
        dist = math.nan
        proposal = np.zeros(2)
        planner = self.planner
        if target is not None:
            dist, bearing = to_robot_polar(tuple(pose), tuple(target))
            if dist <= cfg.goal_tolerance:
                self.reached = True
            if not self.reached:
                self._watch_progress(dist, now)
            if self.reached:
                source = "reached"
            elif self.unreachable:
                source = "unreachable"
            else:
                planner = self._choose_planner(pose, now)
                aim_dist = dist
                if self.local is not None:
                    aim = self.local.aim(pose, scan.ranges, angles, rmax, target, scan_pose)
                    aim_dist, bearing = to_robot_polar(tuple(pose), tuple(aim))
                    if np.hypot(*(aim - np.asarray(target, dtype=np.float64)[:2])) > 1e-6:
                        # a carrot on the way, not the target: the robot drives on past it, so the planner is not
                        # told it is arriving (DWA slows down near its goal; with a carrot 0.5 m ahead of a robot
                        # beside a tree it crept at 0.08 m/s for 12 s, stack_sim forest 1000009)
                        aim_dist = max(aim_dist, min(dist, cfg.local_plan.pass_distance))
                proposal = self._propose(planner, scan, angles, vel, aim_dist, bearing, rmax, dt, remembered)
        cmd = limit_acceleration(proposal, self.prev_cmd, dt, cfg.robot) if np.any(proposal) else clamp_velocity(
            proposal, cfg.robot)
        res = self.safety.filter(cmd, scan.ranges, angles, scan.valid, scan.blind, rmax, age=age,
                                 speed=abs(float(vel[0])), memory=remembered, max_age=cfg.scan_timeout)
        final = clamp_velocity(res.cmd[0], cfg.robot)
        mode = int(res.mode[0])
        if mode != CLEAR and (source in ("subgoal", "goal") or scan.blind[0] or mode == STALE):
            source = "safety"
        self.prev_cmd = final
        return ControlDecision(final, source, planner, MODE_NAMES[mode], float(dist), float(res.ttc[0]),
                        float(res.clearance[0]))

    def _watch_progress(self, dist: float, now: float) -> None:
        if self.unreachable and self.cfg.retry_after > 0 and now - self._unreachable_at >= self.cfg.retry_after:
            # the same sub-goal again after the hold: a fresh try (the recoveries may free the robot this time)
            self._reset_target_state()
        stalled = self._target_stall.update(dist, now)
        if self.cfg.progress_timeout > 0 and stalled > self.cfg.progress_timeout and not self.unreachable:
            self.unreachable = True
            self._unreachable_at = now

    def _choose_planner(self, pose, now: float) -> str:
        """The learned policy, or DWA while a no-progress fallback is running (see the module docstring)."""
        if self.planner != "learned" or self.cfg.fallback_after <= 0:
            return self.planner
        ref = self.goal if self.goal is not None else self.subgoal
        # a sub-goal watched in place of a goal restarts the watch only when it really moves (a carrot
        # creeping ahead of a robot that makes progress is new ground; one parked in front of a circling
        # robot is not)
        if self._watch_ref is None or np.hypot(*(ref - self._watch_ref)) > 0.5:
            self._goal_stall.reset()
            self._watch_ref = ref.copy()
        d = float(np.hypot(*(np.asarray(pose[:2], dtype=np.float64) - ref)))
        # progress made while DWA holds control still leaves the policy a full window after the hold
        stalled = self._goal_stall.update(d, now, restart=self._fallback_until)
        if now < self._fallback_until:
            return "dwa"
        if stalled > self.cfg.fallback_after:
            self._fallback_until = now + self.cfg.fallback_hold
            self._goal_stall.since = self._fallback_until
            return "dwa"
        return "learned"

    def _propose(self, planner: str, scan, angles, vel, dist: float, bearing: float, rmax: float,
                 dt: float, remembered: np.ndarray | None = None) -> np.ndarray:
        if planner == "learned":
            return np.asarray(self.policy.command(scan.ranges, angles, np.array([dist, bearing]), vel), dtype=float)
        if planner == "dwa":
            goal = np.array([dist * math.cos(bearing), dist * math.sin(bearing)])
            return self.dwa.plan(scan.ranges, angles, vel, goal, scan.valid, rmax, dt, extra=remembered)
        # safety_only: straight-line pursuit, the safety layer does all the avoiding
        r = self.cfg.robot
        w = float(np.clip(self.cfg.pursuit_gain * bearing, -r.max_w, r.max_w))
        v = r.max_v * max(math.cos(bearing), 0.0) * min(1.0, dist / 1.0)
        return np.array([v, w])


def _pose_back(pose, vel: np.ndarray, age: float) -> tuple[float, float, float]:
    """Where the robot was ``age`` seconds before ``pose``, dead-reckoned along its current (v, ω): the scan's
    pose. A negative age (a scan newer than the pose) moves forward; more than 0.5 s either way is not
    trusted to dead reckoning (the scan is stale by then anyway)."""
    x, y, yaw = (float(p) for p in pose[:3])
    if not math.isfinite(age) or age == 0.0:
        return x, y, yaw
    age = min(max(age, -0.5), 0.5)
    v, w = float(vel[0]), float(vel[1])
    mid = yaw - 0.5 * w * age
    return x - v * age * math.cos(mid), y - v * age * math.sin(mid), yaw - w * age

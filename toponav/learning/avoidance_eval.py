"""Held-out evaluation of the avoidance policy in the twin: the numbers ``toponav train policy`` writes into the
model card of ``avoidance_policy.pt``.

Two measurements, both deterministic (the policy's mean action): BARN held-out routes start -> goal, with the
goal itself or the deployed carrot sub-goals as the policy's target (:func:`evaluate_route`, scored with the
BARN metric of :mod:`toponav.evaluation.metrics`), and local sub-goals in held-out forests run by the training
task itself (:class:`toponav.learning.avoidance_task.AvoidanceTask` with the sparse reward). The PyBullet
side-by-side comparison with DWA is ``toponav bench barn``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from toponav.control.carrot import ScanCarrot
from toponav.control.config import ObservationConfig, SafetyConfig
from toponav.control.observation import action_to_cmd, build_observation
from toponav.control.safety import SafetyLayer
from toponav.control.scan import clean_scan
from toponav.evaluation.metrics import barn_reference_time, barn_score
from toponav.learning.avoidance_task import AvoidanceTask, Stage, TaskConfig, robot_polar
from toponav.robot import AgvParams, LidarParams
from toponav.sim.twin import VecAgvTwin
from toponav.worlds import World, barn_heldout_indices, heldout_seeds, make_world

#: (ranges (N, B), angles (B,), sub-goal polar (N, 2), velocity (N, 2)) -> commands (N, 2)
PolicyFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def evaluate_route(policy_fn: PolicyFn, worlds: Sequence[World], robot: AgvParams, lidar: LidarParams,
                   safety_cfg: SafetyConfig, dt: float = 0.1, timeout_s: float = 100.0, goal_radius: float = 0.5,
                   subgoals: str = "goal") -> list[dict]:
    """Run every world's own start->goal route once in the twin (batched), deterministic policy.

    ``subgoals``: "goal" = the policy is given the goal itself; "scan" = carrots 2 m along a path planned
    on the lidar hits seen so far (:class:`toponav.control.carrot.ScanCarrot`).
    """
    n = len(worlds)
    twin = VecAgvTwin(worlds, n, robot, lidar, dt, world_index=np.arange(n))
    layer = SafetyLayer(safety_cfg, robot.radius, robot.max_w)
    angles = np.asarray(lidar.angles(), dtype=np.float64)
    goals = np.array([w.goal for w in worlds], dtype=np.float64)
    active = np.ones(n, dtype=bool)
    result = [{"world": w.name, "success": False, "collision": False, "timeout": False, "time": timeout_s}
              for w in worlds]
    carrots = [ScanCarrot(w.bounds, w.goal, robot.radius) for w in worlds] if subgoals == "scan" else None
    for k in range(int(timeout_s / dt)):
        pose = twin.pose
        scan = clean_scan(twin.scan(), lidar.range_max)
        targets = goals if carrots is None else np.array(
            [c.update(pose[i], scan.ranges[i], angles, lidar.range_max) if active[i] else goals[i]
             for i, c in enumerate(carrots)])
        cmd = policy_fn(scan.ranges, angles, robot_polar(pose, targets), twin.vel)
        cmd = layer.filter(cmd, scan.ranges, angles, scan.valid, None, lidar.range_max).cmd
        cmd[~active] = 0.0
        out = twin.step(cmd)
        t = (k + 1) * dt
        dist = np.hypot(*(goals - out.pose[:, :2]).T)
        for i in np.nonzero(active & (out.collided | (dist <= goal_radius)))[0]:
            ok = bool(dist[i] <= goal_radius and not out.collided[i])
            result[i].update(success=ok, collision=not ok, time=t)
            active[i] = False
        if not active.any():
            break
    for i in np.nonzero(active)[0]:
        result[i]["timeout"] = True
    return result


def evaluate_policy(agent, obs_cfg: ObservationConfig, robot: AgvParams, lidar: LidarParams,
                    safety_cfg: SafetyConfig, eval_barn: int, eval_local: int) -> dict:
    """Held-out numbers for the model card: ``eval_barn`` BARN held-out routes (goal and carrot sub-goals) and
    ``eval_local`` forest local sub-goal episodes (twin). ``agent.act(obs)`` is the deterministic policy."""

    def policy_fn(ranges, angles, polar, vel):
        return action_to_cmd(agent.act(build_observation(obs_cfg, robot, ranges, angles, polar, vel)), robot)

    out: dict = {}
    if eval_barn:
        worlds = [make_world(f"barn:{i}") for i in barn_heldout_indices()[:eval_barn]]
        for subgoals, key in (("goal", "twin_barn_heldout"), ("scan", "twin_barn_heldout_scan")):
            res = evaluate_route(policy_fn, worlds, robot, lidar, safety_cfg, subgoals=subgoals)
            scores = [barn_score(barn_reference_time(w), r["success"], r["time"]) for w, r in zip(worlds, res)]
            out[key] = {
                "worlds": len(worlds), "subgoals": subgoals, "score": round(float(np.mean(scores)), 4),
                "success": round(float(np.mean([r["success"] for r in res])), 3),
                "collision": round(float(np.mean([r["collision"] for r in res])), 3),
                "timeout": round(float(np.mean([r["timeout"] for r in res])), 3)}
            print(f"[eval] twin BARN held-out ({len(worlds)} worlds, sub-goals: {subgoals}): {out[key]}", flush=True)
    if eval_local:
        stage = Stage("forest_heldout", [make_world("forest", s) for s in heldout_seeds(8)], "local")
        task = AvoidanceTask(stage, 16, TaskConfig(reward="sparse"), obs_cfg, robot, lidar, safety_cfg,
                             seed=12345)
        done_eps: list[dict] = []
        obs = task.observe()
        while len(done_eps) < eval_local:
            obs, _, _, _, info = task.step(action_to_cmd(agent.act(obs), robot))
            for k in range(len(info.get("success", ()))):
                done_eps.append({key: float(v[k]) for key, v in info.items()})
        done_eps = done_eps[:eval_local]
        out["twin_forest_local_heldout"] = {
            "episodes": len(done_eps), "success": round(float(np.mean([e["success"] for e in done_eps])), 3),
            "collision": round(float(np.mean([e["collision"] for e in done_eps])), 3)}
        print(f"[eval] twin forest held-out local sub-goals: {out['twin_forest_local_heldout']}", flush=True)
    return out

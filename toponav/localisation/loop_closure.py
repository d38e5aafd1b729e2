"""Accept or reject a proposed loop closure on a :class:`~toponav.localisation.pose_graph.PoseGraph2D`.

A closure proposed by the place descriptors and verified by scan registration can still be wrong: two
look-alike rooms register well against each other. What tells them apart is the odometry: if the graph
predicts the two keyframes' relative pose to within ~0.1 m and registration says they are 5 m apart from that
prediction, the match is a twin, not a revisit. Two gates, before and after optimisation:

1. :func:`gate_closure` (cheap, nothing changes): the squared Mahalanobis distance of the measured relative
   pose from the predicted one, under the sum of the predicted covariance
   (:meth:`PoseGraph2D.relative_covariance`) and the measurement's own, must stay below a chi-square gate with 3
   degrees of freedom; the correction it implies must also stay below absolute caps (a backstop for when the
   predicted covariance is too wide to say anything).
2. :func:`add_closure`: adds the edge, optimises (robust kernel on loop edges), and keeps the edge only if
   every loop edge's chi-square after optimisation stays below a gate; otherwise it removes the edge and
   restores the poses, so a closure that conflicts with the closures already in the graph leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toponav.config import param, validate
from toponav.geometry import se2_between
from toponav.localisation.pose_graph import (
    OptimiseResult,
    PoseGraph2D,
    check_information,
    check_pose,
    edge_errors,
    edge_jacobians,
)


@dataclass
class LoopClosureConfig:
    """Gates for a proposed closure. Chi-square points are for 3 dof (x, y, yaw)."""

    chi2_gate: float = param(25.0, "pre-gate on the squared Mahalanobis distance of measured vs predicted relative "
                             "pose. Lenient on purpose (99 % of chi-square(3) is 11.34): the odometry covariance "
                             "of a random-walk noise model understates systematic drift (a yaw bias), so a strict "
                             "gate refuses correct closures after a long drive; a twin room 5 m off under 0.1 m "
                             "drift still scores in the thousands, and post_chi2 checks the rest", min=0.0)
    max_correction: float = param(2.0, "refuse a closure that moves a keyframe more than this (m) relative to the "
                                  "other, whatever the covariance says: realistic wheel odometry drifts ~1-2 % of "
                                  "the distance, and the mapper proposes revisits within 4 m", min=0.0)
    max_yaw_correction: float = param(0.5, "same cap for the yaw correction (rad, ~29 degrees): beyond it the "
                                      "first-order covariance no longer describes the error", min=0.0)
    post_chi2: float = param(11.34, "after optimising with the new edge, every loop edge's plain chi-square "
                             "e^T Ω e must stay below this (99 % of chi-square(3)); a larger one means the new "
                             "closure conflicts with the others, and it is removed again", min=0.0)
    fixed: int = param(0, "node held fixed when add_closure optimises (the gauge; the first keyframe)", min=0)

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class ClosureCheck:
    """What happened to a proposed closure. ``mahalanobis`` is the squared Mahalanobis distance (a chi-square
    value with 3 dof, comparable with ``chi2_gate``), ``correction`` the translation (m) between measured and
    predicted relative pose."""

    accepted: bool
    mahalanobis: float
    correction: float
    reason: str
    edge: int | None = None
    result: OptimiseResult | None = None


def gate_closure(graph: PoseGraph2D, i: int, j: int, measurement: np.ndarray, information: np.ndarray,
                 cfg: LoopClosureConfig | None = None) -> ClosureCheck:
    """Check a proposed closure i <-> j (``measurement`` = observed ``se2_between(pose_i, pose_j)``) against the
    graph's prediction without changing the graph. ValueError on bad input (as :meth:`PoseGraph2D.add_edge`)."""
    cfg = cfg or LoopClosureConfig()
    graph.check_node(i, "node i")
    graph.check_node(j, "node j")
    if int(i) == int(j):
        raise ValueError(f"a loop closure needs two different nodes, got {i} twice")
    z = check_pose(measurement, "measurement")
    info = check_information(information)
    poses = graph.poses
    pred = se2_between(poses[i], poses[j])
    err = edge_errors(z[None], pred[None], np.zeros((1, 3)))[0]
    d_z, d_pred = (m[0] for m in edge_jacobians(z[None], pred[None], np.zeros((1, 3))))
    cov = d_pred @ graph.relative_covariance(i, j) @ d_pred.T + d_z @ np.linalg.inv(info) @ d_z.T
    d2 = float(err @ np.linalg.solve(cov, err))
    corr = float(np.hypot(err[0], err[1]))
    std = float(np.sqrt(max(np.trace(cov[:2, :2]), 0.0)))
    if d2 > cfg.chi2_gate:
        return ClosureCheck(False, d2, corr, f"Mahalanobis chi2 {d2:.1f} exceeds chi2_gate {cfg.chi2_gate:.2f}: "
                            f"a {corr:.2f} m correction where the predicted position uncertainty is {std:.2f} m "
                            "(look-alike place?)")
    if corr > cfg.max_correction:
        return ClosureCheck(False, d2, corr, f"correction {corr:.2f} m exceeds max_correction "
                            f"{cfg.max_correction:.2f} m")
    if abs(err[2]) > cfg.max_yaw_correction:
        return ClosureCheck(False, d2, corr, f"yaw correction {abs(err[2]):.2f} rad exceeds max_yaw_correction "
                            f"{cfg.max_yaw_correction:.2f} rad")
    return ClosureCheck(True, d2, corr, f"within gates (chi2 {d2:.1f}, correction {corr:.2f} m)")


def add_closure(graph: PoseGraph2D, i: int, j: int, measurement: np.ndarray, information: np.ndarray,
                cfg: LoopClosureConfig | None = None) -> ClosureCheck:
    """Gate, add the loop edge, optimise, and keep it only if no loop edge's chi-square then exceeds
    ``post_chi2``; otherwise remove it and restore the poses. The returned check says which happened."""
    cfg = cfg or LoopClosureConfig()
    check = gate_closure(graph, i, j, measurement, information, cfg)
    if not check.accepted:
        return check
    before = graph.poses
    edge = graph.add_edge(i, j, measurement, information, kind="loop")
    try:
        res = graph.optimise(fixed=cfg.fixed)
    except Exception:
        graph.remove_edge(edge)
        graph.set_poses(before)
        raise
    loop = np.array([graph.edge(int(e))[4] == "loop" for e in res.edge_ids], dtype=bool)
    new = res.edge_ids == edge
    worst = int(np.argmax(np.where(loop, res.chi2, -np.inf)))
    if res.chi2[loop].max() > cfg.post_chi2:
        graph.remove_edge(edge)
        graph.set_poses(before)
        which = "the new edge" if new[worst] else f"loop edge {int(res.edge_ids[worst])}"
        return ClosureCheck(False, check.mahalanobis, check.correction,
                            f"post-optimisation chi2 {res.chi2[worst]:.1f} of {which} exceeds post_chi2 "
                            f"{cfg.post_chi2:.2f}: the closure conflicts with the graph; removed, poses restored",
                            result=res)
    return ClosureCheck(True, check.mahalanobis, check.correction,
                        f"{check.reason}; optimised in {res.iterations} iterations, new edge chi2 "
                        f"{float(res.chi2[new][0]):.2f}", edge=edge, result=res)

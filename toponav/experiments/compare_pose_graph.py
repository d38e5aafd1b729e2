"""Pose-graph back ends side by side (issue 17): our sparse Levenberg-Marquardt
(:class:`toponav.localisation.pose_graph.PoseGraph2D`), ``scipy.optimize.least_squares`` ("trf" with the same
analytic sparse Jacobian) and, when importable, gtsam's Levenberg-Marquardt and Gauss-Newton, on seeded synthetic
graphs with ground truth:

- ``manhattan``: a Manhattan-world grid walk (1 m steps, 90 degree turns, M3500-like) of ``--manhattan-nodes``
  poses, with a loop closure on a share of the revisits of a grid cell;
- ``toponav``: a mapper-sized graph of ``--toponav-nodes`` keyframes 0.5 m apart, realistic wheel-odometry noise
  and ``--loops`` closures.

Every solution is scored with the same measure: the plain cost sum(e^T Ω e) of
:meth:`PoseGraph2D.chi2` and the ATE (translation RMSE against the ground truth, no alignment: node 0 is held at
its true pose by every solver). Times are the median and minimum of ``--repeats`` runs from the odometry initial
estimate, solvers interleaved (a burst of load on a shared machine hits them all), graph construction excluded.

Run: ``python -m toponav.experiments.compare_pose_graph`` (gtsam: ``pip install --target DIR gtsam==4.3.0`` and
pass ``--gtsam-path DIR``; it is not a dependency of toponav).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.optimize import least_squares

from toponav.geometry import se2_between, se2_compose
from toponav.localisation.loop_closure import LoopClosureConfig, add_closure
from toponav.localisation.pose_graph import PoseGraph2D, PoseGraphConfig, edge_errors, edge_jacobians

Problem = tuple[str, PoseGraph2D, np.ndarray]


def _walk(n: int, step: float, turn_p: float, box: float, rng: np.random.Generator) -> np.ndarray:
    """Ground-truth grid walk: ``step`` forward, left/right 90 degree turns, kept inside a ``box`` x ``box`` area."""
    poses = [np.zeros(3)]
    for _ in range(n - 1):
        turns = [0.0, np.pi / 2, -np.pi / 2]
        probs = np.array([1.0 - turn_p, turn_p / 2, turn_p / 2])
        ok = [abs(se2_compose(poses[-1], np.array([step, 0.0, t]))[:2]).max() <= box / 2
              and abs(se2_compose(se2_compose(poses[-1], np.array([step, 0.0, t])), np.array([step, 0, 0]))[:2]).max()
              <= box / 2 for t in turns]
        p = probs * np.array(ok, dtype=float)
        p = probs if p.sum() == 0 else p / p.sum()
        poses.append(se2_compose(poses[-1], np.array([step, 0.0, rng.choice(turns, p=p)])))
    out = np.array(poses)
    out[:, :2] = np.round(out[:, :2] / step) * step  # exact grid (no float creep), so revisits are exact
    return out


def _graph(truth: np.ndarray, odom_sigma: np.ndarray, loop_sigma: np.ndarray, pairs: list[tuple[int, int]],
           rng: np.random.Generator, cfg: PoseGraphConfig) -> PoseGraph2D:
    """Odometry chain (noisy steps, dead-reckoned initial estimate) plus noisy loop edges for ``pairs``."""
    g = PoseGraph2D(cfg)
    g.add_node(truth[0])
    odom_info, loop_info = np.diag(odom_sigma**-2.0), np.diag(loop_sigma**-2.0)
    for k in range(1, len(truth)):
        z = se2_between(truth[k - 1], truth[k]) + odom_sigma * rng.normal(size=3)
        g.add_node(se2_compose(g.poses[-1], z))
        g.add_edge(k - 1, k, z, odom_info)
    for i, j in pairs:
        g.add_edge(i, j, se2_between(truth[i], truth[j]) + loop_sigma * rng.normal(size=3), loop_info, "loop")
    return g


def manhattan(n: int, seed: int, cfg: PoseGraphConfig) -> Problem:
    """M3500-like: 1 m steps in a 30 m box, odometry sigma (0.05 m, 0.05 m, 0.01 rad), a closure on 30 % of the
    revisits of a grid cell last seen at least 10 poses earlier."""
    rng = np.random.default_rng(seed)
    truth = _walk(n, 1.0, 0.3, 30.0, rng)
    seen: dict[tuple[int, int], int] = {}
    pairs = []
    for k, p in enumerate(truth):
        key = (round(p[0]), round(p[1]))
        if key in seen and k - seen[key] >= 10 and rng.random() < 0.3:
            pairs.append((k, seen[key]))
        seen[key] = k
    g = _graph(truth, np.array([0.05, 0.05, 0.01]), np.array([0.05, 0.05, 0.01]), pairs, rng, cfg)
    return f"manhattan {n} poses, {len(pairs)} loops", g, truth


def toponav_sized(n: int, loops: int, seed: int, cfg: PoseGraphConfig) -> Problem:
    """Mapper-sized: keyframes 0.5 m apart in a 20 m box, wheel odometry sigma (0.01 m, 0.01 m, 0.005 rad) per
    keyframe (~1 % yaw drift), ``loops`` closures (sigma 0.02 m, 0.01 rad) from evenly spaced later keyframes to
    the nearest keyframe at least 20 keyframes older."""
    rng = np.random.default_rng(seed)
    truth = _walk(n, 0.5, 0.15, 20.0, rng)
    pairs = []
    for k in np.linspace(n // 4, n - 1, loops).astype(int):
        d = np.hypot(*(truth[: k - 20, :2] - truth[k, :2]).T)
        pairs.append((int(k), int(np.argmin(d))))
    g = _graph(truth, np.array([0.01, 0.01, 0.005]), np.array([0.02, 0.02, 0.01]), pairs, rng, cfg)
    return f"toponav {n} keyframes, {loops} loops", g, truth


FALSE_BINS = ((1.0, 2.0), (2.0, 4.0), (4.0, 8.0))
#: how a ClosureCheck.reason starts -> the gate that refused (loop_closure's reasons)
REJECTION_GATES = (("correction", "max_correction"), ("yaw correction", "max_yaw_correction"),
                   ("Mahalanobis", "chi2_gate"), ("post-optimisation", "post_chi2"))


def gating_run(n: int, seed: int, every: int = 10, yaw_bias: float = 0.001,
               cfg: LoopClosureConfig | None = None) -> dict[str, float]:
    """The orchestrator's loop, online: keyframes 0.5 m apart (odometry sigma 0.01 m, 0.01 m, 0.005 rad per
    keyframe plus ``yaw_bias`` rad per keyframe, a systematic drift the covariance does not model); every ``every``
    keyframes one true revisit is proposed when an older keyframe (>= 20 back) lies within 1.5 m (registration
    sigma 0.02 m, 0.01 rad) and one false one to a random older keyframe 1-2, 2-4 or 4-8 m away whose scans
    "look the same": registration aligns them almost on top of each other (offset ~N(0, 0.2 m), yaw ~N(0, 0.05
    rad)). Every proposal goes through :func:`add_closure`. Returns the counts and the ATE of dead reckoning and of
    the graph."""
    rng = np.random.default_rng(seed)
    truth = _walk(n, 0.5, 0.15, 20.0, rng)
    odom_sigma, reg_sigma = np.array([0.01, 0.01, 0.005]), np.array([0.02, 0.02, 0.01])
    odom_info, reg_info = np.diag(odom_sigma**-2.0), np.diag(reg_sigma**-2.0)
    g = PoseGraph2D()
    g.add_node(truth[0])
    dead = [truth[0]]
    out = {"true_proposed": 0, "true_accepted": 0, **{f"false_{a:g}-{b:g}m_{w}": 0 for a, b in FALSE_BINS
                                                       for w in ("proposed", "accepted")},
           **{f"rejected_by_{name}": 0 for _, name in REJECTION_GATES}}
    times = []
    for k in range(1, n):
        z = se2_between(truth[k - 1], truth[k]) + odom_sigma * rng.normal(size=3) + np.array([0.0, 0.0, yaw_bias])
        g.add_node(se2_compose(g.poses[k - 1], z))
        g.add_edge(k - 1, k, z, odom_info)
        dead.append(se2_compose(dead[-1], z))
        if k < 40 or k % every:
            continue
        d = np.hypot(*(truth[: k - 20, :2] - truth[k, :2]).T)
        near = int(np.argmin(d))
        if d[near] < 1.5:
            t = time.perf_counter()
            c = add_closure(g, k, near, se2_between(truth[k], truth[near]) + reg_sigma * rng.normal(size=3),
                            reg_info, cfg)
            times.append(time.perf_counter() - t)
            out["true_proposed"] += 1
            out["true_accepted"] += int(c.accepted)
        a, b = FALSE_BINS[int(rng.integers(len(FALSE_BINS)))]  # distance band first: near twins are the hard case
        far = np.flatnonzero((d >= a) & (d < b))
        if far.size:
            m = int(rng.choice(far))
            look_alike = np.array([0.2, 0.2, 0.05]) * rng.normal(size=3)
            c = add_closure(g, k, m, look_alike, reg_info, cfg)
            out[f"false_{a:g}-{b:g}m_proposed"] += 1
            out[f"false_{a:g}-{b:g}m_accepted"] += int(c.accepted)
            if not c.accepted:
                gate = next(name for key, name in REJECTION_GATES if c.reason.startswith(key))
                out[f"rejected_by_{gate}"] += 1
    out.update(path_m=0.5 * (n - 1), ate_dead_reckoning=ate(np.array(dead), truth), ate_graph=ate(g.poses, truth),
               add_closure_ms=1e3 * statistics.median(times) if times else float("nan"))
    return out


def _edges(g: PoseGraph2D) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rec = [g.edge(int(e)) for e in g.edge_ids]
    return (np.array([r[0] for r in rec]), np.array([r[1] for r in rec]), np.stack([r[2] for r in rec]),
            np.stack([r[3] for r in rec]))


def solve_ours(g: PoseGraph2D) -> tuple[np.ndarray, int]:
    res = g.optimise(fixed=0)
    return res.poses, res.iterations


def solve_ours_robust(g: PoseGraph2D) -> tuple[np.ndarray, int]:
    """Ours with the default config (Cauchy kernel on loop edges), as the mapper runs it."""
    g.cfg = PoseGraphConfig()
    return solve_ours(g)


def solve_least_squares(g: PoseGraph2D) -> tuple[np.ndarray, int]:
    """scipy least_squares "trf" on whitened residuals with the analytic sparse Jacobian (node 0 fixed)."""
    ii, jj, z, info = _edges(g)
    u = np.transpose(np.linalg.cholesky(info), (0, 2, 1))  # U^T U = Ω
    x0 = g.poses
    n, e = len(x0), len(ii)

    def full(v: np.ndarray) -> np.ndarray:
        return np.vstack([x0[:1], v.reshape(-1, 3)])

    def fun(v: np.ndarray) -> np.ndarray:
        x = full(v)
        return np.einsum("eab,eb->ea", u, edge_errors(x[ii], x[jj], z)).ravel()

    rows = np.repeat(np.arange(3 * e).reshape(e, 3), 3, axis=1).reshape(e, 3, 3)

    def jac(v: np.ndarray) -> sp.csr_matrix:
        x = full(v)
        a, b = edge_jacobians(x[ii], x[jj], z)
        data, r, c = [], [], []
        for blk, node in ((np.einsum("eab,ebc->eac", u, a), ii), (np.einsum("eab,ebc->eac", u, b), jj)):
            cols = (node[:, None, None] - 1) * 3 + np.arange(3)[None, None, :]
            keep = np.broadcast_to(node[:, None, None] > 0, blk.shape)
            data.append(blk[keep])
            r.append(rows[keep])
            c.append(np.broadcast_to(cols, blk.shape)[keep])
        return sp.csr_matrix((np.concatenate(data), (np.concatenate(r), np.concatenate(c))),
                             shape=(3 * e, 3 * (n - 1)))

    res = least_squares(fun, x0[1:].ravel(), jac=jac, method="trf", x_scale="jac", max_nfev=200)
    x = full(res.x)
    x[:, 2] = (x[:, 2] + np.pi) % (2 * np.pi) - np.pi
    return x, int(res.nfev)


def gtsam_solver(gtsam: object, method: str) -> Callable[[PoseGraph2D], tuple[np.ndarray, int]]:
    def solve(g: PoseGraph2D) -> tuple[np.ndarray, int]:
        ii, jj, z, info = _edges(g)
        x0 = g.poses
        fg = gtsam.NonlinearFactorGraph()
        fg.add(gtsam.PriorFactorPose2(0, gtsam.Pose2(*x0[0]), gtsam.noiseModel.Isotropic.Sigma(3, 1e-6)))
        for i, j, zz, om in zip(ii, jj, z, info, strict=True):
            noise = gtsam.noiseModel.Gaussian.Information(om)
            fg.add(gtsam.BetweenFactorPose2(int(i), int(j), gtsam.Pose2(*zz), noise))
        init = gtsam.Values()
        for k, p in enumerate(x0):
            init.insert(k, gtsam.Pose2(*p))
        if method == "lm":
            opt = gtsam.LevenbergMarquardtOptimizer(fg, init, gtsam.LevenbergMarquardtParams())
        else:
            opt = gtsam.GaussNewtonOptimizer(fg, init, gtsam.GaussNewtonParams())
        out = opt.optimize()
        x = np.array([[out.atPose2(k).x(), out.atPose2(k).y(), out.atPose2(k).theta()] for k in range(len(x0))])
        return x, int(opt.iterations())
    return solve


def ate(x: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((x[:, :2] - truth[:, :2]) ** 2, axis=1))))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manhattan-nodes", type=int, nargs="*", default=[500, 3500],
                        help="sizes of the M3500-like grid-walk graphs")
    parser.add_argument("--toponav-nodes", type=int, nargs="*", default=[100, 300],
                        help="sizes of the mapper-sized graphs (at least 100: closures reach 20 keyframes back)")
    parser.add_argument("--loops", type=int, default=5, help="closures in the toponav-sized graphs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the walks and the noise")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per solver and graph (median)")
    parser.add_argument("--gating-seeds", type=int, default=5,
                        help="online runs of the closure gates with true and look-alike proposals (0 skips)")
    parser.add_argument("--gating-nodes", type=int, default=300, help="keyframes per gating run (0.5 m apart)")
    parser.add_argument("--gtsam-path", default="", help="folder gtsam was pip-installed into with --target")
    parser.add_argument("--least-squares-max-nodes", type=int, default=1000,
                        help="run scipy least_squares only on graphs up to this size (it hits its evaluation cap "
                        "already at 300 nodes; 0 skips it)")


def run(ns: argparse.Namespace) -> int:
    if ns.gtsam_path:
        sys.path.append(ns.gtsam_path)  # appended: its bundled numpy must not shadow ours
    try:
        import gtsam  # optional: measured only where installed
    except ImportError:
        gtsam = None
        print("gtsam not importable: `pip install --target DIR gtsam==4.3.0` and pass --gtsam-path DIR to compare")
    cfg_plain = PoseGraphConfig(robust_loss="none")  # every solver minimises the same plain least-squares cost
    solvers: dict[str, Callable[[PoseGraph2D], tuple[np.ndarray, int]]] = {
        "toponav LM (ours)": solve_ours, "toponav LM + Cauchy on loops (ours, default)": solve_ours_robust}
    solvers["scipy least_squares trf"] = solve_least_squares
    if gtsam is not None:
        solvers["gtsam LM"] = gtsam_solver(gtsam, "lm")
        solvers["gtsam GN"] = gtsam_solver(gtsam, "gn")
    problems: list[Callable[[], Problem]] = [
        *(lambda n=n: manhattan(n, ns.seed, cfg_plain) for n in ns.manhattan_nodes),
        *(lambda n=n: toponav_sized(n, ns.loops, ns.seed, cfg_plain) for n in ns.toponav_nodes)]
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; median of {ns.repeats} runs")
    if problems:
        print("| graph | solver | iterations | cost initial | cost final | ATE initial (m) | ATE final (m) | median ms "
              "| min ms |")
        print("|---|---|---|---|---|---|---|---|---|")
    for make in problems:
        name, g0, truth = make()
        cost0, ate0 = float(g0.chi2().sum()), ate(g0.poses, truth)
        active = {k: v for k, v in solvers.items()
                  if not (v is solve_least_squares and len(g0) > ns.least_squares_max_nodes)}
        times: dict[str, list[float]] = {k: [] for k in active}
        out: dict[str, tuple[np.ndarray, int]] = {}
        for _ in range(ns.repeats):  # solvers interleaved, so a burst of load on the shared machine hits them all
            for sname, solve in active.items():
                g = make()[1]  # fresh graph at the initial estimate (construction not timed)
                t = time.perf_counter()
                out[sname] = solve(g)
                times[sname].append(time.perf_counter() - t)
        for sname, (x, its) in out.items():
            print(f"| {name} | {sname} | {its} | {cost0:.4g} | {float(g0.chi2(x).sum()):.6g} | {ate0:.3f} | "
                  f"{ate(x, truth):.4f} | {1e3 * statistics.median(times[sname]):.1f} | "
                  f"{1e3 * min(times[sname]):.1f} |", flush=True)
    if ns.gating_seeds:
        bins = [f"{a:g}-{b:g}m" for a, b in FALSE_BINS]
        print("\nClosure gates online (add_closure on every proposal, default LoopClosureConfig):")
        print(f"| seed | path (m) | true accepted | {' | '.join(f'false {b} accepted' for b in bins)} | ATE dead "
              "reckoning (m) | ATE graph (m) | add_closure median ms | false refused by |")
        print("|---" * (7 + len(bins)) + "|")
        for seed in range(ns.seed, ns.seed + ns.gating_seeds):
            r = gating_run(ns.gating_nodes, seed)
            false = " | ".join(f"{r[f'false_{b}_accepted']}/{r[f'false_{b}_proposed']}" for b in bins)
            refused = ", ".join(f"{name} {r['rejected_by_' + name]}" for _, name in REJECTION_GATES)
            print(f"| {seed} | {r['path_m']:.0f} | {r['true_accepted']}/{r['true_proposed']} | {false} | "
                  f"{r['ate_dead_reckoning']:.3f} | {r['ate_graph']:.3f} | {r['add_closure_ms']:.1f} | "
                  f"{refused} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

"""Pose graph and loop-closure gates (issue 17): a drifted square is pulled back by one correct closure, a twin
room is refused, an outlier that slips through the pre-gate is undone, bad input is refused by name."""

from __future__ import annotations

import time

import numpy as np
import pytest

from toponav.geometry import se2_between, se2_compose
from toponav.localisation.loop_closure import LoopClosureConfig, add_closure, gate_closure
from toponav.localisation.pose_graph import PoseGraph2D, edge_errors, edge_jacobians

SIGMA_ODOM = np.array([0.02, 0.02, 0.01])  # per 0.5 m keyframe step: ~4 % translation, 0.6 degrees yaw
ODOM_INFO = np.diag(1.0 / SIGMA_ODOM**2)
LOOP_INFO = np.diag(1.0 / np.array([0.02, 0.02, 0.01]) ** 2)


def square_truth(side: float = 5.0, step: float = 0.5) -> np.ndarray:
    """Keyframes every ``step`` around a ``side`` x ``side`` square, ending back on the start (N = 4 side/step + 1)."""
    per = round(side / step)
    moves = ([np.array([step, 0.0, 0.0])] * (per - 1) + [np.array([step, 0.0, np.pi / 2])]) * 4
    poses = [np.zeros(3)]
    for m in moves:
        poses.append(se2_compose(poses[-1], m))
    return np.array(poses)


def odometry_graph(truth: np.ndarray, yaw_bias: float = 0.0, noise: float = 0.0, seed: int = 0) -> PoseGraph2D:
    """Graph whose nodes are the dead-reckoned odometry chain over ``truth`` (biased and/or noisy steps)."""
    rng = np.random.default_rng(seed)
    g = PoseGraph2D()
    g.add_node(truth[0])
    for k in range(1, len(truth)):
        z = se2_between(truth[k - 1], truth[k]) + np.array([0.0, 0.0, yaw_bias]) + noise * SIGMA_ODOM * rng.normal(
            size=3)
        n = g.add_node(se2_compose(g.poses[-1], z))
        g.add_edge(n - 1, n, z, ODOM_INFO)
    return g


def test_jacobians_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    xi, xj, z = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), 0.3 * rng.normal(size=(6, 3))
    a, b = edge_jacobians(xi, xj, z)
    for k in range(3):
        d = np.zeros(3)
        d[k] = 1e-6
        np.testing.assert_allclose((edge_errors(xi + d, xj, z) - edge_errors(xi - d, xj, z)) / 2e-6, a[:, :, k],
                                   atol=1e-7)
        np.testing.assert_allclose((edge_errors(xi, xj + d, z) - edge_errors(xi, xj - d, z)) / 2e-6, b[:, :, k],
                                   atol=1e-7)


def test_one_loop_closure_pulls_a_drifted_square_back() -> None:
    truth = square_truth()  # 41 keyframes, 20 m loop
    g = odometry_graph(truth, yaw_bias=0.004)  # ~0.16 rad of yaw drift over the loop
    end = len(truth) - 1
    err_before = float(np.hypot(*(g.poses[end, :2] - truth[end, :2])))
    assert err_before > 0.5  # the drift is real
    check = add_closure(g, end, 0, se2_between(truth[end], truth[0]), LOOP_INFO)
    assert check.accepted, check.reason
    err_after = float(np.hypot(*(g.poses[end, :2] - truth[end, :2])))
    assert err_after < 0.05 and err_after * 10 <= err_before, (err_before, err_after)
    # the whole trajectory is better, not only the end point
    ate_before = np.sqrt(np.mean(np.sum((odometry_graph(truth, 0.004).poses[:, :2] - truth[:, :2]) ** 2, axis=1)))
    ate_after = np.sqrt(np.mean(np.sum((g.poses[:, :2] - truth[:, :2]) ** 2, axis=1)))
    assert ate_after < 0.25 * ate_before


def twin_room_graph() -> tuple[PoseGraph2D, np.ndarray]:
    """Room A at x = 0, a 5 m corridor, look-alike room B at x = 5: 11 keyframes, ~0.06 m predicted drift."""
    truth = np.array([[0.5 * k, 0.0, 0.0] for k in range(11)])
    return odometry_graph(truth, noise=1.0, seed=3), truth


def test_false_closure_between_twin_rooms_is_rejected_and_graph_unchanged() -> None:
    g, truth = twin_room_graph()
    cov = g.relative_covariance(0, 10)
    assert 0.03 < np.sqrt(cov[0, 0] + cov[1, 1]) < 0.15  # the drift bound the gate relies on
    before, edges = g.poses, g.edge_ids
    # registration of the twin scans says "same spot": identity, confidently
    check = gate_closure(g, 10, 0, np.zeros(3), LOOP_INFO)
    assert not check.accepted and check.reason
    assert check.correction == pytest.approx(5.0, abs=0.3)
    # the statistical gate alone refuses it too, not only the absolute cap
    loose = LoopClosureConfig(max_correction=100.0)
    check = gate_closure(g, 10, 0, np.zeros(3), LOOP_INFO, loose)
    assert not check.accepted and "chi2_gate" in check.reason and check.mahalanobis > 1000, check.reason
    check = add_closure(g, 10, 0, np.zeros(3), LOOP_INFO, loose)
    assert not check.accepted and "chi2_gate" in check.reason and check.result is None  # refused before optimising
    # and the absolute caps alone refuse it when the covariance is too wide to say anything
    wide = LoopClosureConfig(chi2_gate=1e9)
    assert "max_correction" in gate_closure(g, 10, 0, np.zeros(3), LOOP_INFO, wide).reason
    turned = se2_between(g.poses[10], g.poses[0]) + np.array([0.0, 0.0, 0.7])
    assert "max_yaw_correction" in gate_closure(g, 10, 0, turned, LOOP_INFO, wide).reason
    np.testing.assert_array_equal(g.poses, before)
    np.testing.assert_array_equal(g.edge_ids, edges)
    # while the true revisit of the same place (room B seen again from its own pose) passes
    assert gate_closure(g, 10, 9, se2_between(truth[10], truth[9]), LOOP_INFO).accepted


def test_outlier_passing_the_pregate_is_removed_and_poses_restored() -> None:
    truth = square_truth()
    g = odometry_graph(truth, noise=1.0, seed=5)
    end = len(truth) - 1
    assert add_closure(g, end, 0, se2_between(truth[end], truth[0]), LOOP_INFO).accepted
    assert add_closure(g, 30, 10, se2_between(truth[30], truth[10]), LOOP_INFO).accepted  # across the square
    before, edges = g.poses, g.edge_ids
    # a weak registration (0.1 m, 0.05 rad) of 20 <-> 0 that is 0.5 m off: plausible for the lenient pre-gate,
    # but the two loops already pin the square, so after optimisation it is still 4 sigma off
    weak = np.diag(1.0 / np.array([0.1, 0.1, 0.05]) ** 2)
    bad = se2_between(truth[20], truth[0]) + np.array([0.5, 0.0, 0.0])
    pre = gate_closure(g, 20, 0, bad, weak)
    assert pre.accepted, pre.reason
    check = add_closure(g, 20, 0, bad, weak)
    assert not check.accepted and "post-optimisation" in check.reason, check.reason
    np.testing.assert_array_equal(g.poses, before)
    np.testing.assert_array_equal(g.edge_ids, edges)
    # the correct closure between the same keyframes is kept
    assert add_closure(g, 20, 0, se2_between(truth[20], truth[0]), weak).accepted


@pytest.mark.parametrize(("i", "j", "z", "info", "match"), [
    (1, 0, [np.nan, 0.0, 0.0], LOOP_INFO, "not finite"),
    (1, 0, [0.0, 0.0, 0.0], np.diag([1.0, 1.0, -1.0]), "positive definite"),
    (1, 0, [0.0, 0.0, 0.0], np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "symmetric"),
    (1, 0, [0.0, 0.0, 0.0], np.full((3, 3), np.inf), "not finite"),
    (1, 0, [0.0, 0.0, 0.0], np.eye(2), "3x3"),
    (70, 0, [0.0, 0.0, 0.0], LOOP_INFO, "unknown node"),
    (1, 1, [0.0, 0.0, 0.0], LOOP_INFO, "two different nodes"),
])
def test_bad_input_is_refused_with_a_message(i: int, j: int, z: list[float], info: np.ndarray, match: str) -> None:
    g, _ = twin_room_graph()
    before, edges = g.poses, g.edge_ids
    for call in (lambda: g.add_edge(i, j, np.array(z), info, "loop"),
                 lambda: gate_closure(g, i, j, np.array(z), info),
                 lambda: add_closure(g, i, j, np.array(z), info)):
        with pytest.raises(ValueError, match=match):
            call()
    np.testing.assert_array_equal(g.poses, before)
    np.testing.assert_array_equal(g.edge_ids, edges)
    with pytest.raises(ValueError, match="unknown edge kind"):
        g.add_edge(1, 0, np.zeros(3), LOOP_INFO, "gps")
    with pytest.raises(ValueError, match="not finite"):
        g.add_node(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="unknown edge"):
        g.remove_edge(999)


def test_to_dict_round_trip_keeps_poses_edges_and_ids() -> None:
    import json

    g, truth = twin_room_graph()
    g.remove_edge(3)
    e = g.add_edge(10, 9, se2_between(truth[10], truth[9]), LOOP_INFO, "loop")
    h = PoseGraph2D.from_dict(json.loads(json.dumps(g.to_dict())))
    np.testing.assert_array_equal(h.poses, g.poses)
    np.testing.assert_array_equal(h.edge_ids, g.edge_ids)
    np.testing.assert_allclose(h.chi2(), g.chi2())
    assert h.edge(e)[4] == "loop" and h.add_edge(0, 1, np.zeros(3), LOOP_INFO) == e + 1  # ids never reused
    bad = g.to_dict()
    bad["edges"][0]["information"][0][0] = -1.0
    with pytest.raises(ValueError, match="positive definite"):
        PoseGraph2D.from_dict(bad)


def test_odometry_only_optimise_keeps_the_chain_composition() -> None:
    truth = square_truth()
    g = odometry_graph(truth, noise=1.0, seed=7)
    chain = g.poses
    res = g.optimise()
    np.testing.assert_allclose(g.poses, chain, atol=1e-9)
    assert res.cost_after <= 1e-12 and res.chi2.shape == (len(truth) - 1,)


def test_relative_covariance_compounds_odometry_along_a_chain() -> None:
    """Marginal from the information matrix == first-order compounding (checked by Monte Carlo on the chain)."""
    step = np.array([0.5, 0.0, 0.05])
    g = PoseGraph2D()
    g.add_node(np.zeros(3))
    for _ in range(40):
        n = g.add_node(se2_compose(g.poses[-1], step))
        g.add_edge(n - 1, n, step, ODOM_INFO)
    cov = g.relative_covariance(5, 35)
    rng = np.random.default_rng(0)
    p = np.zeros((20000, 3))
    for _ in range(30):
        p = se2_compose(p, step + SIGMA_ODOM * rng.normal(size=(20000, 3)))
    mc = np.cov(p.T)
    np.testing.assert_allclose(cov, mc, rtol=0.08, atol=2e-5)
    # a loop edge back to node 5 shrinks the uncertainty the gate uses
    g.add_edge(35, 5, se2_between(g.poses[35], g.poses[5]), LOOP_INFO, "loop")
    assert np.trace(g.relative_covariance(5, 35)) < 0.2 * np.trace(cov)


def manhattan_graph(n: int = 300, loops: int = 5, seed: int = 0) -> tuple[PoseGraph2D, np.ndarray]:
    """A noisy odometry walk of ``n`` keyframes on a 0.5 m grid with ``loops`` true closures to earlier ones."""
    rng = np.random.default_rng(seed)
    truth = [np.zeros(3)]
    for _ in range(n - 1):
        turn = rng.choice([0.0, np.pi / 2, -np.pi / 2], p=[0.8, 0.1, 0.1])
        truth.append(se2_compose(truth[-1], np.array([0.5, 0.0, turn])))
    truth = np.array(truth)
    g = odometry_graph(truth, noise=1.0, seed=seed)
    later = np.linspace(n // 3, n - 1, loops).astype(int)
    for k in later:
        d = np.hypot(*(truth[: k - 20, :2] - truth[k, :2]).T)
        m = int(np.argmin(d))
        g.add_edge(int(k), m, se2_between(truth[k], truth[m]), LOOP_INFO, "loop")
    return g, truth


def test_optimise_300_nodes_5_loops_is_fast_and_better() -> None:
    g, truth = manhattan_graph()
    ate0 = np.sqrt(np.mean(np.sum((g.poses[:, :2] - truth[:, :2]) ** 2, axis=1)))
    g.optimise()  # warm-up (imports, caches)
    times = []
    for _ in range(3):
        g2, _ = manhattan_graph()
        t = time.perf_counter()
        res = g2.optimise()
        times.append(time.perf_counter() - t)
    ate1 = np.sqrt(np.mean(np.sum((res.poses[:, :2] - truth[:, :2]) ** 2, axis=1)))
    assert res.converged and res.cost_after < res.cost_before
    assert ate1 < ate0
    # "well under 100 ms" on an idle core; generous here because the suite shares a 2-core machine
    assert min(times) < 0.1, times
    t = time.perf_counter()
    g.relative_covariance(10, 290)
    assert time.perf_counter() - t < 0.05


def test_reaches_the_same_optimum_as_scipy_least_squares() -> None:
    """An independent solver (scipy trf on the same residuals) agrees on the minimum: the optimiser is not merely
    lowering the cost. gtsam is compared by ``python -m toponav.experiments.compare_pose_graph``."""
    from toponav.experiments.compare_pose_graph import solve_least_squares, solve_ours, toponav_sized
    from toponav.localisation.pose_graph import PoseGraphConfig

    cfg = PoseGraphConfig(robust_loss="none")
    _, g, _ = toponav_sized(120, 3, seed=2, cfg=cfg)
    x_ours, _ = solve_ours(g)
    _, g2, _ = toponav_sized(120, 3, seed=2, cfg=cfg)
    x_ls, _ = solve_least_squares(g2)
    cost_ours, cost_ls, cost0 = g.chi2(x_ours).sum(), g.chi2(x_ls).sum(), g2.chi2().sum()
    assert cost_ours < 0.5 * cost0
    assert cost_ours <= cost_ls * (1 + 1e-6), (cost_ours, cost_ls)
    np.testing.assert_allclose(x_ours[:, :2], x_ls[:, :2], atol=2e-3)


def test_online_gating_keeps_true_revisits_and_refuses_look_alikes() -> None:
    """The orchestrator's loop in miniature (compare_pose_graph.gating_run): every true revisit within 1.5 m is
    kept, no look-alike 1-8 m away gets in, and the graph ends closer to the truth than dead reckoning."""
    from toponav.experiments.compare_pose_graph import gating_run

    r = gating_run(200, seed=0)
    false = {k: v for k, v in r.items() if k.startswith("false_")}
    assert r["true_proposed"] >= 5 and r["true_accepted"] == r["true_proposed"], r
    assert sum(v for k, v in false.items() if k.endswith("_proposed")) >= 10, r
    assert sum(v for k, v in false.items() if k.endswith("_accepted")) == 0, r
    assert r["ate_graph"] < 0.5 * r["ate_dead_reckoning"], r

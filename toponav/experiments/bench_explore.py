"""``toponav bench explore``: exploration and sparse goal reaching, every method side by side in one run.

Methods (same environment, same step budget, same held-out worlds):
random walk, nearest frontier (explore_lite style), flat PPO (sparse reward), flat PPO + RND,
toponav heuristic scorer, toponav learned meta-controller (shipped checkpoint).

1. **Exploration**: explored (known-free) area after ``--budget`` control steps, held-out seeds of each
   family; mean per family and overall, and the ratio to nearest frontier.
2. **Sparse goal reaching** in unseen (held-out) mazes: success rate within ``--goal-budget`` steps and the
   mean time of the successful runs.

The flat PPO baselines are trained at the start of the run on training seeds (``--flat-moves`` each); the
meta-controller is loaded from its checkpoint (``toponav train meta``). Prints a markdown table, writes it
with JSON results and a PNG of learning curves (flat PPO training, meta-controller training, explored area vs
steps) into ``--out``. Environment: :class:`toponav.learning.explore_env.ExploreEnv` (documented abstraction, the
env that trained ``meta_controller.pt``); agents and baselines: :mod:`toponav.learning.explore_agents`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toponav.config import param
from toponav.experiments.flat_ppo import PPOArgs, train_flat_ppo
from toponav.learning.cli import add_dataclass_arguments
from toponav.learning.explore_agents import (
    Episode,
    run_flat,
    run_nearest_frontier,
    run_random_walk,
    run_toponav,
)
from toponav.learning.explore_env import ExploreEnv
from toponav.planning import PlannerConfig
from toponav.planning.scorers import HeuristicScorer, make_scorer
from toponav.seeding import seed_everything
from toponav.worlds import heldout_seeds, make_world, train_seeds

METHODS = ["random walk", "nearest frontier", "flat PPO (sparse)", "flat PPO + RND", "toponav heuristic",
           "toponav learned"]


@dataclass
class ExploreBenchArgs:
    """``toponav bench explore`` options (``--help`` lists them with these texts)."""

    families: str = param("warehouse,maze,forest", "world families (comma separated)")
    seeds: int = param(5, "held-out worlds per family for exploration")
    budget: int = param(600, "control steps (0.1 s) per exploration episode")
    goal_mazes: int = param(10, "unseen mazes for sparse goal reaching")
    goal_budget: int = param(2000, "control steps per goal episode")
    flat_moves: int = param(60000, "training moves of each flat PPO baseline")
    flat_train_worlds: int = param(8, "training worlds per family for flat PPO")
    checkpoint: str = param("", "meta-controller checkpoint (empty: the shipped one)")
    out: str = param("runs/bench_explore", "output folder (table, JSON, PNG)")
    seed: int = param(0, "seed of numpy's global state, torch, the flat PPO baselines and the random walk")
    threads: int = param(1, "torch CPU threads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, ExploreBenchArgs)


def _mean_curve(eps: list[Episode], budget: int, n: int = 41) -> tuple[np.ndarray, np.ndarray]:
    xs = np.linspace(0, budget, n)
    ys = []
    for ep in eps:
        s = np.array([c[0] for c in ep.curve] + [max(ep.steps, budget)], dtype=float)
        a = np.array([c[1] for c in ep.curve] + [ep.area], dtype=float)
        order = np.argsort(s, kind="stable")
        ys.append(np.interp(xs, s[order], a[order]))
    return xs, np.mean(ys, axis=0)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    rng = seed_everything(args.seed, python=False)  # the random walk's moves; Python's random is not drawn from
    t0 = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    families = [f.strip() for f in args.families.split(",") if f.strip()]

    # -- flat baselines: trained now, on training seeds ------------------------------------------------
    train_worlds = [make_world(f, s) for f in families for s in train_seeds(args.flat_train_worlds)]
    flat = {}
    for name, use_rnd in (("flat PPO (sparse)", False), ("flat PPO + RND", True)):
        print(f"training {name}: {args.flat_moves} moves on {len(train_worlds)} training worlds", flush=True)
        pa = PPOArgs(total_moves=args.flat_moves, rnd=use_rnd, seed=args.seed, explore_budget=args.budget,
                     goal_budget=args.goal_budget)
        net, log = train_flat_ppo(train_worlds, pa, log_every=10)
        flat[name] = (net, log)
    # -- meta-controller -------------------------------------------------------------------------------
    lines: list[str] = []
    cfg_learned = PlannerConfig(mode="learned", checkpoint=args.checkpoint)
    learned_scorer, learned_mode = make_scorer(cfg_learned, lambda lv, msg: lines.append(f"[{lv}] {msg}"))
    for line in lines:
        print(line, flush=True)
    meta_curve = []
    if learned_mode == "learned":
        from toponav.models.checkpoint import default_checkpoint, load_checkpoint

        meta_curve = load_checkpoint(args.checkpoint or default_checkpoint("meta_controller")).meta.get("curve", [])

    def episode(method: str, env: ExploreEnv, budget: int, goal) -> Episode:
        if method == "random walk":
            return run_random_walk(env, budget, goal, rng)
        if method == "nearest frontier":
            return run_nearest_frontier(env, budget, goal)
        if method in flat:
            net = flat[method][0]
            return run_flat(env, net.act, budget, goal)
        cfg = PlannerConfig()
        scorer = HeuristicScorer(cfg.weights) if method == "toponav heuristic" else learned_scorer
        return run_toponav(env, budget, goal, cfg=cfg, scorer=scorer)

    # -- exploration -----------------------------------------------------------------------------------
    explore: dict[str, dict[str, list[Episode]]] = {m: {f: [] for f in families} for m in METHODS}
    for fam in families:
        for seed in heldout_seeds(args.seeds):
            base = ExploreEnv(make_world(fam, seed))
            for m in METHODS:
                explore[m][fam].append(episode(m, base.fresh(), args.budget, None))
        print(f"exploration done: {fam} [{time.time() - t0:.0f} s]", flush=True)
    # -- sparse goal reaching in unseen mazes ----------------------------------------------------------
    goal_eps: dict[str, list[Episode]] = {m: [] for m in METHODS}
    for seed in heldout_seeds(args.goal_mazes, start=args.seeds):
        w = make_world("maze", seed)
        base = ExploreEnv(w)
        for m in METHODS:
            goal_eps[m].append(episode(m, base.fresh(), args.goal_budget, w.goal))
    print(f"goal reaching done [{time.time() - t0:.0f} s]", flush=True)

    # -- table -----------------------------------------------------------------------------------------
    def area(m: str, fam: str | None = None) -> float:
        eps = [e for f in families for e in explore[m][f]] if fam is None else explore[m][fam]
        return float(np.mean([e.area for e in eps]))

    nf = area("nearest frontier")
    hdr = "| method | " + " | ".join(f"{f} area m² (cov)" for f in families) + \
        " | all area m² | vs nearest frontier | maze goal success | mean time s |"
    rows = [hdr, "|" + "---|" * (len(families) + 5)]
    results = {}
    for m in METHODS:
        label = m if m != "toponav learned" or learned_mode == "learned" else f"{m} ({learned_mode})"
        cells = []
        for f in families:
            cov = float(np.mean([e.coverage for e in explore[m][f]]))
            cells.append(f"{area(m, f):.1f} ({cov:.0%})")
        succ = float(np.mean([e.success for e in goal_eps[m]]))
        times = [e.time_s for e in goal_eps[m] if e.success]
        t_mean = float(np.mean(times)) if times else math.inf
        t_str = f"{t_mean:.1f}" if times else "–"
        rows.append(f"| {label} | " + " | ".join(cells)
                    + f" | {area(m):.1f} | {area(m) / nf - 1:+.1%} | {succ:.0%} | {t_str} |")
        results[m] = {"area_by_family": {f: area(m, f) for f in families}, "area": area(m),
                      "vs_nearest_frontier": area(m) / nf - 1, "goal_success": succ, "goal_time_s": t_mean,
                      "label": label}
    n_expl = len(families) * args.seeds
    table = "\n".join(rows)
    header = (f"Exploration: explored area after {args.budget} control steps ({args.budget * 0.1:.0f} s sim), "
              f"{n_expl} held-out worlds ({args.seeds} per family). Goal reaching: {args.goal_mazes} unseen mazes, "
              f"budget {args.goal_budget} steps. Flat PPO: {args.flat_moves} training moves each. "
              f"Wall time {time.time() - t0:.0f} s.")
    print("\n" + header + "\n\n" + table + "\n", flush=True)
    (out / "bench_explore.md").write_text(header + "\n\n" + table + "\n")
    (out / "bench_explore.json").write_text(json.dumps({"args": vars(args), "results": results,
                                                        "wall_s": time.time() - t0}, indent=1, default=str))
    _plot(out / "bench_explore_curves.png", flat, meta_curve, explore, families, args.budget)
    print(f"wrote {out / 'bench_explore.md'}, {out / 'bench_explore.json'}, {out / 'bench_explore_curves.png'}")
    return 0


def _smooth(y: list[float], k: int = 20) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    return np.array([(c[i + 1] - c[max(0, i + 1 - k)]) / (i + 1 - max(0, i + 1 - k)) for i in range(len(y))])


def _plot(path: Path, flat, meta_curve, explore, families, budget: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.5))
    for name, (_, log) in flat.items():
        goal = [c for c in log.curve if c["goal"]]
        expl = [c for c in log.curve if not c["goal"]]
        if goal:
            ax[0].plot([c["moves"] for c in goal], _smooth([c["success"] for c in goal]), label=f"{name}: goal success")
        if expl:
            ax[0].plot([c["moves"] for c in expl], _smooth([c["coverage"] for c in expl]), "--",
                       label=f"{name}: explore coverage")
    ax[0].set_xlabel("training moves")
    ax[0].set_title("flat PPO training (moving mean of 20 episodes)")
    ax[0].legend(fontsize=7)
    if meta_curve:
        expl = [c for c in meta_curve if not c["goal"]]
        goal = [c for c in meta_curve if c["goal"]]
        ax[1].plot([c["decisions"] for c in expl], _smooth([c["coverage"] for c in expl]), label="explore coverage")
        if goal:
            ax[1].plot([c["decisions"] for c in goal], _smooth([float(c["success"]) for c in goal]),
                       label="goal success")
        ax[1].legend(fontsize=7)
    ax[1].set_xlabel("meta decisions")
    ax[1].set_title("meta-controller training (from checkpoint)")
    for m, by_fam in explore.items():
        xs, ys = _mean_curve([e for f in families for e in by_fam[f]], budget)
        ax[2].plot(xs, ys, label=m)
    ax[2].set_xlabel("control steps")
    ax[2].set_ylabel("explored area (m²)")
    ax[2].set_title("exploration on held-out worlds (mean)")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

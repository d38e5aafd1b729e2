"""``toponav train meta``: train the h-DQN sub-goal meta-controller in the fast exploration environment.

Reads top to bottom: Args (``--help`` shows every field's text through :mod:`toponav.learning.cli`) -> env
(:class:`toponav.learning.explore_env.ExploreEnv` on training worlds, the env of ``meta_controller.pt``) ->
networks -> episodes (collect SMDP transitions) -> DQN update -> log -> evaluate against the heuristic scorer on
held-out seeds -> checkpoint + model card.

* **Decisions** (h-DQN's meta level): each time the planner replans it asks the scorer to rank the candidate
  sub-goals; the meta-controller's Q-network ranks them (epsilon-greedy while training).
* **Reward** between two decisions: sparse extrinsic ``goal_reward`` when the goal is reached, plus intrinsic
  reward = ``area_coef`` * newly explored m^2 / 10 (count-based novelty of the map) + ``rnd_coef`` * RND intrinsic
  reward of the observations along the way (normalised by the running std of the non-episodic intrinsic return).
* **Discount** per simulated second (``gamma ** seconds``), i.e. SMDP Q-learning over options of varying length.
* **Warm start**: the Q-network is first regressed onto the heuristic score for ``warm_start_steps`` steps, so
  early episodes are not wasted on random sub-goals; DQN (double-Q, Huber loss, target network) then improves on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from toponav.config import param
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.learning.explore_agents import REPLAN_DISTANCE, run_toponav
from toponav.learning.explore_env import ExploreEnv
from toponav.models.meta_controller import MetaController, save_meta_controller
from toponav.models.rnd import FEATURE_DIM as RND_DIM
from toponav.models.rnd import RND, RNDConfig, observation_features, scan_descriptor
from toponav.planning import FEATURE_DIM, FEATURE_NAMES, PlannerConfig, State, SubgoalPlanner
from toponav.planning.candidates import Candidates, heuristic_scores
from toponav.planning.scorers import HeuristicScorer, LearnedScorer
from toponav.seeding import seed_everything
from toponav.worlds import heldout_seeds, make_world, train_seeds

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "models" / "checkpoints" / "meta_controller.pt"


@dataclass
class Args:
    """Meta-controller training settings (values are ours; ``--help`` lists them with these texts)."""

    seed: int = param(0, "seed of python, numpy, torch and the world order")
    families: str = param("warehouse,maze,forest", "world families to train on (training seeds only)")
    train_worlds: int = param(24, "training worlds per family", min=1)
    time_budget: float = param(300.0, "wall-clock seconds of data collection + learning (the stop criterion)")
    max_episodes: int = param(100000, "hard cap on episodes")
    explore_budget: int = param(600, "control steps of an exploration episode")
    goal_budget: int = param(2000, "control steps of a goal episode")
    goal_fraction: float = param(0.5, "fraction of episodes with a goal (sparse extrinsic reward)", min=0.0, max=1.0)
    goal_reward: float = param(10.0, "extrinsic reward for reaching the goal")
    area_coef: float = param(1.0, "intrinsic reward per 10 m^2 of newly explored area")
    rnd_coef: float = param(0.1, "weight of the RND intrinsic reward of the observations along an option")
    gamma: float = param(0.98, "discount per simulated second (SMDP)", min=0.0, max=1.0)
    lr: float = param(5e-4, "Adam learning rate of the Q-network")
    batch: int = param(64, "DQN minibatch size (transitions)", min=1)
    buffer: int = param(20000, "replay buffer capacity (transitions)", min=1)
    hidden: int = param(64, "hidden units of the per-candidate Q-network", min=1)
    max_candidates: int = param(48, "candidates per decision a batch is padded/truncated to", min=1)
    eps_start: float = param(0.3, "epsilon-greedy exploration at the first decision", min=0.0, max=1.0)
    eps_end: float = param(0.05, "epsilon after eps_decay_decisions decisions", min=0.0, max=1.0)
    eps_decay_decisions: int = param(2500, "decisions over which epsilon decays linearly", min=1)
    target_every: int = param(250, "gradient updates between target-network copies", min=1)
    warm_start_steps: int = param(1500, "regression steps onto the heuristic score before DQN", min=0)
    eval_worlds: int = param(4, "held-out worlds per family for the final comparison with the heuristic")
    threads: int = param(1, "torch threads (the machine is shared)", min=1)
    out: str = param(str(DEFAULT_OUT), "checkpoint path (the model card is written next to it)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, Args)


# -- scorer used while collecting -------------------------------------------------------------------------
class EpsilonScorer:
    """Meta-controller scorer that explores epsilon-greedily and records every decision it makes."""

    name = "learned"

    def __init__(self, model: MetaController, rng: np.random.Generator) -> None:
        self.model = model
        self.rng = rng
        self.eps = 1.0
        self.decisions: list[tuple[np.ndarray, int]] = []

    def peek(self, cands: Candidates) -> np.ndarray:
        """Greedy Q-values without recording a decision (the planner's re-scoring while travelling)."""
        with torch.no_grad():
            return self.model(torch.as_tensor(cands.features)).numpy().astype(np.float64)

    def score(self, cands: Candidates) -> np.ndarray:
        q = self.peek(cands)
        if self.rng.random() < self.eps:
            q = np.zeros(len(cands))
            q[self.rng.integers(0, len(cands))] = 1.0
        self.decisions.append((cands.features.copy(), int(np.argmax(q))))
        return q


@dataclass
class Transition:
    feats: np.ndarray
    action: int
    reward: float
    discount: float
    next_feats: np.ndarray | None  # None = terminal


def _pad(feats: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((k, FEATURE_DIM), dtype=np.float32)
    mask = np.zeros(k, dtype=bool)
    n = min(len(feats), k)
    out[:n] = feats[:n]
    mask[:n] = True
    return out, mask


def collect_episode(env: ExploreEnv, scorer: EpsilonScorer, rnd: RND, args: Args, goal, budget: int,
                    cfg: PlannerConfig) -> tuple[list[Transition], dict]:
    """One episode with the planner in the loop; SMDP transitions between the scorer's decisions."""
    planner = SubgoalPlanner(cfg, scorer=scorer)
    if goal is not None:
        planner.set_goal(*goal)
    scorer.decisions.clear()
    trans: list[Transition] = []
    pending: list = []  # [feats, action, reward, start_time]
    area = env.explored_area()
    success = False
    while env.steps < budget:
        planner.set_graph(env.graph())
        planner.set_pose(*env.pose)
        n_before = len(scorer.decisions)
        d = planner.step(env.time)
        if len(scorer.decisions) > n_before:  # a new meta decision was made
            feats, a = scorer.decisions[-1]
            if pending:
                f0, a0, r0, t0 = pending
                trans.append(Transition(f0, a0, r0, args.gamma ** (env.time - t0), feats))
            pending = [feats, a, 0.0, env.time]
        if planner.target is None or d.state in (State.DONE, State.STUCK, State.IDLE):
            break
        before = env.steps
        env.go_to(planner.target.x, planner.target.y, budget, max_distance=REPLAN_DISTANCE)
        if env.steps == before:
            planner.report_failure("no path", env.time)
            env.steps += 10
        new_area = env.explored_area()
        obs = observation_features(*env.pose, scan_descriptor(env.last_scan, env.cfg.range_max))
        r_int = float(rnd.intrinsic_reward(obs[None])[0])
        rnd.train_step(obs[None])
        r = args.area_coef * (new_area - area) / 10.0 + args.rnd_coef * r_int
        area = new_area
        if goal is not None and env.at_goal(goal):
            r += args.goal_reward
            success = True
        if pending:
            pending[2] += r * args.gamma ** (env.time - pending[3])
        if success:
            break
    terminal = success or planner.state == State.DONE
    if pending and terminal:
        trans.append(Transition(pending[0], pending[1], pending[2], 0.0, None))
    return trans, {"area": area, "coverage": env.coverage(), "success": success, "steps": env.steps}


def dqn_update(q: MetaController, q_target: MetaController, opt: torch.optim.Optimizer, batch: list[Transition],
               k: int) -> float:
    f, m = zip(*(_pad(t.feats, k) for t in batch))
    f, m = torch.as_tensor(np.stack(f)), torch.as_tensor(np.stack(m))
    a = torch.as_tensor([min(t.action, k - 1) for t in batch])
    r = torch.as_tensor([t.reward for t in batch], dtype=torch.float32)
    disc = torch.as_tensor([t.discount if t.next_feats is not None else 0.0 for t in batch], dtype=torch.float32)
    nf, nm = zip(*(_pad(t.next_feats if t.next_feats is not None else np.zeros((1, FEATURE_DIM), np.float32), k)
                   for t in batch))
    nf, nm = torch.as_tensor(np.stack(nf)), torch.as_tensor(np.stack(nm))
    with torch.no_grad():
        a_next = q(nf, nm).argmax(1)  # double DQN: online net picks, target net evaluates
        q_next = q_target(nf, nm).gather(1, a_next[:, None]).squeeze(1)
        q_next = torch.where(torch.isfinite(q_next), q_next, torch.zeros_like(q_next))
        y = r + disc * q_next
    q_sa = q(f, m).gather(1, a[:, None]).squeeze(1)
    loss = F.smooth_l1_loss(q_sa, y)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q.parameters(), 10.0)
    opt.step()
    return float(loss)


def warm_start(q: MetaController, envs: list[ExploreEnv], cfg: PlannerConfig, steps: int, lr: float,
               rng: np.random.Generator) -> float:
    """Regress Q onto the heuristic score on candidate sets from heuristic rollouts (behaviour prior)."""
    sets: list[np.ndarray] = []

    class Rec(HeuristicScorer):
        def score(self, cands: Candidates) -> np.ndarray:
            sets.append(cands.features.copy())
            return super().score(cands)

    for env in envs[: min(len(envs), 12)]:
        env.reset()
        run_toponav(env, 600, cfg=cfg, scorer=Rec(cfg.weights))
    opt = torch.optim.Adam(q.parameters(), lr=lr)
    loss = 0.0
    for _ in range(steps if sets else 0):
        f = sets[int(rng.integers(0, len(sets)))]
        target = torch.as_tensor(heuristic_scores(f, cfg.weights), dtype=torch.float32)
        out = q(torch.as_tensor(f))
        loss_t = F.mse_loss(out, target)
        opt.zero_grad()
        loss_t.backward()
        opt.step()
        loss = float(loss_t)
    return loss


def evaluate(scorer_factory, worlds, budget: int, goal: bool) -> dict:
    cov, succ, times = [], [], []
    for w in worlds:
        env = ExploreEnv(w)
        cfg = PlannerConfig()
        ep = run_toponav(env, budget, goal=w.goal if goal else None, cfg=cfg, scorer=scorer_factory(cfg))
        cov.append(ep.coverage)
        succ.append(ep.success)
        if ep.success:
            times.append(ep.time_s)
    return {"coverage": float(np.mean(cov)), "success": float(np.mean(succ)),
            "time_s": float(np.mean(times)) if times else math.inf}


def write_model_card(path: Path, meta: dict, args: Args, families: list[str]) -> None:
    """Short model card next to the checkpoint: command, data, steps, seed, held-out results, machine."""
    res = meta["heldout"]

    def row(label: str) -> str:
        e, g = res[label]["explore"], res[label]["maze_goal"]
        return (f"| {label} | {e['coverage']:.3f} | {g['success']:.0%} | "
                f"{g['time_s']:.1f} |" if math.isfinite(g["time_s"]) else f"| {label} | {e['coverage']:.3f} | "
                f"{g['success']:.0%} | – |")

    text = f"""# meta_controller.pt — h-DQN sub-goal meta-controller

* **What**: per-candidate Q-network (`toponav.models.meta_controller.MetaController`, hidden {args.hidden}) over
  the planner's candidate features `{', '.join(FEATURE_NAMES)}`. Used by `subgoal_planner` with
  `planner.mode: learned`; the heuristic scorer remains the fallback and the baseline.
* **Command**: `{meta['command']}`
* **Data**: episodes in `toponav.learning.explore_env.ExploreEnv` (abstraction of twin + mapper + controller) on
  training seeds 0..{args.train_worlds - 1} of {', '.join(families)} ({args.train_worlds * len(families)} worlds);
  {args.goal_fraction:.0%} of episodes with the world's goal (sparse reward {args.goal_reward}), the rest
  exploration-only ({args.explore_budget} control steps; goal episodes {args.goal_budget}).
* **Reward**: goal reward + intrinsic ({args.area_coef} x new explored m^2 / 10 + {args.rnd_coef} x RND intrinsic
  reward); SMDP discount {args.gamma} per simulated second.
* **Training**: warm start = {args.warm_start_steps} regression steps onto the heuristic score, then double DQN;
  {meta['episodes']} episodes, {meta['decisions']} meta decisions, {meta['updates']} gradient updates,
  {meta['wall_s']:.0f} s wall clock; seed {args.seed}. The stop criterion is wall clock, so the episode count
  depends on machine load; add `--max-episodes {meta['episodes']} --time-budget 1e9` to repeat this run's length.
* **Machine**: {meta['machine']} (CPU shared with other jobs, so wall time is noisy).

## Held-out results (written by the training run)

Exploration: mean coverage of the free area after {args.explore_budget} control steps on held-out seeds
(first {args.eval_worlds} per family). Goal: {args.eval_worlds} held-out mazes, budget {args.goal_budget} steps.

| scorer | explore coverage | maze goal success | mean time s |
|---|---|---|---|
{row('heuristic')}
{row('learned')}

The side-by-side benchmark with all baselines is `toponav bench explore` (see docs/planning.md).
Limitations: trained only in the abstraction; the real mapper's frontier sizes and graph density differ,
so on the ROS stack the learned scorer is a transfer, not a fit.
"""
    path.write_text(text)


def run(ns: argparse.Namespace) -> int:
    args = dataclass_from_args(Args, ns)  # ConfigError: toponav.cli says it, exit 2
    torch.set_num_threads(args.threads)
    rng = seed_everything(args.seed)
    t_start = time.time()

    # -- env: the training worlds in the exploration abstraction -------------------------------------------
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    worlds = [make_world(f, s) for f in families for s in train_seeds(args.train_worlds)]
    envs = [ExploreEnv(w) for w in worlds]
    print(f"training worlds: {len(worlds)} ({', '.join(families)}), built in {time.time() - t_start:.1f} s", flush=True)

    # -- networks: Q (warm-started on the heuristic), its target copy, RND for the intrinsic reward -------------
    cfg = PlannerConfig()
    cfg.rnd.enabled = True
    q = MetaController(FEATURE_DIM, args.hidden)
    order = rng.permutation(len(envs))
    ws_loss = warm_start(q, [envs[i] for i in order], cfg, args.warm_start_steps, 1e-3, rng)
    print(f"warm start: heuristic-regression loss {ws_loss:.4f} ({time.time() - t_start:.1f} s)", flush=True)
    q_target = MetaController(FEATURE_DIM, args.hidden)
    q_target.load_state_dict(q.state_dict())
    opt = torch.optim.Adam(q.parameters(), lr=args.lr)
    scorer = EpsilonScorer(q, rng)
    rnd = RND(RND_DIM, RNDConfig(warmup_samples=32), seed=args.seed)
    buffer: deque[Transition] = deque(maxlen=args.buffer)
    curve: list[dict] = []
    decisions = updates = episodes = 0
    recent: deque[float] = deque(maxlen=20)
    # -- rollout (one episode of SMDP transitions) -> DQN updates -> log ---------------------------------------
    while (episodes == 0 or time.time() - t_start < args.time_budget) and episodes < args.max_episodes:
        env = envs[int(rng.integers(0, len(envs)))]
        env.reset()
        goal = env.world.goal if rng.random() < args.goal_fraction else None
        budget = args.goal_budget if goal is not None else args.explore_budget
        scorer.eps = max(args.eps_end, args.eps_start - (args.eps_start - args.eps_end) * decisions
                         / args.eps_decay_decisions)
        trans, info = collect_episode(env, scorer, rnd, args, goal, budget, cfg)
        episodes += 1
        decisions += len(trans)
        buffer.extend(trans)
        loss = 0.0
        for _ in range(len(trans)):
            if len(buffer) < args.batch:
                break
            batch = [buffer[int(i)] for i in rng.integers(0, len(buffer), args.batch)]
            loss = dqn_update(q, q_target, opt, batch, args.max_candidates)
            updates += 1
            if updates % args.target_every == 0:
                q_target.load_state_dict(q.state_dict())
        if goal is None:
            recent.append(info["coverage"])
        curve.append({"episode": episodes, "decisions": decisions, "wall_s": round(time.time() - t_start, 1),
                      "coverage": round(info["coverage"], 4), "goal": goal is not None, "success": info["success"],
                      "loss": round(loss, 5), "eps": round(scorer.eps, 3)})
        if episodes % 20 == 0:
            print(f"episode {episodes:5d} decisions {decisions:6d} eps {scorer.eps:.2f} loss {loss:.4f} "
                  f"explore-coverage(last 20) {np.mean(recent) if recent else float('nan'):.3f} "
                  f"[{time.time() - t_start:.0f} s]", flush=True)

    # -- held-out evaluation against the heuristic, checkpoint, model card --------------------------------------
    q.eval()
    held = [make_world(f, s) for f in families for s in heldout_seeds(args.eval_worlds)]
    mazes = [make_world("maze", s) for s in heldout_seeds(args.eval_worlds)]
    results = {}
    factories = {"heuristic": lambda c: HeuristicScorer(c.weights), "learned": lambda c: LearnedScorer(q)}
    for label, factory in factories.items():
        results[label] = {"explore": evaluate(factory, held, args.explore_budget, goal=False),
                          "maze_goal": evaluate(factory, mazes, args.goal_budget, goal=True)}
        print(f"held-out {label}: {json.dumps(results[label])}", flush=True)
    meta = {
        "command": "toponav train meta " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                                     dataclasses.asdict(args).items() if k != "out"),
        "args": dataclasses.asdict(args), "episodes": episodes, "decisions": decisions, "updates": updates,
        "wall_s": round(time.time() - t_start, 1), "heldout": results, "curve": curve,
        "feature_names": FEATURE_NAMES, "machine": f"2 shared CPU cores, torch threads={args.threads}",
    }
    out = save_meta_controller(q, args.out, FEATURE_NAMES, meta)
    out.chmod(0o644)  # the atomic temp file is created 0600; a shipped checkpoint must be readable by all
    write_model_card(out.with_suffix(".md"), meta, args, families)
    print(f"saved {out} ({out.stat().st_size / 1024:.0f} KiB) after {episodes} episodes, {decisions} decisions, "
          f"{time.time() - t_start:.0f} s", flush=True)
    return 0

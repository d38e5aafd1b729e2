"""``toponav train world-model``: demo-bootstrapped TD-MPC2-style training on the Panda tasks.

Reads top to bottom in CleanRL's order: args (:class:`TrainConfig`, the command's options) -> env
(:func:`make_env`) -> networks (:func:`make_agent`) -> demos and behaviour cloning -> rollout and update
(agency moves from the BC policy to MPC on a schedule; one model update every ``1/updates_per_step`` env
steps) -> periodic evaluation and log (:func:`train`) -> learning-curve PNG + checkpoint + JSON summary
(:func:`run`). Rollout, demo, BC and evaluation loops shared with the other learners live in
:mod:`toponav.learning.goal_episodes`.

    toponav train world-model --task push --steps 50000 --seed 0
    toponav train world-model --env panda-gym:PandaPush-v3 --steps 50000 --seed 0 --demo-keep successful

Any gymnasium goal-env with dict observations runs through :mod:`toponav.learning.flat_goal_env`.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from toponav.config import param
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.learning.flat_goal_env import FlatGoalEnv
from toponav.learning.goal_envs import make_goal_env
from toponav.learning.goal_episodes import (
    DEMO_NOISE,
    behaviour_clone,
    collect_demos,
    evaluate,
    make_buffer,
    run_episode,
)
from toponav.learning.sac import SACAgent, SACConfig
from toponav.learning.world_model_agent import Agent, AgentConfig, agency
from toponav.models.world_model import WorldModelConfig, save_world_model
from toponav.seeding import seed_everything


@dataclass
class TrainConfig:
    """One training run (the fields are the command's options, in the order ``--help`` lists them)."""

    task: str = param("push", "arm task of our own scene", choices=("push", "pickplace"))
    env: str = param("", "any gymnasium goal-env as 'module:EnvId' to train on instead of our scene's --task, "
                     "e.g. panda-gym:PandaPush-v3 (Reach, Push, Slide, PickAndPlace); empty = --task")
    steps: int = param(50000, "environment steps of interaction (demos not counted)", min=0)
    seed: int = param(0, "seed for env, torch and numpy")
    demos: int = param(10, "scripted demonstrations", min=0)
    demo_keep: str = param("all", "which noisy demos to keep: all, or only successful ones (up to 5x the "
                           "attempts)", choices=("all", "successful"))
    demo_labels: str = param("executed", "what behaviour cloning learns from: the noisy action executed, or the "
                             "clean action the script meant (DART)", choices=("executed", "clean"))
    bc_iters: int = param(1500, "behaviour-cloning gradient steps before interaction", min=0)
    pretrain_iters: int = param(0, "world-model updates on demo data only, after BC and before interaction "
                                "(MoDem-V2's model pre-training; every sample carries the BC term)", min=0)
    episode_steps: int = param(0, "episode length; 0 = the task's own length (50)", min=0)
    updates_per_step: float = param(1.0, "model updates per environment step", min=0.0, max=8.0)
    hidden_dim: int = param(WorldModelConfig.hidden_dim,
                            "hidden size of the world model's MLPs and of SAC's (both learners get the same)", min=8)
    pi_q_members: int = param(AgentConfig.pi_q_members, "Q-functions averaged in the policy-prior loss (random "
                              "each update)", min=1, max=32)
    eval_every: int = param(5000, "environment steps between evaluations", min=1)
    eval_episodes: int = param(20, "episodes per evaluation", min=1)
    threads: int = param(1, "torch CPU threads (the machine is shared)", min=1)

    @property
    def agent(self) -> AgentConfig:
        """The world-model learner's settings: AgentConfig's defaults with the one this command exposes."""
        return AgentConfig(pi_q_members=self.pi_q_members)


@dataclass
class TrainCommand(TrainConfig):
    """``toponav train world-model``'s options: one run's TrainConfig plus where its files go."""

    out: str = param("runs/world_model", "folder for curves + summary")
    checkpoint: str | None = param(None, "where to write the checkpoint (None: <out>/world_model_<task>.pt)")


def task_fields(name: str) -> dict[str, str]:
    """TrainConfig's ``task`` / ``env`` for one name: our scene (``push``, ``pickplace``) or a ``module:EnvId``
    goal-env (``task`` keeps its default then: ``env`` wins)."""
    return {"task": "push", "env": name} if ":" in name else {"task": name, "env": ""}


def run_name(cfg: TrainConfig) -> str:
    """Short name of what a run trains on (file names, log tags): our task, or the goal-env's id."""
    return cfg.env.partition(":")[2] if cfg.env else cfg.task


def make_env(cfg: TrainConfig) -> FlatGoalEnv:
    return make_goal_env(cfg.env or cfg.task, max_steps=cfg.episode_steps or None)


def make_agent(cfg: TrainConfig, kind: str, env: FlatGoalEnv):
    """The learner, its training-rollout horizon and its evaluation modes."""
    action_dim = env.action_space.shape[0]
    lay = env.layout
    if kind == "world_model":
        model_cfg = WorldModelConfig(action_dim=action_dim, hidden_dim=cfg.hidden_dim, **lay.model_indices())
        agent = Agent(model_cfg, cfg.agent, seed=cfg.seed)
        return agent, cfg.agent.horizon, ("mpc", "policy")
    if kind == "sac":
        a = cfg.agent
        sac_cfg = SACConfig(batch_size=a.batch_size, hidden_dim=cfg.hidden_dim, discount=a.discount,
                            bc_coef=a.bc_coef, bc_decay_steps=a.bc_decay_steps, her_prob=a.her_prob,
                            demo_ratio=a.demo_ratio)
        return (SACAgent(lay.dim, action_dim, sac_cfg, seed=cfg.seed, index=(lay.ee, lay.achieved, lay.desired)),
                1, ("policy",))
    raise ValueError(f"unknown agent kind {kind!r}; valid: world_model, sac")


def train(cfg: TrainConfig, *, kind: str = "world_model", progress: bool = True, log=print) -> dict[str, Any]:
    """The whole run for one learner; returns curves, final numbers and the trained agent (key ``agent``)."""
    torch.set_num_threads(cfg.threads)
    rng = seed_everything(cfg.seed)
    env = make_env(cfg)
    env.reset(seed=cfg.seed)
    agent, horizon, modes = make_agent(cfg, kind, env)
    tag = f"{kind}/{run_name(cfg)}"
    t_start = time.perf_counter()

    demos, demo_success, demo_attempts = collect_demos(env, cfg.demos, DEMO_NOISE, cfg.seed, cfg.demo_keep,
                                                       cfg.demo_labels)
    log(f"[{tag}] {demos.size if cfg.demos else 0} scripted demos kept ({cfg.demo_keep}) of {demo_attempts}, "
        f"success {demo_success:.0%}")
    bc_losses = behaviour_clone(agent, demos, cfg.bc_iters, rng)
    if bc_losses:
        log(f"[{tag}] behaviour cloning: loss {bc_losses[0]:.3f} -> {bc_losses[-1]:.3f}")

    T = env.max_steps
    replay = make_buffer(env, max(cfg.steps // T + 1, 1))
    curves: dict[str, list] = {"step": [], "train_success": [], "agency": [], "loss": [], "time_s": []}
    curves |= {f"{rule}_{m}": [] for m in modes for rule in ("success", "reached")}
    c = cfg.agent
    batch_size = c.batch_size
    n_demo = round(batch_size * c.demo_ratio) if demos.size else 0
    her = c.her_prob
    if cfg.pretrain_iters and demos.size and kind == "world_model":
        pre = [agent.update(demos.sample(batch_size, horizon, rng, her_prob=her), None, 0, bc_all=True)["total"]
               for _ in range(cfg.pretrain_iters)]
        log(f"[{tag}] model pre-training on demos: loss {pre[0]:.3f} -> {pre[-1]:.3f}")
    recent: list[bool] = []
    losses: list[float] = []
    update_credit = 0.0
    step = 0
    episode = 0

    def do_eval() -> None:
        curves["step"].append(step)
        for m in modes:
            res = evaluate(env, agent, cfg.eval_episodes, cfg.seed, m)
            curves[f"success_{m}"].append(res.held)
            curves[f"reached_{m}"].append(res.reached)
        curves["train_success"].append(float(np.mean(recent[-20:])) if recent else 0.0)
        curves["agency"].append(agency(step, c) if kind == "world_model" else 0.0)
        curves["loss"].append(float(np.mean(losses[-200:])) if losses else float("nan"))
        curves["time_s"].append(time.perf_counter() - t_start)
        rates = ", ".join(f"{m} {curves[f'success_{m}'][-1]:.0%} (reached {curves[f'reached_{m}'][-1]:.0%})"
                          for m in modes)
        log(f"[{tag}] step {step}: success {rates}, agency {curves['agency'][-1]:.2f}, "
            f"loss {curves['loss'][-1]:.3f}, {curves['time_s'][-1]:.0f} s")

    do_eval()
    bar = tqdm(total=cfg.steps, desc=tag, disable=not progress, unit="step")
    # Cost per env step, evaluation excluded: wall and CPU seconds (CPU time is the fairer number on a
    # shared machine), split into acting (env + policy/MPPI) and model updates.
    cost = {"act_wall": 0.0, "act_cpu": 0.0, "update_wall": 0.0, "update_cpu": 0.0}
    while step < cfg.steps:
        w0, c0 = time.perf_counter(), time.process_time()
        agent.begin_episode(step)
        o, a, r, ok, _ = run_episode(env, lambda ob: agent.act(ob, explore=True), seed=cfg.seed * 1_000_003 + episode)
        w1, c1 = time.perf_counter(), time.process_time()
        replay.add(o, a, r)
        recent.append(ok)
        episode += 1
        prev = step
        step += T
        bar.update(T)
        update_credit += T * cfg.updates_per_step
        while update_credit >= 1.0:
            update_credit -= 1.0
            batch = replay.sample(batch_size - n_demo, horizon, rng, her_prob=her)
            demo = demos.sample(n_demo, horizon, rng, her_prob=0.0) if n_demo else None
            losses.append(agent.update(batch, demo, step)["total"])
        w2, c2 = time.perf_counter(), time.process_time()
        cost["act_wall"] += w1 - w0
        cost["act_cpu"] += c1 - c0
        cost["update_wall"] += w2 - w1
        cost["update_cpu"] += c2 - c1
        bar.set_postfix(train_succ=f"{np.mean(recent[-20:]):.2f}")
        if step // cfg.eval_every != prev // cfg.eval_every or step >= cfg.steps:
            do_eval()
    bar.close()
    env.close()
    final = {f"final_{rule}_{m}": curves[f"{rule}_{m}"][-1] for m in modes for rule in ("success", "reached")}
    per_step = {f"ms_per_step_{k}": 1e3 * v / max(step, 1) for k, v in cost.items()}
    per_step["ms_per_step_wall"] = per_step["ms_per_step_act_wall"] + per_step["ms_per_step_update_wall"]
    per_step["ms_per_step_cpu"] = per_step["ms_per_step_act_cpu"] + per_step["ms_per_step_update_cpu"]
    log(f"[{tag}] training cost per env step (evaluation excluded): {per_step['ms_per_step_wall']:.1f} ms wall, "
        f"{per_step['ms_per_step_cpu']:.1f} ms CPU (acting {per_step['ms_per_step_act_cpu']:.1f}, "
        f"updates {per_step['ms_per_step_update_cpu']:.1f})")
    return {"kind": kind, "task": cfg.task, "env": cfg.env or cfg.task, "seed": cfg.seed, "steps": step,
            "episodes": episode, "updates": len(losses), "demos": demos.size if cfg.demos else 0,
            "demo_attempts": demo_attempts, "demo_success": demo_success, "curves": curves,
            **final, **per_step, "wall_s": time.perf_counter() - t_start, "agent": agent}


def plot_curves(curves_by_name: dict[str, dict[str, list]], path: Path, title: str) -> Path:
    """Success-rate learning curves, one line per (method, mode); left the held rule, right the reached rule."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, rule, label in ((axes[0], "success", "held at the last step"),
                            (axes[1], "reached", "reached at some step (panda-gym's own success)")):
        for name, curves in curves_by_name.items():
            for mode, style in (("mpc", "-"), ("policy", "--")):
                if curves.get(f"{rule}_{mode}"):
                    ax.plot(curves["step"], curves[f"{rule}_{mode}"], style, marker="o", ms=3,
                            label=f"{name} ({mode})")
        ax.set_xlabel("environment steps")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(label, fontsize=9)
    axes[0].set_ylabel("success rate")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, TrainCommand)
    # a plain switch: the helper writes a bool field as "--no-progress BOOL"
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def run(args: argparse.Namespace) -> int:
    cfg = dataclass_from_args(TrainCommand, args)  # ConfigError: toponav.cli says it, exit 2
    try:
        make_env(cfg).close()
    except ValueError as exc:
        print(f"--env: {exc}")
        return 2
    result = train(cfg, progress=not args.no_progress)
    agent = result.pop("agent")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    name = run_name(cfg)
    ckpt = Path(cfg.checkpoint) if cfg.checkpoint else out / f"world_model_{name}.pt"
    command = "toponav train world-model " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (
            ("env", cfg.env) if cfg.env else ("task", cfg.task), ("steps", cfg.steps), ("seed", cfg.seed),
            ("demos", cfg.demos), ("demo_keep", cfg.demo_keep), ("demo_labels", cfg.demo_labels),
            ("bc_iters", cfg.bc_iters), ("pretrain_iters", cfg.pretrain_iters), ("hidden_dim", cfg.hidden_dim),
            ("episode_steps", cfg.episode_steps),
            ("updates_per_step", cfg.updates_per_step), ("pi_q_members", cfg.pi_q_members),
            ("eval_every", cfg.eval_every),
            ("eval_episodes", cfg.eval_episodes)))
    meta = {k: v for k, v in result.items() if k != "curves"} | {"command": command, "curves": result["curves"]}
    save_world_model(ckpt, agent.model, meta)
    plot_curves({"world model": result["curves"]}, out / f"world_model_{name}_curve.png",
                f"{name}: world model + MPPI (seed {cfg.seed})")
    (out / f"world_model_{name}.json").write_text(json.dumps(meta, indent=2))
    print(f"final success (held at the last step): mpc {result['final_success_mpc']:.0%}, policy "
          f"{result['final_success_policy']:.0%}; reached: mpc {result['final_reached_mpc']:.0%}, policy "
          f"{result['final_reached_policy']:.0%} "
          f"after {result['steps']} env steps ({result['wall_s']:.0f} s); checkpoint {ckpt}")
    return 0

"""``toponav bench manip``: the world-model agent against model-free learners on arm tasks, in one run.

Tasks: our own scenes (``push``, ``pickplace``) or any gymnasium goal-env (``panda-gym:PandaPush-v3``, ...).
Learners (``--learners``, all by default; one after the other, or ``--jobs N`` at a time in their own
processes, one torch thread each unless ``--threads`` says otherwise):

* ``world_model``: demo-bootstrapped TD-MPC2-style world model + MPPI (and its policy prior alone);
* ``sac``: our SAC given exactly what the world model gets (same demos, BC pre-training, decaying BC
  term, HER, updates per env step): it isolates what the model and planner add for equal information;
* ``sb3_sac_her`` / ``sb3_tqc_her``: stable-baselines3 SAC + HER and sb3-contrib TQC + HER, the baselines
  the field uses (rl-baselines3-zoo Panda settings sized for this CPU, no demos; see
  :mod:`toponav.experiments.sb3_baselines`).

Every learner trains on the same env (seeded the same), for the same env steps, and is evaluated by the
same function on the same fixed evaluation seeds at the same steps. The table prints each learner's
success curve and its training cost per env step (wall and CPU ms, evaluation excluded), and the ratios
against the world model. Writes a markdown table, a JSON file and one learning-curve PNG per task.

    toponav bench manip --tasks push --steps 20000 --eval-every 5000 --eval-episodes 20
    toponav bench manip --tasks panda-gym:PandaPush-v3 --learners world_model,sb3_sac_her --steps 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from toponav.config import param
from toponav.experiments.sb3_baselines import SB3Config, train_sb3
from toponav.experiments.train_world_model import (
    TrainConfig,
    make_agent,
    make_env,
    plot_curves,
    run_name,
    task_fields,
    train,
)
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.learning.goal_envs import make_goal_env
from toponav.learning.goal_episodes import DEMO_NOISE, collect_demos, run_episode
from toponav.models.world_model import save_world_model

#: learner -> (evaluation modes with their table labels)
LEARNERS: dict[str, tuple[tuple[str, str], ...]] = {
    "world_model": (("mpc", "world model + MPPI"), ("policy", "world model policy prior")),
    "world_model_ref": (("mpc", "world model + MPPI, earlier settings (1 update/step, policy on 5 Q)"),
                        ("policy", "its policy prior")),
    "sac": (("policy", "SAC (model-free; our demos, BC, HER)"),),
    "sb3_sac_her": (("policy", "SB3 SAC + HER (no demos)"),),
    "sb3_tqc_her": (("policy", "sb3-contrib TQC + HER (no demos)"),),
}

#: the world model's learning settings before issue 18's cost cut, for side-by-side runs (not in the default set)
REFERENCE = {"updates_per_step": 1.0, "pi_q_members": 5}
DEFAULT_LEARNERS = ("world_model", "sac", "sb3_sac_her", "sb3_tqc_her")
SHORT = {"world_model": "world model", "world_model_ref": "world model (1 upd/step)", "sac": "SAC (ours)",
         "sb3_sac_her": "SB3 SAC+HER", "sb3_tqc_her": "TQC+HER"}


@dataclass
class ManipBenchOptions:
    """``toponav bench manip``'s options (learner settings default to TrainConfig's, apart from the run sizes)."""

    tasks: str = param("push", "comma-separated: push, pickplace (our scenes) or module:EnvId goal-envs, "
                       "e.g. panda-gym:PandaPush-v3")
    learners: str = param(",".join(DEFAULT_LEARNERS), f"comma-separated of {list(LEARNERS)}; world_model_ref = "
                          f"the world model with its earlier settings {REFERENCE}")
    steps: int = param(20000, "environment steps per learner")
    seed: int = param(0, "seed of every learner's env, torch and numpy")
    demos: int = param(TrainConfig.demos, "scripted demos (world model and our SAC)")
    demo_keep: str = param(TrainConfig.demo_keep, "which noisy demos to keep: all, or only successful ones",
                           choices=("all", "successful"))
    demo_labels: str = param(TrainConfig.demo_labels, "BC labels of the demos: executed (noisy) or clean (DART)",
                             choices=("executed", "clean"))
    bc_iters: int = param(TrainConfig.bc_iters, "behaviour-cloning gradient steps before interaction")
    pretrain_iters: int = param(TrainConfig.pretrain_iters, "world-model updates on demos only before interaction "
                                "(SAC has no model to pre-train)")
    episode_steps: int = param(0, "0 = the task's own length")
    updates_per_step: float = param(TrainConfig.updates_per_step, "world model and our SAC (SB3: one gradient step "
                                    "per env step, as the zoo)")
    pi_q_members: int = param(TrainConfig.pi_q_members, "Q-functions averaged in the world model's policy-prior "
                              "loss (random each update)")
    hidden_dim: int = param(TrainConfig.hidden_dim, "MLP hidden size of the world model and our SAC")
    sb3_batch: int = param(SB3Config.batch_size, "SB3 batch size (zoo: 2048)")
    sb3_net: str = param(",".join(map(str, SB3Config().net_arch)), "SB3 hidden layers (zoo: 512,512,512)")
    sb3_learning_starts: int = param(SB3Config.learning_starts, "SB3 random-action env steps before learning")
    eval_every: int = param(5000, "environment steps between evaluations")
    eval_episodes: int = param(20, "episodes per evaluation")
    threads: int = param(1, "torch CPU threads (per learner)")
    jobs: int = param(1, "learners trained at the same time, each in its own process", min=1, max=16)
    cost_episodes: int = param(0, "instead of training: the world model's cost per env step, current settings "
                               "against world_model_ref's, interleaved episode by episode (MPPI acting + updates), "
                               "N each")
    out: str = param("runs/bench_manip", "output folder (table, JSON, learning curves, the world model)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, ManipBenchOptions)
    # a plain switch: the helper writes a bool field as "--no-progress BOOL"
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def _fmt_ms(r: dict) -> str:
    return f"{r['ms_per_step_wall']:.1f} / {r['ms_per_step_cpu']:.1f}"


def measure_cost(cfg: TrainConfig, episodes: int, log=print) -> dict[str, dict[str, float]]:
    """ms per env step of the world model with the current settings and with REFERENCE's, measured side by side.

    Both agents act with MPPI on every step (the steady state after the agency schedule) and update at their
    own rate on the same demo data, alternating episode by episode so the machine's load hits both alike."""
    torch.set_num_threads(cfg.threads)
    env = make_env(cfg)
    demos, _, _ = collect_demos(env, max(cfg.demos, 1), DEMO_NOISE, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    ref = dataclasses.replace(cfg, updates_per_step=REFERENCE["updates_per_step"],
                              pi_q_members=REFERENCE["pi_q_members"])
    runs = {"current": cfg, "reference": ref}
    agents = {k: make_agent(c, "world_model", env)[0] for k, c in runs.items()}
    cost = {k: dict.fromkeys(("act_wall", "act_cpu", "update_wall", "update_cpu", "steps"), 0.0) for k in runs}
    credit = dict.fromkeys(runs, 0.0)
    for ep in range(episodes):
        for k, c in runs.items():
            agent = agents[k]
            agent.begin_episode(0, eval_mode=True, mode="mpc")
            w0, c0 = time.perf_counter(), time.process_time()
            run_episode(env, functools.partial(agent.act, explore=True), seed=30_000_000 + ep)
            w1, c1 = time.perf_counter(), time.process_time()
            credit[k] += env.max_steps * c.updates_per_step
            while credit[k] >= 1.0:
                credit[k] -= 1.0
                agent.update(demos.sample(c.agent.batch_size, c.agent.horizon, rng, her_prob=0.5), None, 0)
            w2, c2 = time.perf_counter(), time.process_time()
            for key, v in (("act_wall", w1 - w0), ("act_cpu", c1 - c0), ("update_wall", w2 - w1),
                           ("update_cpu", c2 - c1), ("steps", env.max_steps)):
                cost[k][key] += v
    env.close()
    out = {}
    for k, c in cost.items():
        n = c.pop("steps")
        out[k] = {f"ms_{key}": 1e3 * v / n for key, v in c.items()}
        out[k]["ms_wall"] = out[k]["ms_act_wall"] + out[k]["ms_update_wall"]
        out[k]["ms_cpu"] = out[k]["ms_act_cpu"] + out[k]["ms_update_cpu"]
    return out


def train_learner(kind: str, cfg: TrainConfig, sb3: SB3Config, model_path: Path, command: str,
                  progress: bool) -> dict:
    """Train one learner of the bench (a top-level function, so ``--jobs`` can run it in another process).

    Returns its result without the agent; the world model is saved to ``model_path`` (this is how the
    shipped checkpoints were made)."""
    if kind.startswith("sb3_"):
        r = train_sb3(cfg, kind.split("_")[1], sb3=sb3)
    elif kind == "world_model_ref":
        ref = dataclasses.replace(cfg, updates_per_step=REFERENCE["updates_per_step"],
                                  pi_q_members=REFERENCE["pi_q_members"])
        r = train(ref, kind="world_model", progress=progress)
    else:
        r = train(cfg, kind=kind, progress=progress)
    agent = r.pop("agent")
    if kind == "world_model":
        save_world_model(model_path, agent.model, dict(r) | {"command": command})
    return r


def run_cost(args: ManipBenchOptions, cfg: TrainConfig, name: str) -> int:
    res = measure_cost(cfg, args.cost_episodes)
    cur, ref = res["current"], res["reference"]
    lines = [f"# toponav bench manip --cost-episodes {args.cost_episodes} ({name}, world model, MPPI acting on "
             f"every step; {platform.processor() or platform.machine()}, {cfg.threads} torch thread(s))", "",
             "| settings | acting ms / step (wall / CPU) | updates ms / step (wall / CPU) | total wall | total CPU |",
             "|---|---|---|---|---|"]
    for label, r in ((f"reference: {REFERENCE}", ref),
                     (f"current: updates_per_step {cfg.updates_per_step}, pi_q_members {cfg.agent.pi_q_members}",
                      cur)):
        lines.append(f"| {label} | {r['ms_act_wall']:.1f} / {r['ms_act_cpu']:.1f} | {r['ms_update_wall']:.1f} / "
                     f"{r['ms_update_cpu']:.1f} | {r['ms_wall']:.1f} | {r['ms_cpu']:.1f} |")
    lines.append(f"| reference / current | | | {ref['ms_wall'] / cur['ms_wall']:.2f}x | "
                 f"{ref['ms_cpu'] / cur['ms_cpu']:.2f}x |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"bench_manip_cost_{name}.md").write_text(table + "\n")
    return 0


def run(ns: argparse.Namespace) -> int:
    args = dataclass_from_args(ManipBenchOptions, ns)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    learners = [k.strip() for k in args.learners.split(",") if k.strip()]
    bad = [k for k in learners if k not in LEARNERS]
    if bad or not learners:
        print(f"--learners: unknown {bad}; valid: {list(LEARNERS)}")
        return 2
    try:
        net = [int(x) for x in args.sb3_net.split(",") if x.strip()]
        sb3 = SB3Config(batch_size=args.sb3_batch, net_arch=net, learning_starts=args.sb3_learning_starts)
        if not net or min(net) < 1 or args.sb3_batch < 1 or args.sb3_learning_starts < 0:
            raise ValueError
    except ValueError:
        print(f"--sb3-net / --sb3-batch / --sb3-learning-starts: want positive integers, got {args.sb3_net!r} / "
              f"{args.sb3_batch} / {args.sb3_learning_starts}")
        return 2
    for t in tasks:
        try:
            make_goal_env(t).close()
        except ValueError as exc:
            print(f"--tasks: {exc}")
            return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for task in tasks:
        cfg = TrainConfig(**task_fields(task), steps=args.steps, seed=args.seed,
                          demos=args.demos, demo_keep=args.demo_keep, demo_labels=args.demo_labels,
                          bc_iters=args.bc_iters,
                          pretrain_iters=args.pretrain_iters, hidden_dim=args.hidden_dim,
                          episode_steps=args.episode_steps, updates_per_step=args.updates_per_step,
                          eval_every=args.eval_every, eval_episodes=args.eval_episodes, threads=args.threads,
                          pi_q_members=args.pi_q_members)
        name = run_name(cfg)
        if args.cost_episodes > 0:
            run_cost(args, cfg, name)
            continue
        command = (f"toponav bench manip --tasks {task} --learners {args.learners} --steps {args.steps} "
                   f"--seed {args.seed} --demos {args.demos} --demo-keep {args.demo_keep} "
                   f"--demo-labels {args.demo_labels} "
                   f"--pretrain-iters {args.pretrain_iters} --hidden-dim {args.hidden_dim} "
                   f"--updates-per-step {args.updates_per_step} --pi-q-members {args.pi_q_members} "
                   f"--eval-every {args.eval_every} --eval-episodes {args.eval_episodes}")
        jobs = [(kind, cfg, sb3, out / f"world_model_{name}.pt", command, not ns.no_progress and args.jobs == 1)
                for kind in learners]
        if args.jobs > 1:
            # spawn: a fresh interpreter per learner (no forked torch / PyBullet state)
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(args.jobs, len(jobs)), mp_context=spawn) as pool:
                done = list(pool.map(train_learner, *zip(*jobs)))
        else:
            done = [train_learner(*job) for job in jobs]
        results[name] = dict(zip(learners, done))
        plot_curves({SHORT[kind]: results[name][kind]["curves"] for kind in learners},
                    out / f"bench_manip_{name}.png", f"{name}: learners side by side (seed {args.seed})")
    if args.cost_episodes > 0:
        return 0
    lines = [f"# toponav bench manip (seed {args.seed}, {args.steps} env steps, {args.demos} demos "
             f"({args.demo_keep}, {args.demo_labels} labels) for the world model and our SAC, "
             f"{args.eval_episodes} eval episodes; SB3: "
             f"{sb3.describe()}; {platform.processor() or platform.machine()})", "",
             "Success = held at the last of the episode's steps; reached = at the goal at some step (panda-gym's own "
             "success: its episodes end there).", "",
             "| task | method | success (held) at env steps | reached at env steps | final held / reached | updates "
             "| ms / env step (wall / CPU) | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for name, per in results.items():
        for kind in learners:
            r = per[kind]
            for mode, label in LEARNERS[kind]:
                held, reached = r["curves"][f"success_{mode}"], r["curves"][f"reached_{mode}"]
                pts = ", ".join(f"{s // 1000}k: {v:.0%}" for s, v in zip(r["curves"]["step"], held))
                pts_r = ", ".join(f"{s // 1000}k: {v:.0%}" for s, v in zip(r["curves"]["step"], reached))
                lines.append(f"| {name} | {label} | {pts} | {pts_r} | **{held[-1]:.0%} / {reached[-1]:.0%}** | "
                             f"{r['updates']} | {_fmt_ms(r)} | {r['wall_s']:.0f} |")
        if "world_model" in per:
            wm = per["world_model"]
            for kind in learners:
                if kind == "world_model":
                    continue
                b = per[kind]
                succ = (f"{wm['final_success_mpc'] / b['final_success_policy']:.2f}x"
                        if b["final_success_policy"] > 0 else f"baseline 0%, world model {wm['final_success_mpc']:.0%}")
                lines.append(f"| {name} | world model / {LEARNERS[kind][0][1]} | | | {succ} (held) | | CPU ms "
                             f"{wm['ms_per_step_cpu'] / max(b['ms_per_step_cpu'], 1e-9):.2f}x | |")
    table = "\n".join(lines)
    print(table)
    (out / "bench_manip.md").write_text(table + "\n")
    (out / "bench_manip.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {out}/bench_manip.md, .json and learning curves")
    return 0

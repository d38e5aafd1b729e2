"""``toponav bench manip``: the world-model agent vs model-free SAC on the Panda tasks, in one run.

Both learners get the same scripted demos, the same behaviour-cloning pre-training, the same
hindsight relabelling and the same number of environment steps and updates per step (see
:mod:`toponav.manipulation.sac`); success rates are measured on the same fixed evaluation seeds at
the same environment steps. Writes a markdown table, a JSON file and one learning-curve PNG per task.

    toponav bench manip --tasks push --steps 20000 --eval-every 5000 --eval-episodes 20
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from toponav.experiments.train_world_model import TrainConfig, plot_curves, train
from toponav.models.world_model import save_world_model

METHODS = (("world_model", "mpc", "world model + MPPI"), ("world_model", "policy", "world model policy prior"),
           ("sac", "policy", "SAC (model-free)"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", default="push", help="comma-separated: push, pickplace")
    parser.add_argument("--steps", type=int, default=20000, help="environment steps per learner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demos", type=int, default=TrainConfig().demos)
    parser.add_argument("--bc-iters", type=int, default=TrainConfig().bc_iters)
    parser.add_argument("--pretrain-iters", type=int, default=TrainConfig().pretrain_iters,
                        help="world-model updates on demos only before interaction (SAC has no model to pre-train)")
    parser.add_argument("--episode-steps", type=int, default=0, help="0 = the task's own length")
    parser.add_argument("--updates-per-step", type=float, default=TrainConfig().updates_per_step)
    parser.add_argument("--hidden-dim", type=int, default=TrainConfig().hidden_dim,
                        help="MLP hidden size of both learners")
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_manip"))
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    bad = [t for t in tasks if t not in ("push", "pickplace")]
    if bad:
        print(f"unknown task(s) {bad}; valid: push, pickplace")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for task in tasks:
        cfg = TrainConfig(task=task, steps=args.steps, seed=args.seed, demos=args.demos, bc_iters=args.bc_iters,
                          pretrain_iters=args.pretrain_iters, hidden_dim=args.hidden_dim,
                          episode_steps=args.episode_steps,
                          updates_per_step=args.updates_per_step, eval_every=args.eval_every,
                          eval_episodes=args.eval_episodes, threads=args.threads)
        results[task] = {}
        for kind in ("world_model", "sac"):
            r = train(cfg, kind=kind, progress=not args.no_progress)
            agent = r.pop("agent")
            results[task][kind] = r
            if kind == "world_model":  # the benchmarked model is kept (this is how the shipped one was made)
                command = (f"toponav bench manip --tasks {task} --steps {args.steps} --seed {args.seed} "
                           f"--demos {args.demos} --pretrain-iters {args.pretrain_iters} "
                           f"--hidden-dim {args.hidden_dim} "
                           f"--updates-per-step {args.updates_per_step} "
                           f"--eval-every {args.eval_every} --eval-episodes {args.eval_episodes}")
                save_world_model(out / f"world_model_{task}.pt", agent.model,
                                 {k: v for k, v in r.items()} | {"command": command})
        plot_curves({"world model": results[task]["world_model"]["curves"], "SAC": results[task]["sac"]["curves"]},
                    out / f"bench_manip_{task}.png", f"Panda {task}: world model vs SAC (seed {args.seed})")
    lines = [f"# toponav bench manip (seed {args.seed}, {args.steps} env steps, {args.demos} demos, "
             f"{args.eval_episodes} eval episodes; {platform.processor() or platform.machine()})", "",
             "| task | method | success at env steps | final | updates | wall s |", "|---|---|---|---|---|---|"]
    for task, per in results.items():
        for kind, mode, label in METHODS:
            r = per[kind]
            curve = r["curves"][f"success_{mode}"]
            pts = ", ".join(f"{s}: {v:.0%}" for s, v in zip(r["curves"]["step"], curve))
            lines.append(f"| {task} | {label} | {pts} | **{curve[-1]:.0%}** | {r['updates']} | {r['wall_s']:.0f} |")
        wm, sac = per["world_model"]["final_success_mpc"], per["sac"]["final_success_policy"]
        lines.append(f"| {task} | ratio world model / SAC | | {wm / sac:.2f}x |" if sac > 0 else
                     f"| {task} | ratio world model / SAC | | SAC 0% |")
    table = "\n".join(lines)
    print(table)
    (out / "bench_manip.md").write_text(table + "\n")
    (out / "bench_manip.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {out}/bench_manip.md, .json and learning curves")
    return 0

"""How good a start behaviour cloning gives the world model, by demo count and BC label (issue 18).

For each env, demo count and seed: the scripted policy with action noise 0.2 (``DEMO_NOISE``, what training
uses) is rolled until that many episodes succeed (``--demo-keep successful``'s rule); the world model's encoder
and policy prior are cloned for ``--bc-iters`` steps (what ``toponav train world-model`` does before
interaction), once on the **executed** (noisy) actions and once on the **clean** actions the script meant
(DART; :mod:`toponav.learning.buffer`); the prior is scored on the trainer's fixed evaluation episodes by both
rules (held at the last step / reached at some step, :mod:`toponav.learning.goal_episodes`).
Nothing here is trained further: it measures only the start that the demos give.

Run: ``python -m toponav.experiments.compare_demo_bc --envs panda-gym:PandaPickAndPlace-v3 --demos 10,40``
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from toponav.experiments.train_world_model import TrainConfig, make_agent, make_env, task_fields
from toponav.learning.goal_episodes import DEMO_NOISE, behaviour_clone, collect_demos, evaluate


def bc_start(env_name: str, n_demos: int, labels: str, seed: int, bc_iters: int, episodes: int) -> dict:
    """Prior success after BC on ``n_demos`` successful noisy demos with ``labels`` (executed or clean)."""
    cfg = TrainConfig(**task_fields(env_name), seed=seed, demos=n_demos, demo_keep="successful", demo_labels=labels,
                      bc_iters=bc_iters)
    torch.manual_seed(seed)
    env = make_env(cfg)
    demos, _, attempts = collect_demos(env, cfg.demos, DEMO_NOISE, seed, cfg.demo_keep, cfg.demo_labels)
    agent, _, _ = make_agent(cfg, "world_model", env)
    losses = behaviour_clone(agent, demos, bc_iters, np.random.default_rng(seed))
    res = evaluate(env, agent, episodes, seed, "policy")
    env.close()
    return {"kept": demos.size, "attempts": attempts, "bc_loss": losses[-1] if losses else float("nan"),
            "held": res.held, "reached": res.reached}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--envs", default="panda-gym:PandaPush-v3,panda-gym:PandaPickAndPlace-v3",
                        help="comma-separated goal-envs (module:EnvId) or our scenes (push, pickplace)")
    parser.add_argument("--demos", default="10,20,40", help="comma-separated demo counts")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--bc-iters", type=int, default=TrainConfig.bc_iters)
    parser.add_argument("--eval-episodes", type=int, default=40)


def run(ns: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    print("| env | demos kept / tried | seed | labels | BC loss | prior held | prior reached |")
    print("|---|---|---|---|---|---|---|")
    for env_name in ns.envs.split(","):
        for n in (int(x) for x in ns.demos.split(",")):
            for seed in (int(x) for x in ns.seeds.split(",")):
                for labels in ("executed", "clean"):
                    r = bc_start(env_name, n, labels, seed, ns.bc_iters, ns.eval_episodes)
                    print(f"| {env_name} | {r['kept']} / {r['attempts']} | {seed} | {labels} | {r['bc_loss']:.4f} | "
                          f"{r['held']:.0%} | {r['reached']:.0%} |", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

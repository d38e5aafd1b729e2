"""The baselines the field uses on sparse-reward goal tasks: stable-baselines3 SAC + HER and sb3-contrib TQC + HER.

Hyperparameters follow rl-baselines3-zoo's Panda settings for TQC (``hyperparams/tqc.yml``: gamma 0.95,
learning rate 1e-3, tau 0.05, HerReplayBuffer with ``future`` goals and 4 sampled goals per transition,
2 critics, buffer 1e6), used for SAC as well. Two things are sized down so a 100k-step run fits this
2-core CPU machine (the zoo's own numbers, for a GPU, are in brackets): networks 2 x 256 ([512, 512, 512])
and batch 256 (2048). One gradient step per env step (train_freq 1, gradient_steps 1, as the zoo), 1000
random-action steps before learning. No TimeFeatureWrapper: our episodes never terminate early, and a
truncation is bootstrapped (SB3's ``handle_timeout_termination``), so time does not change the target.

The SB3 learners get **no demonstrations** (as they are used in the field; the world model's demos are
its MoDem-style bootstrap). They train on the same fixed-length dict env the world model sees
(:class:`toponav.learning.flat_goal_env.FixedLengthGoalEnv`, the env's own sparse reward) and are evaluated by
the same function on the same evaluation seeds.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from toponav.config import param
from toponav.learning.flat_goal_env import FlatGoalEnv
from toponav.learning.goal_envs import make_goal_env
from toponav.learning.goal_episodes import evaluate
from toponav.seeding import seed_everything

ALGOS = ("sac", "tqc")


@dataclass
class SB3Config:
    """SB3 learner settings (rl-baselines3-zoo's Panda TQC settings, networks and batch sized for a CPU)."""

    learning_rate: float = param(1e-3, "Adam learning rate (zoo)", min=1e-6, max=1.0)
    gamma: float = param(0.95, "discount (zoo)", min=0.0, max=1.0)
    tau: float = param(0.05, "target tracking rate (zoo)", min=0.0, max=1.0)
    batch_size: int = param(256, "samples per gradient step (zoo: 2048, sized down for the CPU)", min=1)
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    buffer_size: int = param(1_000_000, "replay capacity (zoo)", min=1000)
    learning_starts: int = param(1000, "random-action env steps before learning", min=0)
    n_sampled_goal: int = param(4, "HER goals sampled per transition (zoo)", min=1)
    goal_selection_strategy: str = param("future", "HER strategy (zoo)", choices=("future", "final", "episode"))
    top_quantiles_to_drop_per_net: int = param(2, "TQC: quantiles dropped per critic (sb3-contrib default)", min=0)

    def describe(self) -> str:
        return (f"lr {self.learning_rate}, gamma {self.gamma}, tau {self.tau}, batch {self.batch_size}, "
                f"net {self.net_arch}, buffer {self.buffer_size}, learning_starts {self.learning_starts}, "
                f"HER {self.goal_selection_strategy} x{self.n_sampled_goal}")


def make_model(algo: str, env, config: SB3Config, seed: int):
    """An SB3 SAC or sb3-contrib TQC model with HER on a dict goal-env."""
    from stable_baselines3 import SAC, HerReplayBuffer

    if algo not in ALGOS:
        raise ValueError(f"unknown SB3 algorithm {algo!r}; valid: {ALGOS}")
    c = config
    kwargs: dict[str, Any] = dict(
        learning_rate=c.learning_rate, gamma=c.gamma, tau=c.tau, batch_size=c.batch_size,
        buffer_size=c.buffer_size, learning_starts=c.learning_starts, replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs=dict(n_sampled_goal=c.n_sampled_goal, goal_selection_strategy=c.goal_selection_strategy),
        policy_kwargs=dict(net_arch=list(c.net_arch)), seed=seed, device="cpu", verbose=0)
    if algo == "tqc":
        from sb3_contrib import TQC

        kwargs["policy_kwargs"]["n_critics"] = 2
        return TQC("MultiInputPolicy", env, top_quantiles_to_drop_per_net=c.top_quantiles_to_drop_per_net, **kwargs)
    return SAC("MultiInputPolicy", env, **kwargs)


class SB3Agent:
    """Drives an SB3 model through the trainer's evaluation (``begin_episode`` / ``act`` on flat obs)."""

    def __init__(self, model, env: FlatGoalEnv) -> None:
        self.model, self.layout = model, env.layout

    def begin_episode(self, step: int, *, eval_mode: bool = False, mode: str = "policy") -> None:
        """Nothing to reset."""

    def act(self, obs: np.ndarray, *, explore: bool = False) -> np.ndarray:
        action, _ = self.model.predict(self.layout.to_dict(obs), deterministic=not explore)
        return np.asarray(action, dtype=np.float32)


def train_sb3(cfg, algo: str, *, sb3: SB3Config | None = None, progress: bool = False, log=print) -> dict[str, Any]:
    """Train ``algo`` + HER for ``cfg.steps`` env steps on ``cfg``'s env, evaluating like the world model.

    ``cfg`` is a :class:`toponav.experiments.train_world_model.TrainConfig` (env, seed, steps, evaluation,
    threads); the result dict has the trainer's keys (curves, final success, cost per env step)."""
    from toponav.experiments.train_world_model import make_env, run_name

    sb3 = sb3 or SB3Config()
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    eval_env = make_env(cfg)
    train_env = make_goal_env(cfg.env or cfg.task, max_steps=cfg.episode_steps or None).dict_env
    kind = f"sb3_{algo}_her"
    tag = f"{kind}/{run_name(cfg)}"
    t_start = time.perf_counter()
    # a buffer that never fills is the same buffer: no need to allocate a million slots for a short run
    sized = dataclasses.replace(sb3, buffer_size=min(sb3.buffer_size, max(cfg.steps, 1000)))
    model = make_model(algo, train_env, sized, cfg.seed)
    agent = SB3Agent(model, eval_env)
    log(f"[{tag}] {sb3.describe()}; no demos")
    curves: dict[str, list] = {"step": [], "success_policy": [], "reached_policy": [], "time_s": []}
    wall = cpu = 0.0

    def do_eval(step: int) -> None:
        curves["step"].append(step)
        res = evaluate(eval_env, agent, cfg.eval_episodes, cfg.seed, "policy")
        curves["success_policy"].append(res.held)
        curves["reached_policy"].append(res.reached)
        curves["time_s"].append(time.perf_counter() - t_start)
        log(f"[{tag}] step {step}: success policy {res.held:.0%} (reached {res.reached:.0%}), "
            f"{curves['time_s'][-1]:.0f} s")

    do_eval(0)
    step = 0
    while step < cfg.steps:
        chunk = min(cfg.eval_every - step % cfg.eval_every, cfg.steps - step)
        w0, c0 = time.perf_counter(), time.process_time()
        model.learn(total_timesteps=chunk, reset_num_timesteps=False, progress_bar=False)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        step += chunk
        do_eval(step)
    eval_env.close()
    train_env.close()
    updates = int(getattr(model, "_n_updates", 0))
    per_step = {"ms_per_step_wall": 1e3 * wall / max(step, 1), "ms_per_step_cpu": 1e3 * cpu / max(step, 1)}
    log(f"[{tag}] training cost per env step (evaluation excluded): {per_step['ms_per_step_wall']:.1f} ms wall, "
        f"{per_step['ms_per_step_cpu']:.1f} ms CPU")
    return {"kind": kind, "task": cfg.task, "env": cfg.env or cfg.task, "seed": cfg.seed, "steps": step,
            "updates": updates, "demos": 0, "hyperparameters": sb3.describe(), "curves": curves,
            "final_success_policy": curves["success_policy"][-1],
            "final_reached_policy": curves["reached_policy"][-1], **per_step,
            "wall_s": time.perf_counter() - t_start, "agent": agent}

"""``toponav train policy``: PPO for the low-level obstacle-avoidance policy, in the vectorised twin.

CleanRL-style and meant to be read top to bottom: Args (every field documented; ``--help`` shows them through
:mod:`toponav.learning.cli`) -> seeding -> env (the curriculum stages and :class:`AvoidanceTask` of
:mod:`toponav.learning.avoidance_task`, the env that trained the shipped ``avoidance_policy.pt``) -> networks ->
rollout -> advantages (:func:`toponav.learning.gae.gae`) -> PPO update -> logging (``charts/`` and ``losses/``
tags, steps per second) -> held-out evaluation (:mod:`toponav.learning.avoidance_eval`) -> checkpoint +
model-card numbers.

The policy proposes (v, ω); by default the same safety layer that runs on the robot filters it during
training too (``--safety-in-loop``), and the CaRL-style reward lowers the progress reward whenever the
layer had to intervene, so the policy learns not to lean on it.

Curriculum over world difficulty: open forests (local sub-goals 1-5 m) -> the easier half of the BARN
training worlds (local sub-goals) -> all BARN training worlds (half local, half the full 10 m route).
A stage ends when the rolling success rate passes ``--advance-success`` (after ``--min-stage-frac`` of
the budget) or when its share of the budget is spent. BARN held-out worlds are never trained on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toponav.config import param
from toponav.learning.cli import add_dataclass_arguments, dataclass_from_args
from toponav.seeding import seed_everything

DEFAULT_OUT = "models/checkpoints/avoidance_policy.pt"


@dataclass
class Args:
    """PPO + task options (``toponav train policy --help`` lists them with these help texts)."""

    seed: int = param(1, "seed of python, numpy and torch (the whole run is reproducible on one machine)")
    total_timesteps: int = param(300_000, "environment steps over all envs", min=1)
    num_envs: int = param(16, "parallel robots in the twin", min=1)
    num_steps: int = param(128, "rollout length per env per update", min=1)
    learning_rate: float = param(3e-4, "Adam learning rate", min=0.0)
    anneal_lr: bool = param(True, "linearly anneal the learning rate to 0")
    gamma: float = param(0.99, "discount", min=0.0, max=1.0)
    gae_lambda: float = param(0.95, "GAE lambda", min=0.0, max=1.0)
    num_minibatches: int = param(4, "minibatches per epoch", min=1)
    update_epochs: int = param(4, "PPO epochs per update", min=1)
    clip_coef: float = param(0.2, "PPO ratio clip", min=0.0)
    ent_coef: float = param(0.0, "entropy bonus coefficient", min=0.0)
    vf_coef: float = param(0.5, "value loss coefficient", min=0.0)
    max_grad_norm: float = param(0.5, "gradient clipping norm", min=0.0)
    target_kl: float = param(0.0, "stop the epoch loop early above this approx KL; 0 = off", min=0.0)
    hidden: int = param(64, "hidden units per layer (actor and critic)", min=4)
    layers: int = param(2, "hidden layers", min=1)
    sectors: int = param(32, "lidar sectors in the observation", min=4)
    beams: int = param(128, "lidar beams in the twin (down-sampled to sectors)", min=4)
    reward: str = param("carl", "sparse: +1 at the sub-goal; carl: progress x penalty factors, ends on collision",
                        choices=("sparse", "carl"))
    rnd_coef: float = param(0.0, "weight of the RND intrinsic reward (toponav.models.rnd, on the observation); 0 = off",
                            min=0.0)
    collision_penalty: float = param(0.5, "reward subtracted on a collision (the episode ends)", min=0.0)
    reach_bonus: float = param(0.5, "carl: bonus for reaching the sub-goal", min=0.0)
    safety_penalty: float = param(0.0, "carl: reward subtracted per step the safety layer changed the command "
                                       "(without it a policy pinned against an obstacle by the layer loses nothing)",
                                  min=0.0)
    action_delay: float = param(0.0, "share of training episodes whose commands act one control step late "
                                     "(domain randomisation: the physics base responds about one step late)",
                                min=0.0, max=1.0)
    safety_in_loop: bool = param(True, "filter actions with the robot's safety layer during training")
    curriculum: str = param("forest,barn_easy,barn_all", "comma-separated stages: forest, barn_easy, barn_all, "
                         "barn_hier (BARN training worlds: half the episodes with carrot sub-goals as in bench barn, "
                         "a quarter full routes, a quarter local sub-goals)")
    advance_success: float = param(0.8, "rolling success rate that ends a stage early", min=0.0, max=1.0)
    min_stage_frac: float = param(0.15, "a stage runs at least this fraction of the budget", min=0.0, max=1.0)
    forest_worlds: int = param(24, "training seeds of the forest family in the first stage", min=1)
    eval_barn: int = param(50, "held-out BARN worlds evaluated in the twin at the end (route mode, goal and "
                               "carrot sub-goals); 0 = none", min=0)
    eval_local: int = param(64, "held-out forest local sub-goal episodes at the end", min=0)
    init: str = param("", "start from this policy checkpoint's weights (fine-tuning); empty = fresh weights")
    threads: int = param(1, "torch threads (the machine is shared)", min=1)
    out: str = param(DEFAULT_OUT, "checkpoint path (a model-card JSON with the results is written next to it)")
    log_every: int = param(1, "print a log line every this many updates", min=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, Args)


# ------------------------------------------------------------------------------------------ training
def train(args: Args) -> dict:
    import torch
    from torch import optim

    from toponav.control.config import ObservationConfig, SafetyConfig
    from toponav.control.observation import action_to_cmd, obs_dim
    from toponav.learning.avoidance_eval import evaluate_policy
    from toponav.learning.avoidance_task import AvoidanceTask, TaskConfig, make_stage
    from toponav.learning.gae import ended_after, gae
    from toponav.models.checkpoint import save_checkpoint
    from toponav.models.policy import KIND, AvoidancePolicy, PolicyConfig
    from toponav.robot import AgvParams, LidarParams

    # -- seeding: one block ---------------------------------------------------------------------
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)

    # -- env factory ----------------------------------------------------------------------------
    robot, lidar = AgvParams(), LidarParams(beams=args.beams)
    obs_cfg = ObservationConfig(sectors=args.sectors)
    safety_cfg = SafetyConfig()
    task_cfg = TaskConfig(reward=args.reward, collision_penalty=args.collision_penalty, reach_bonus=args.reach_bonus,
                          safety_in_loop=args.safety_in_loop, safety_penalty=args.safety_penalty,
                          action_delay_prob=args.action_delay)
    stage_names = [s.strip() for s in args.curriculum.split(",") if s.strip()]
    stages = [make_stage(s, args.forest_worlds) for s in stage_names]
    task = AvoidanceTask(stages[0], args.num_envs, task_cfg, obs_cfg, robot, lidar, safety_cfg, seed=args.seed)

    # -- networks -------------------------------------------------------------------------------
    pcfg = PolicyConfig(obs_dim=obs_dim(obs_cfg), hidden=args.hidden, layers=args.layers)
    agent = AvoidancePolicy(pcfg)
    if args.init:
        from toponav.models.checkpoint import load_checkpoint, load_state

        load_state(agent, load_checkpoint(args.init, kind=KIND))  # CheckpointError names the problem
        print(f"[train] initialised from {args.init}", flush=True)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    intrinsic = None
    if args.rnd_coef > 0:  # RND (Burda et al.) on the policy's own observation; stats warmed up before use
        from toponav.models.rnd import RND

        intrinsic = RND(pcfg.obs_dim, seed=args.seed)
        intrinsic.warmup(task.observe())

    # -- storage --------------------------------------------------------------------------------
    n, t_len = args.num_envs, args.num_steps
    obs_buf = torch.zeros((t_len, n, pcfg.obs_dim))
    act_buf = torch.zeros((t_len, n, pcfg.act_dim))
    logp_buf = torch.zeros((t_len, n))
    rew_buf = torch.zeros((t_len, n))
    done_buf = torch.zeros((t_len, n))
    val_buf = torch.zeros((t_len, n))

    batch_size = n * t_len
    minibatch = max(1, batch_size // args.num_minibatches)
    num_updates = max(1, args.total_timesteps // batch_size)
    stage_i, stage_start = 0, 0
    recent = deque(maxlen=200)
    history: list[dict] = []
    global_step = 0
    start = time.time()
    next_obs = torch.as_tensor(task.observe())
    next_done = torch.zeros(n)

    for update in range(1, num_updates + 1):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (update - 1.0) / num_updates) * args.learning_rate
        # -- rollout ------------------------------------------------------------------------------
        int_sum = 0.0
        for step in range(t_len):
            global_step += n
            obs_buf[step] = next_obs
            done_buf[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            val_buf[step] = value.flatten()
            act_buf[step] = action
            logp_buf[step] = logprob
            cmd = action_to_cmd(action.numpy(), robot)
            obs_np, reward, done, _, info = task.step(cmd)
            if intrinsic is not None:
                r_int = np.asarray(intrinsic.intrinsic_reward(obs_np), dtype=np.float64)
                int_sum += float(r_int.sum())
                reward = reward + args.rnd_coef * r_int
            rew_buf[step] = torch.as_tensor(reward, dtype=torch.float32)
            next_obs = torch.as_tensor(obs_np)
            next_done = torch.as_tensor(done, dtype=torch.float32)
            for k in range(len(info.get("success", ()))):
                recent.append({key: float(v[k]) for key, v in info.items()})

        # -- advantages (GAE; done_buf holds CleanRL's "obs t starts an episode" flags) ------------------
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = gae(rew_buf, val_buf, next_value, ended_after(done_buf, next_done), args.gamma,
                             args.gae_lambda)
            returns = advantages + val_buf

        # -- PPO update ---------------------------------------------------------------------------
        b_obs = obs_buf.reshape(-1, pcfg.obs_dim)
        losses = ppo_update(agent, optimizer, b_obs, act_buf.reshape(-1, pcfg.act_dim), logp_buf.reshape(-1),
                            advantages.reshape(-1), returns.reshape(-1), val_buf.reshape(-1), minibatch, args)
        if intrinsic is not None:
            rnd_loss = intrinsic.train_step(b_obs.numpy())

        # -- logging + curriculum ------------------------------------------------------------------
        sps = int(global_step / (time.time() - start))
        succ = float(np.mean([e["success"] for e in recent])) if recent else 0.0
        coll = float(np.mean([e["collision"] for e in recent])) if recent else 0.0
        ret = float(np.mean([e["return"] for e in recent])) if recent else 0.0
        safe = float(np.mean([e["safety_rate"] for e in recent])) if recent else 0.0
        row = {"global_step": global_step, "stage": stages[stage_i].name, "charts/success": round(succ, 3),
               "charts/collision": round(coll, 3), "charts/episodic_return": round(ret, 3),
               "charts/safety_interventions": round(safe, 3), "charts/SPS": sps,
               **losses}
        if intrinsic is not None:
            row["losses/rnd_loss"] = round(float(rnd_loss), 5)
            row["charts/intrinsic_reward"] = round(float(int_sum / max(t_len * n, 1)), 4)
        history.append(row)
        if update % args.log_every == 0:
            print(json.dumps(row), flush=True)
        stage_steps = global_step - stage_start
        share = args.total_timesteps / max(len(stages), 1)
        if stage_i < len(stages) - 1 and (
            (stage_steps >= args.min_stage_frac * args.total_timesteps and len(recent) >= 100
             and succ >= args.advance_success) or stage_steps >= share):
            stage_i += 1
            stage_start = global_step
            recent.clear()
            print(f"[train] curriculum -> stage '{stages[stage_i].name}' at step {global_step}", flush=True)
            task.set_stage(stages[stage_i])
            next_obs = torch.as_tensor(task.observe())
            next_done = torch.zeros(n)

    train_seconds = time.time() - start
    agent.eval()
    results = {"train_seconds": round(train_seconds, 1), "steps": global_step, "final": history[-1] if history else {}}

    # -- held-out evaluation in the twin ----------------------------------------------------------
    results.update(evaluate_policy(agent, obs_cfg, robot, lidar, safety_cfg, args.eval_barn, args.eval_local))
    meta = {"command": "toponav train policy " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["train", "policy"]
            else "toponav train policy", "args": dataclasses.asdict(args), "results": results}
    config = {"policy": dataclasses.asdict(pcfg), "obs": dataclasses.asdict(obs_cfg),
              "action": {"max_v": robot.max_v, "min_v": robot.min_v, "max_w": robot.max_w},
              "lidar": {"beams": lidar.beams, "range_max": lidar.range_max}}
    path = save_checkpoint(args.out, KIND, agent.state_dict(), config, meta)
    Path(path).with_suffix(".json").write_text(json.dumps(meta, indent=2))
    print(f"[train] saved {path} ({Path(path).stat().st_size} bytes)")
    return results


def ppo_update(agent, optimizer, b_obs, b_act, b_logp, b_adv, b_ret, b_val, minibatch: int, args: Args) -> dict:
    """CleanRL's PPO-clip epochs over one rollout (flattened ``b_*`` tensors); returns the ``losses/`` log tags."""
    import torch
    from torch import nn

    batch_size = len(b_obs)
    clipfracs = []
    for _epoch in range(args.update_epochs):
        perm = torch.randperm(batch_size)
        for s0 in range(0, batch_size, minibatch):
            mb = perm[s0 : s0 + minibatch]
            _, newlogp, entropy, newvalue = agent.get_action_and_value(b_obs[mb], b_act[mb])
            logratio = newlogp - b_logp[mb]
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfracs.append(((ratio - 1.0).abs() > args.clip_coef).float().mean().item())
            mb_adv = b_adv[mb]
            mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            pg_loss = torch.max(-mb_adv * ratio,
                                -mb_adv * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)).mean()
            newvalue = newvalue.view(-1)
            v_clipped = b_val[mb] + torch.clamp(newvalue - b_val[mb], -args.clip_coef, args.clip_coef)
            v_loss = 0.5 * torch.max((newvalue - b_ret[mb]) ** 2, (v_clipped - b_ret[mb]) ** 2).mean()
            ent = entropy.mean()
            loss = pg_loss - args.ent_coef * ent + args.vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()
        if args.target_kl > 0 and approx_kl > args.target_kl:
            break
    return {"losses/value_loss": round(float(v_loss.detach()), 4),
            "losses/policy_loss": round(float(pg_loss.detach()), 4),
            "losses/entropy": round(float(ent.detach()), 3), "losses/approx_kl": round(float(approx_kl), 4),
            "losses/clipfrac": round(float(np.mean(clipfracs)), 3)}


def run(ns: argparse.Namespace) -> int:
    args = dataclass_from_args(Args, ns)  # ConfigError: toponav.cli says it, exit 2
    train(args)
    return 0

"""The goal-env adapter: any gymnasium goal-env (here panda-gym's real tasks) as flat vectors for the learners."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from toponav.learning.demos import scripted_policy
from toponav.learning.goal_envs import make_goal_env
from toponav.manipulation.goal_env import OWN_LAYOUT
from toponav.models.world_model import WorldModel, WorldModelConfig
from toponav.sim.arm import make_env


@pytest.mark.parametrize(("name", "dim", "actions"), [("panda-gym:PandaReach-v3", 12, 3),
                                                     ("panda-gym:PandaPush-v3", 24, 3),
                                                     ("panda-gym:PandaPickAndPlace-v3", 25, 4)])
def test_panda_gym_flattens_to_observation_achieved_desired(name: str, dim: int, actions: int) -> None:
    env = make_goal_env(name)
    flat, _ = env.reset(seed=3)
    raw = env.dict_env.unwrapped._get_obs()
    lay = env.layout
    assert (lay.dim, env.action_space.shape[0], env.max_steps) == (dim, actions, 50)
    assert flat.shape == (dim,) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[lay.achieved_slice], raw["achieved_goal"], atol=1e-6)
    np.testing.assert_allclose(flat[lay.desired_slice], raw["desired_goal"], atol=1e-6)
    back = lay.to_dict(flat)
    np.testing.assert_allclose(back["observation"], raw["observation"], atol=1e-6)
    env.close()


def test_reward_is_the_envs_own_and_episodes_run_to_the_end() -> None:
    env = make_goal_env("panda-gym:PandaReach-v3")
    policy = scripted_policy(env)
    obs, _ = env.reset(seed=0)
    rewards, dones = [], []
    for _ in range(env.max_steps):
        obs, r, terminated, truncated, info = env.step(policy(obs))
        rewards.append(r)
        dones.append((terminated, truncated))
    # panda-gym's sparse reward (-1 away from the goal, 0 at it); it would have terminated at first success
    assert set(rewards) <= {-1.0, 0.0} and rewards[0] == -1.0 and rewards[-1] == 0.0 and info["is_success"]
    assert dones[:-1] == [(False, False)] * (env.max_steps - 1) and dones[-1] == (False, True)
    lay = env.layout
    batch = np.stack([obs, obs])
    batch[1, lay.desired_slice] += 0.2
    np.testing.assert_array_equal(env.compute_reward(batch[:, lay.achieved_slice], batch[:, lay.desired_slice]),
                                  [0.0, -1.0])
    env.close()


def test_own_scene_through_the_adapter_keeps_its_layout() -> None:
    env = make_goal_env("push")
    assert env.layout == OWN_LAYOUT and env.max_steps == 50
    flat, _ = env.reset(seed=5)
    ref = make_env("push")
    ref_obs, _ = ref.reset(seed=5)
    np.testing.assert_allclose(flat, ref_obs)
    env.close()
    ref.close()


@pytest.mark.parametrize("name", ["stack", "CartPole-v1", "nosuchmodule:Foo-v0", "panda-gym:PandaFoo-v3",
                                  "gymnasium:CartPole-v1"])
def test_bad_env_names_are_refused_clearly(name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"env {name!r}")):
        make_goal_env(name)


@pytest.mark.parametrize(("name", "need"), [("panda-gym:PandaReach-v3", 5), ("panda-gym:PandaPush-v3", 3),
                                            ("panda-gym:PandaPickAndPlace-v3", 3)])
def test_scripted_demos_solve_panda_gym_tasks(name: str, need: int) -> None:
    """Noiseless scripts on 5 fixed episodes (over 20 seeds: reach 20, push 18, pick-and-place 17 succeed)."""
    env = make_goal_env(name)
    policy = scripted_policy(env)
    wins = 0
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        for _ in range(env.max_steps):
            obs, _, _, _, info = env.step(policy(obs))
        wins += info["is_success"]
    assert wins >= need
    env.close()


def test_relabelled_rewards_come_from_the_env() -> None:
    from toponav.learning.goal_episodes import make_buffer, run_episode

    env = make_goal_env("panda-gym:PandaReach-v3")
    buf = make_buffer(env, 2)
    obs, act, rew, _, _ = run_episode(env, scripted_policy(env), seed=1)
    buf.add(obs, act, rew)
    o, _, r = buf.sample(64, 3, np.random.default_rng(0), her_prob=1.0)
    lay = env.layout
    want = env.compute_reward(o[1:, :, lay.achieved_slice].numpy(), o[1:, :, lay.desired_slice].numpy())
    np.testing.assert_array_equal(r.numpy(), want)
    assert (o[0, :, lay.desired_slice] == o[-1, :, lay.desired_slice]).all()  # one goal per subsequence
    env.close()


def test_world_model_features_follow_the_layout() -> None:
    env = make_goal_env("panda-gym:PandaPush-v3")
    lay = env.layout
    model = WorldModel(WorldModelConfig(action_dim=3, **lay.model_indices()))
    obs = torch.zeros(1, lay.dim)
    obs[0, lay.ee:lay.ee + 3] = torch.tensor([0.1, 0.0, 0.0])
    obs[0, lay.achieved_slice] = torch.tensor([0.3, 0.0, 0.0])
    obs[0, lay.desired_slice] = torch.tensor([0.3, 0.2, 0.0])
    f = model.features(obs)[0] / model.config.feature_scale
    torch.testing.assert_close(f[lay.dim:lay.dim + 3], torch.tensor([0.2, 0.0, 0.0]))  # object - EE
    torch.testing.assert_close(f[lay.dim + 3:], torch.tensor([0.0, 0.2, 0.0]))  # goal - object
    assert model.encode(obs).shape == (1, model.config.latent_dim)
    env.close()


def test_an_episode_counts_success_held_and_reached() -> None:
    """Held = at the goal at the last step; reached = at some step (panda-gym's own success, it would end there)."""
    from toponav.learning.goal_episodes import run_episode

    env = make_goal_env("panda-gym:PandaReach-v3")
    policy = scripted_policy(env)
    ep = run_episode(env, policy, seed=1)
    assert ep.success and ep.reached  # the script reaches and stays
    t = {"n": 0}

    def reach_then_leave(obs):  # the script for 30 steps, then straight up, away from any goal
        t["n"] += 1
        return policy(obs) if t["n"] <= 30 else np.array([0.0, 0.0, 1.0], dtype=np.float32)

    ep = run_episode(env, reach_then_leave, seed=1)
    assert ep.reached and not ep.success
    env.close()


def test_clean_demo_labels_are_the_actions_the_script_meant() -> None:
    """DART-style demos: the executed action carries noise, the BC label is the script's own action there."""
    from toponav.learning.goal_episodes import collect_demos
    from toponav.learning.world_model_agent import Agent

    env = make_goal_env("push", max_steps=12)
    plain, _, _ = collect_demos(env, 2, 0.2, seed=3)
    demos, _, _ = collect_demos(env, 2, 0.2, seed=3, labels="clean")
    np.testing.assert_array_equal(demos.act[:2], plain.act[:2])  # the same noisy episodes either way
    assert plain.labels is None
    script = scripted_policy(env)
    for t in range(12):
        np.testing.assert_allclose(demos.labels[0, t], script(demos.obs[0, t]), atol=1e-6)
    assert np.abs(demos.labels[:2] - demos.act[:2]).max() > 0.05
    batch = demos.sample(8, 3, np.random.default_rng(0))
    assert len(batch) == 4 and batch[3].shape == batch[1].shape
    agent = Agent(WorldModelConfig(), seed=0)
    info = agent.update(batch[:3], batch, step=0)  # demo columns learn BC from the labels
    assert np.isfinite(info["total"]) and info["bc"] > 0
    with pytest.raises(ValueError, match="labels"):
        collect_demos(env, 1, 0.2, seed=3, labels="noisy")
    env.close()

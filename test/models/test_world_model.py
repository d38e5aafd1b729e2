"""World model: component shapes, a training step lowers the loss, checkpoint io and its failures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toponav.learning.buffer import EpisodeBuffer
from toponav.learning.world_model_agent import Agent, AgentConfig, agency
from toponav.manipulation.obs import GOAL, OBJ
from toponav.models.checkpoint import CheckpointError
from toponav.models.world_model import WorldModel, WorldModelConfig, load_world_model, save_world_model

torch.set_num_threads(1)


def test_component_shapes() -> None:
    cfg = WorldModelConfig(action_dim=4, latent_dim=16, hidden_dim=32, num_q=3)
    m = WorldModel(cfg)
    obs = torch.randn(7, 10) * 0.1
    a = torch.rand(7, 4) * 2 - 1
    z = m.encode(obs)
    assert z.shape == (7, 16)
    assert m.next(z, a).shape == (7, 16)
    assert m.reward(z, a).shape == (7, 1)
    assert m.Q(z, a).shape == (3, 7, 1)
    assert m.Q(z.expand(2, 7, 16), a.expand(2, 7, 4)).shape == (3, 2, 7, 1)
    act, mean, logp = m.pi(z)
    assert act.shape == mean.shape == (7, 4) and logp.shape == (7, 1)
    assert torch.all(act.abs() <= 1) and torch.all(torch.isfinite(logp))
    assert m.value(z, k=1.0).shape == (7, 1)


def test_value_is_conservative_over_the_ensemble() -> None:
    m = WorldModel(WorldModelConfig(num_q=5))
    with torch.no_grad():
        m._qs[-1].weight.normal_()  # members disagree
    z = m.encode(torch.randn(4, 10) * 0.1)
    assert torch.all(m.value(z, k=1.0) < m.value(z, k=0.0))


def _fixed_batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    buf = EpisodeBuffer(4, 20, 10, 3)
    for _ in range(4):
        obs = np.cumsum(rng.normal(0, 0.01, (21, 10)), axis=0).astype(np.float32)
        buf.add(obs, rng.uniform(-1, 1, (20, 3)).astype(np.float32), (rng.random(20) < 0.3).astype(np.float32))
    return buf.sample(64, 3, rng)


def test_one_update_reduces_loss_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    agent = Agent(WorldModelConfig(), AgentConfig(lr=3e-3, batch_size=64), seed=0)
    batch = _fixed_batch()
    before, _ = agent.model_loss(*batch)
    agent.update(batch)
    after, _ = agent.model_loss(*batch)
    assert float(after) < float(before)


def test_bc_update_reduces_imitation_loss() -> None:
    agent = Agent(WorldModelConfig(), AgentConfig(), seed=0)
    obs = torch.randn(64, 10) * 0.1
    act = torch.tanh(obs[:, :3] * 10)
    first = agent.bc_update(obs, act)
    for _ in range(30):
        last = agent.bc_update(obs, act)
    assert last < first


def test_agency_schedule_moves_from_bc_to_mpc() -> None:
    cfg = AgentConfig(agency_start=100, agency_steps=200)
    assert agency(0, cfg) == 0.0 and agency(100, cfg) == 0.0
    assert agency(200, cfg) == pytest.approx(0.5)
    assert agency(10_000, cfg) == 1.0


def test_her_relabels_goals_with_recomputed_rewards() -> None:
    rng = np.random.default_rng(0)
    buf = EpisodeBuffer(1, 10, 10, 3)
    obs = np.zeros((11, 10), dtype=np.float32)
    obs[:, OBJ] = np.linspace(0, 0.5, 11)[:, None]  # cube moves along the diagonal
    obs[:, GOAL] = 5.0  # unreachable goal: original rewards all zero
    buf.add(obs, np.zeros((10, 3), np.float32), np.zeros(10, np.float32))
    o, _, r = buf.sample(256, 3, rng, her_prob=1.0)
    goals = o[0, :, GOAL]
    assert torch.all(goals < 1.0)  # every goal replaced by a reached cube position
    expected = (torch.linalg.norm(o[1:, :, OBJ] - goals.unsqueeze(0), dim=-1) < 0.05).float()
    assert torch.equal(r, expected) and r.sum() > 0


def test_checkpoint_roundtrip_and_corrupt_file(tmp_path) -> None:
    m = WorldModel(WorldModelConfig(action_dim=3))
    path = save_world_model(tmp_path / "wm.pt", m, {"steps": 5})
    loaded, meta = load_world_model(path)
    assert meta["steps"] == 5
    obs = torch.randn(3, 10) * 0.1
    assert torch.allclose(loaded.encode(obs), m.encode(obs))
    assert path.stat().st_size < 3_000_000
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"bad\.pt"):
        load_world_model(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_world_model(tmp_path / "missing.pt")


def test_q_of_chosen_members_equals_those_rows_of_the_full_ensemble() -> None:
    m = WorldModel(WorldModelConfig(num_q=5))
    with torch.no_grad():
        m._qs[-1].weight.normal_()
    z, a = m.encode(torch.randn(6, 10) * 0.1), torch.rand(6, 3) * 2 - 1
    pick = torch.tensor([3, 1])
    torch.testing.assert_close(m.Q(z, a, members=pick), m.Q(z, a)[pick])


def test_policy_step_leaves_the_q_functions_without_gradients() -> None:
    """The policy loss only needs dQ/da; Q weight gradients would be wasted work (and must stay trainable)."""
    for members in (5, 2):
        agent = Agent(WorldModelConfig(), AgentConfig(batch_size=64, pi_q_members=members), seed=0)
        z = agent.model.encode(torch.randn(3, 16, 10) * 0.1).detach()
        before = [p.detach().clone() for p in agent.model._pi.parameters()]
        agent._policy_update(z, torch.zeros(3, 16, 3), 0, 0)
        assert all(p.grad is None and p.requires_grad for p in agent.model._qs.parameters())
        assert any(not torch.equal(b, p) for b, p in zip(before, agent.model._pi.parameters()))

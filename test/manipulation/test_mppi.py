"""MPPI beats random action sequences on a known toy dynamics, and warm-starts from its last plan."""

from __future__ import annotations

import torch

from toponav.manipulation.mppi import MPPI, MPPIConfig

torch.set_num_threads(1)
GOAL = torch.tensor([0.8, -0.5])


class PointMass:
    """z' = z + 0.1 a; reward = -|z' - goal|; no value; a random policy prior."""

    def next(self, z, a):
        return z + 0.1 * a

    def reward(self, z, a):
        return -torch.linalg.norm(self.next(z, a) - GOAL, dim=-1, keepdim=True)

    def value(self, z, k=1.0):
        return torch.zeros(z.shape[0], 1)

    def pi(self, z, *, deterministic=False):
        a = torch.rand(z.shape[0], 2) * 2 - 1
        return a, a, torch.zeros(z.shape[0], 1)


def _episode(act, steps: int = 15) -> float:
    model, z, total = PointMass(), torch.zeros(1, 2), 0.0
    for _ in range(steps):
        a = act(z).reshape(1, 2)
        total += float(model.reward(z, a))
        z = model.next(z, a)
    return total


def test_mppi_improves_on_random_actions() -> None:
    gen = torch.Generator().manual_seed(0)
    planner = MPPI(MPPIConfig(horizon=5, iterations=4, num_samples=128, num_pi_samples=8, num_elites=16, max_std=1.0),
                   action_dim=2)
    planned = _episode(lambda z: planner.plan(PointMass(), z, generator=gen))
    randoms = [_episode(lambda z: torch.rand(2, generator=gen) * 2 - 1) for _ in range(10)]
    assert planned > max(randoms)
    assert planned > 0.5 * sum(randoms) / len(randoms)  # returns are negative: at least twice as good


def test_warm_start_shifts_previous_plan() -> None:
    planner = MPPI(MPPIConfig(horizon=4, iterations=2, num_samples=32, num_pi_samples=0), action_dim=2)
    gen = torch.Generator().manual_seed(1)
    planner.plan(PointMass(), torch.zeros(1, 2), generator=gen)
    assert planner._prev_mean is not None and planner._prev_mean.shape == (4, 2)
    planner.reset()
    assert planner._prev_mean is None


class StillPrior(PointMass):
    """The same point mass, but the policy prior always says 'stay' (a wrong prior: the goal is elsewhere)."""

    def pi(self, z, *, deterministic=False):
        a = torch.zeros(z.shape[0], 2)
        return a, a, torch.zeros(z.shape[0], 1)


def _first_step_toward_goal(config: MPPIConfig) -> float:
    planner = MPPI(config, action_dim=2)
    a = planner.plan(StillPrior(), torch.zeros(1, 2), generator=torch.Generator().manual_seed(0))
    return float(a @ (GOAL / GOAL.norm()))


def test_default_planner_can_overrule_a_wrong_prior() -> None:
    # Sampling is centred on the prior, so max_std bounds how far one plan can leave it: the default
    # must let the model's returns pull the action well away from the prior, as std 0.1 could not.
    assert _first_step_toward_goal(MPPIConfig()) > 0.4
    assert _first_step_toward_goal(MPPIConfig(max_std=0.1)) < 0.3

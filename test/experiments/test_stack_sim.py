"""The in-process stack (toponav.experiments.stack_sim): deterministic, and it explores through doors."""

from __future__ import annotations

from toponav.experiments.stack_sim import budget_for, load_configs, run_stack
from toponav.worlds import make_world


def test_same_world_twice_gives_the_same_trajectory() -> None:
    world = make_world("maze", 3)  # a training seed
    a = run_stack(world, budget=6.0)
    b = run_stack(world, budget=6.0)
    assert a.trajectory == b.trajectory and a.log == b.log
    assert a.path_length > 1.0, a.log  # it drove (out of the start room's corner toward a frontier)


def test_configs_follow_the_launch_params_file() -> None:
    sim, _mapper, planner, ctl = load_configs()
    assert ctl.mode == "dwa" and sim.odometry == "wheels"  # config/sim_navigation.yaml leaves the sim default
    assert planner.goal_direct_radius == 6.0 and planner.weights.log_gain == 0.0
    assert budget_for(20.0) == 60.0 + 8.0 * 20.0 and budget_for(None) == 60.0

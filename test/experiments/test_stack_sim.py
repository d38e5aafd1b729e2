"""The in-process stack (toponav.experiments.stack_sim): deterministic, and it explores through doors."""

from __future__ import annotations

import pytest

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


def test_wheel_odometry_mode_drives_on_the_corrected_pose() -> None:
    """``odometry="wheels"``: the nodes get the sim's odometry and the planner the mapper's corrected pose, which
    stays near the truth where the odometry does not; it still drives."""
    world = make_world("maze", 3)
    # wheels 20 % off in scale (this seed's draw): the raw odometry handed on is 0.26 m off within the 6 s, the
    # corrected pose 0.045 m
    bad_wheels = {"sim_node": {"robot.odom_scale_std": 0.2, "seed": 1}}
    run = run_stack(world, budget=6.0, odometry="wheels", overrides=bad_wheels)
    assert run.path_length > 1.0, run.log
    assert run.pose_error_max is not None and run.pose_error_max < 0.1, run.pose_error_max
    assert run_stack(world, budget=1.0).pose_error_max is None  # true pose: nothing to score
    with pytest.raises(ValueError, match="odometry"):
        run_stack(world, budget=1.0, odometry="gps")

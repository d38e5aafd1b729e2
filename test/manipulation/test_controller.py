"""The ROS-free world-model controller: input checks, checkpoint failures, one valid step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toponav.manipulation import kinematics as kin
from toponav.manipulation.controller import (
    ControllerConfig,
    InputError,
    WorldModelController,
    parse_joint_state,
)
from toponav.manipulation.mppi import MPPIConfig
from toponav.models.checkpoint import CheckpointError, default_checkpoint
from toponav.models.world_model import WorldModel, WorldModelConfig, save_world_model

NAMES = list(kin.ARM_JOINTS + kin.FINGER_JOINTS)
HOME = [*kin.HOME.tolist(), 0.0, 0.0]


@pytest.fixture(scope="module")
def controller(tmp_path_factory) -> WorldModelController:
    torch.manual_seed(0)
    path = save_world_model(tmp_path_factory.mktemp("ckpt") / "wm.pt", WorldModel(WorldModelConfig()))
    cfg = ControllerConfig(checkpoint=str(path), mppi=MPPIConfig(iterations=1, num_samples=16, num_pi_samples=4))
    return WorldModelController(cfg)


def test_valid_step_gives_joint_targets(controller) -> None:
    cmd = controller.step(NAMES, HOME, np.array([0.05, 0.0, 0.02]), np.array([0.15, 0.05, 0.02]))
    assert list(cmd.joint_names) == NAMES and cmd.positions.shape == (9,)
    assert np.all(np.isfinite(cmd.positions))
    assert np.all(cmd.positions[:7] >= kin.LOWER) and np.all(cmd.positions[:7] <= kin.UPPER)
    assert cmd.plan_ms > 0.0 and cmd.distance == pytest.approx(np.hypot(0.1, 0.05))
    # Joint order in the message does not matter.
    perm = list(reversed(range(9)))
    cmd2 = controller.step([NAMES[i] for i in perm], [HOME[i] for i in perm], np.array([0.05, 0.0, 0.02]),
                           np.array([0.15, 0.05, 0.02]))
    assert cmd2.positions.shape == (9,)


@pytest.mark.parametrize("names,positions,match", [
    (NAMES[:5], HOME[:5], "lacks"),
    (NAMES, HOME[:8], "9 names but 8 positions"),
    (["joint_a", *NAMES[1:]], HOME, "lacks"),
    (NAMES, [np.nan, *HOME[1:]], "NaN"),
    (NAMES, [10.0, *HOME[1:]], "limits"),
])
def test_bad_joint_states_are_refused(controller, names, positions, match) -> None:
    with pytest.raises(InputError, match=match):
        controller.step(names, positions, np.array([0.05, 0.0, 0.02]), np.array([0.15, 0.05, 0.02]))


@pytest.mark.parametrize("target", [[2.0, 0.0, 0.02], [0.0, 0.0, -0.5], [np.inf, 0.0, 0.0]])
def test_target_outside_workspace_is_refused(controller, target) -> None:
    with pytest.raises(InputError, match="target"):
        controller.step(NAMES, HOME, np.array([0.05, 0.0, 0.02]), np.array(target))


def test_parse_joint_state_reads_finger_width() -> None:
    q, width = parse_joint_state(NAMES, [*kin.HOME.tolist(), 0.01, 0.015])
    assert np.allclose(q, kin.HOME) and width == pytest.approx(0.025)
    with pytest.raises(InputError, match="finger"):
        parse_joint_state(NAMES[:7], kin.HOME.tolist(), n_fingers_needed=2)


def test_corrupt_or_missing_checkpoint_raises_clear_error(tmp_path) -> None:
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"corrupt\.pt"):
        WorldModelController(ControllerConfig(checkpoint=str(bad)))
    with pytest.raises(CheckpointError, match="does not exist"):
        WorldModelController(ControllerConfig(checkpoint=str(tmp_path / "nope.pt")))


def test_default_checkpoint_path_is_inside_the_package() -> None:
    assert default_checkpoint("world_model_push").name == "world_model_push.pt"
    assert default_checkpoint("world_model_push").parent.name == "checkpoints"


def test_checkpoint_of_another_observation_layout_is_refused(tmp_path) -> None:
    """A panda-gym PandaPush-v3 model (24-number observation) cannot drive the node's 10-vector scene."""
    from toponav.learning.flat_goal_env import concat_layout
    from toponav.learning.goal_envs import make_goal_env

    env = make_goal_env("panda-gym:PandaPush-v3")
    lay = concat_layout(env.dict_env.observation_space)
    env.close()
    path = save_world_model(tmp_path / "pg.pt", WorldModel(WorldModelConfig(**lay.model_indices())))
    with pytest.raises(CheckpointError, match=r"observation layout .*obs_dim': 24.* trained on another env"):
        WorldModelController(ControllerConfig(checkpoint=str(path)))

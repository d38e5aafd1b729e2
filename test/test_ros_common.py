"""Parameters declared from config dataclasses: overrides apply, bad values are refused by name."""

from __future__ import annotations

import pytest
import rclpy
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter

from toponav.config import ConfigError
from toponav.robot import RobotConfig
from toponav.ros_nodes.common import declare_config


@pytest.fixture
def context(domain_id: int):
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def test_overrides_and_live_validation(context: Context) -> None:
    node = Node("params_test", context=context,
                cli_args=["--ros-args", "-p", "robot.max_v:=0.5", "-p", "lidar.beams:=32"])
    node.config = declare_config(node, RobotConfig)
    assert node.config.robot.max_v == 0.5
    assert node.config.lidar.beams == 32
    refused = node.set_parameters([Parameter("robot.max_v", value=-3.0)])[0]
    assert not refused.successful and "robot.max_v" in refused.reason
    assert node.config.robot.max_v == 0.5
    accepted = node.set_parameters([Parameter("lidar.beams", value=16)])[0]
    assert accepted.successful and node.config.lidar.beams == 16
    node.destroy_node()


def test_bad_startup_value_names_parameter(context: Context) -> None:
    node = Node("params_bad", context=context, cli_args=["--ros-args", "-p", "lidar.beams:=0"])
    with pytest.raises(ConfigError, match=r"lidar\.beams"):
        declare_config(node, RobotConfig)
    node.destroy_node()

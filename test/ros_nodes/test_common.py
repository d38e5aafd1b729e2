"""Parameters declared from config dataclasses: overrides apply, bad values are refused by name; node processes
spin with the chosen executor, fire their timers and stop cleanly on SIGINT."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

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


_TICKER = """
import sys
from rclpy.node import Node
from toponav.ros_nodes.common import run_node

def factory():
    node = Node("ticker")
    node.create_timer(0.05, lambda: print("tick", flush=True))
    return node

sys.exit(run_node(factory))
"""


def _ticker(executor: str, domain_id: int) -> subprocess.Popen:
    env = {**os.environ, "TOPONAV_EXECUTOR": executor, "ROS_DOMAIN_ID": str(domain_id),
           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    return subprocess.Popen([sys.executable, "-c", _TICKER], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("executor", ["events", "single"])
def test_node_process_fires_timers_and_stops_cleanly_on_sigint(executor: str, domain_id: int) -> None:
    # EventsExecutor.spin() never fires timers in this rclpy: run_node must drive it so that they fire
    proc = _ticker(executor, domain_id)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    ticks = 0
    # select bounds each read: a process that never ticks (the regression) fails here, it does not hang
    while ticks < 3 and select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
        line = proc.stdout.readline()
        if not line:
            break  # the process exited
        ticks += line.strip() == "tick"
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=20)
    err = proc.stderr.read() if proc.stderr else ""
    assert ticks == 3, err
    assert code == 0, err


def test_unknown_executor_is_refused_by_name(domain_id: int) -> None:
    proc = _ticker("bogus", domain_id)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "TOPONAV_EXECUTOR='bogus'" in err

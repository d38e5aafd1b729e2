"""The shipped parameter files build the nodes' config dataclasses (no typos, values in range)."""

from __future__ import annotations

from pathlib import Path

from toponav.config import build, load_ros_params
from toponav.manipulation.controller import ControllerConfig

ROOT = Path(__file__).resolve().parents[2]


def test_world_model_controller_yaml_builds() -> None:
    values = load_ros_params(ROOT / "config/world_model_controller.yaml", "world_model_controller")
    extra = {k: values.pop(k) for k in ("use_sim_time", "command_topic")}  # declared by the node / rclpy
    cfg = build(ControllerConfig, values)
    assert cfg.mode == "mpc" and cfg.mppi.horizon == 3 and extra["use_sim_time"] is True


def test_arm_sim_yaml_builds() -> None:
    from toponav.ros_nodes.arm_sim_node import ArmSimConfig

    cfg = build(ArmSimConfig, load_ros_params(ROOT / "config/arm_sim.yaml", "arm_sim_node"))
    assert cfg.task == "push" and abs(cfg.scene.control_dt - 10 / 240) < 1e-9

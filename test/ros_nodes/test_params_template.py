"""The shipped params templates (config/hodat_controller.yaml, config/subgoal_planner.yaml) are what the generator
writes from the config dataclasses, hold exactly the defaults, and are accepted by the real nodes."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from toponav import config as cfgmod
from toponav.ros_nodes.params_template import TEMPLATES, main, template_for
from toponav.testing import NodeProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("node", sorted(TEMPLATES))
def test_shipped_template_is_what_the_generator_writes(node: str) -> None:
    shipped = (ROOT / "config" / f"{node}.yaml").read_text()
    assert shipped == template_for(node), (
        f"config/{node}.yaml is out of date: python -m toponav.ros_nodes.params_template {node} > config/{node}.yaml")


@pytest.mark.parametrize("node", sorted(TEMPLATES))
def test_template_holds_every_default(node: str) -> None:
    module, name = TEMPLATES[node]
    cls = getattr(importlib.import_module(module), name)
    params = yaml.safe_load(template_for(node))[f"/**/{node}"]["ros__parameters"]
    assert cfgmod.build(cls, params) == cls()

    def leaves(d: dict, prefix: str = "") -> set[str]:
        return set().union(*(leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
                             for k, v in d.items()))

    unset = {k for k, v in cfgmod.flatten(cls()).items() if v is None or v == []}  # commented out in the file
    assert leaves(params) | unset == set(cfgmod.flatten(cls()))


def test_generator_command_prints_a_template(capsys) -> None:
    assert main(["hodat_controller"]) == 0
    assert capsys.readouterr().out == template_for("hodat_controller")


@pytest.mark.parametrize(("node", "ready"), [("hodat_controller", "hodat_controller up"),
                                             ("subgoal_planner", "sub-goal planner up")])
def test_node_starts_on_its_template(node: str, ready: str, domain_id: int) -> None:
    proc = NodeProcess(f"toponav.ros_nodes.{node}", domain_id, params_file=ROOT / "config" / f"{node}.yaml")
    try:
        assert wait_for(lambda: ready in proc.output() or not proc.alive(), 60.0), proc.output()
        assert proc.alive() and ready in proc.output(), proc.output()
    finally:
        assert proc.stop() == 0, proc.output()

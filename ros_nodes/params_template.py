"""A ROS 2 params-file template written from a node's config dataclass: every parameter at its default,
with its help text, so a deployment copies what it changes into its own overrides file.

The shipped ``config/hodat_controller.yaml`` and ``config/subgoal_planner.yaml`` are such templates; a test
checks they equal what :func:`params_template` writes, so they cannot drift from the dataclass defaults.
Regenerate one with ``python -m toponav.ros_nodes.params_template hodat_controller > config/hodat_controller.yaml``.
No ROS import: the text is plain YAML.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from typing import Any

import yaml

from toponav import config as cfgmod

#: node name -> (module, config class) of the nodes that ship a template
TEMPLATES = {
    "hodat_controller": ("toponav.control.config", "HodatConfig"),
    "subgoal_planner": ("toponav.ros_nodes.subgoal_planner", "SubgoalPlannerNodeConfig"),
}


def _scalar(value: Any) -> str:
    """One YAML value in flow style (``2.0``, ``''``, ``[1.0, 2.0]``), as a params file spells it."""
    return yaml.safe_dump([list(value) if isinstance(value, tuple) else value], default_flow_style=True,
                          width=10_000)[1:-2]


def _lines(cfg: Any, metas: dict[str, Any], prefix: str, indent: str) -> list[str]:
    out: list[str] = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out.append(f"{indent}{f.name}:")
            out += _lines(value, metas, f"{prefix}{f.name}.", indent + "  ")
            continue
        meta = metas.get(prefix + f.name, {})
        if meta.get("help"):
            out.append(f"{indent}# {' '.join(str(meta['help']).split())}")
        if value is None or value == () or value == []:  # rcl's params parser takes neither null nor []
            out.append(f"{indent}# {f.name}: {'[]' if value is not None else ''}  (unset by default)")
        else:
            out.append(f"{indent}{f.name}: {_scalar(value)}")
    return out


def params_template(node: str, cls: type) -> str:
    """The params-file text for ``node``: ``/**/node: ros__parameters:`` with every field of ``cls`` at its
    default, nested as the dataclasses nest, each under a comment holding its help text."""
    header = [
        f"# {node} parameters: every field of {cls.__name__} at its default (a template, not overrides).",
        f"# Written by `python -m toponav.ros_nodes.params_template {node}`; a test keeps it equal to the defaults.",
        "# Copy the lines you change into your own params file: config files hold overrides only.",
        f"/**/{node}:",
        "  ros__parameters:",
    ]
    return "\n".join(header + _lines(cls(), dict(cfgmod.metadata(cls)), "", "    ")) + "\n"


def template_for(node: str) -> str:
    module, name = TEMPLATES[node]
    return params_template(node, getattr(importlib.import_module(module), name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toponav.ros_nodes.params_template", description=__doc__)
    parser.add_argument("node", choices=sorted(TEMPLATES), help="node whose template to print")
    args = parser.parse_args(argv)
    sys.stdout.write(template_for(args.node))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

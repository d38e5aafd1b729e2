"""Guard the layering of docs/architecture.md by walking every import statement in the source tree.

Layers, bottom to top (each may import the layers listed for it, never one above it):

| layer | modules | may import (toponav) | third-party it may not import |
|---|---|---|---|
| core | ``toponav.*`` below, ``toponav.models`` | core | rclpy / ROS messages, pybullet |
| sim | ``toponav.sim`` | core | rclpy / ROS messages, torch |
| learning | ``toponav.learning`` | core, sim | rclpy / ROS messages, pybullet |
| nodes | ``toponav.ros_nodes`` | core, sim | pybullet |
| commands | ``toponav.experiments``, ``toponav.cli`` | everything | rclpy / ROS messages, pybullet |

Only the simulator nodes use ``toponav.sim``; that is not a carve-out of the table but a second, stronger
rule checked on the transitive import graph: the nodes a robot runs (``launch/robot.launch.xml``) never
reach ``toponav.sim`` or pybullet through any chain of imports.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# source folder -> package name it installs as
FOLDERS = {"toponav": "toponav", "sim": "toponav.sim", "models": "toponav.models", "ros_nodes": "toponav.ros_nodes"}
ROS_PREFIXES = ("rclpy", "std_msgs", "geometry_msgs", "nav_msgs", "sensor_msgs", "visualization_msgs",
                "rosgraph_msgs", "std_srvs", "trajectory_msgs", "diagnostic_msgs", "rcl_interfaces",
                "builtin_interfaces", "tf2_ros", "lifecycle_msgs")
LAYERS = ("core", "sim", "learning", "nodes", "commands")
MAY_IMPORT = {"core": {"core"}, "sim": {"core", "sim"}, "learning": {"core", "sim", "learning"},
              "nodes": {"core", "sim", "nodes"}, "commands": set(LAYERS)}
_NO_ROS_NO_BULLET = (*ROS_PREFIXES, "pybullet")
FORBIDDEN_THIRD_PARTY = {"core": _NO_ROS_NO_BULLET, "sim": (*ROS_PREFIXES, "torch"), "learning": _NO_ROS_NO_BULLET,
                         "nodes": ("pybullet",), "commands": _NO_ROS_NO_BULLET}


def layer_of(module: str) -> str | None:
    """The layer a ``toponav`` module belongs to; None for anything outside the package."""
    parts = module.split(".")
    if parts[0] != "toponav":
        return None
    sub = parts[1] if len(parts) > 1 else ""
    if sub == "sim":
        return "sim"
    if sub == "learning":
        return "learning"
    if sub == "ros_nodes":
        return "nodes"
    if sub in ("experiments", "cli"):
        return "commands"
    return "core"


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # "from toponav.models import policy" names a module too
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _modules() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            name = ".".join([package, *rel.parts]).removesuffix(".__init__")
            out[name] = _imports(ast.parse(path.read_text(), str(path)))
    return out


def _hits(imports: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imports if any(i == p or i.startswith(p + ".") for p in prefixes))


def violations(modules: dict[str, set[str]]) -> list[str]:
    out: list[str] = []
    for name, imports in modules.items():
        layer = layer_of(name)
        assert layer is not None
        if bad := _hits(imports, FORBIDDEN_THIRD_PARTY[layer]):
            out.append(f"{name} ({layer}) imports {bad}")
        for imp in sorted(imports):
            target = layer_of(imp)
            if target is not None and target not in MAY_IMPORT[layer]:
                out.append(f"{name} ({layer}) imports {imp} ({target}): {layer} may import {sorted(MAY_IMPORT[layer])}")
    return out


def test_layers_hold() -> None:
    modules = _modules()
    assert len(modules) > 50
    assert {layer_of(m) for m in modules} == set(LAYERS)
    found = violations(modules)
    assert not found, "\n".join(found)


def _reachable(start: str, modules: dict[str, set[str]]) -> set[str]:
    """Every module (toponav or third-party top name) reachable from ``start`` through import statements."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for imp in modules.get(name, ()):
            if imp in modules:
                stack.append(imp)
                # importing a.b.c runs the packages a and a.b first
                parts = imp.split(".")
                stack.extend(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules)
            elif layer_of(imp) is None:
                seen.add(imp.split(".")[0])
    return seen


def test_robot_nodes_never_reach_the_simulator() -> None:
    modules = _modules()
    launch = (ROOT / "launch" / "robot.launch.xml").read_text()
    nodes = sorted(set(re.findall(r'exec="([a-z_]+)"', launch)))
    assert "topo_mapper" in nodes and "hodat_controller" in nodes
    for node in nodes:
        reach = _reachable(f"toponav.ros_nodes.{node}", modules)
        bad = sorted(m for m in reach if m == "pybullet" or m == "toponav.sim" or m.startswith("toponav.sim."))
        assert not bad, f"{node} (robot.launch.xml) reaches {bad}"


def test_checker_sees_violations() -> None:
    """The walker must catch a forbidden import of each kind, or the rule tests could never fail."""
    fake = {
        "toponav.mapping.bad": _imports(ast.parse("import rclpy\nfrom toponav.learning import gae\n")),
        "toponav.sim.bad": _imports(ast.parse("import torch\n")),
        "toponav.learning.bad": _imports(ast.parse("def f():\n    from toponav.ros_nodes import convert\n")),
        "toponav.ros_nodes.ok": _imports(ast.parse("import rclpy\nfrom toponav.sim import twin\n")),
    }
    found = "\n".join(violations(fake))
    assert "toponav.mapping.bad (core) imports ['rclpy']" in found
    assert "toponav.learning.gae (learning)" in found
    assert "toponav.sim.bad (sim) imports ['torch']" in found
    assert "toponav.ros_nodes.convert (nodes)" in found
    assert "toponav.ros_nodes.ok" not in found
    chain = {"toponav.ros_nodes.n": {"toponav.control.x"}, "toponav.control.x": {"toponav.sim.twin"},
             "toponav.sim.twin": {"pybullet"}, "toponav.control": set(), "toponav.sim": set()}
    assert {"toponav.sim.twin", "pybullet"} <= _reachable("toponav.ros_nodes.n", chain)

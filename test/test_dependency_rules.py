"""Guard ARCHITECTURE.md's dependency rules by walking every import statement in the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# source folder -> package name it installs as
FOLDERS = {"toponav": "toponav", "sim": "toponav.sim", "models": "toponav.models", "ros_nodes": "toponav.ros_nodes"}
ROS_PREFIXES = ("rclpy", "std_msgs", "geometry_msgs", "nav_msgs", "sensor_msgs", "visualization_msgs",
                "rosgraph_msgs", "std_srvs", "trajectory_msgs", "diagnostic_msgs", "rcl_interfaces",
                "builtin_interfaces", "tf2_ros")


def _modules() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            name = ".".join([package, *rel.parts]).removesuffix(".__init__")
            imports: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    imports.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imports.add(node.module)
            out[name] = imports
    return out


def _hits(imports: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(i for i in imports if any(i == p or i.startswith(p + ".") for p in prefixes))


def test_rules_hold() -> None:
    modules = _modules()
    assert len(modules) > 5
    violations: list[str] = []
    for name, imports in modules.items():
        in_ros = name.startswith("toponav.ros_nodes")
        in_sim = name.startswith("toponav.sim")
        in_models = name.startswith("toponav.models")
        in_experiments = name.startswith("toponav.experiments")
        if not in_ros and (bad := _hits(imports, ROS_PREFIXES)):
            violations.append(f"{name} imports ROS {bad} (only toponav.ros_nodes may)")
        if not in_sim and (bad := _hits(imports, ("pybullet", "pybullet_data"))):
            violations.append(f"{name} imports pybullet {bad} (only toponav.sim may)")
        if in_sim and (bad := _hits(imports, ("torch",))):
            violations.append(f"{name} imports torch (toponav.sim must not)")
        if (in_models or not (in_ros or in_sim or in_experiments)) and (bad := _hits(imports, ("toponav.sim",))):
            violations.append(f"{name} imports {bad}: core and models take worlds/observations as data")
        if in_ros and not name.startswith("toponav.ros_nodes.sim_node") and not name.startswith(
            "toponav.ros_nodes.arm_sim_node"
        ) and (bad := _hits(imports, ("toponav.sim",))):
            violations.append(f"{name} imports {bad}: only the sim nodes may")
    assert not violations, "\n".join(violations)


def test_checker_sees_violations() -> None:
    """The walker itself must catch a forbidden import, or the rule test could never fail."""
    tree = ast.parse("import rclpy\nfrom pybullet import connect\n")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    assert _hits(found, ROS_PREFIXES) == ["rclpy"]
    assert _hits(found, ("pybullet",)) == ["pybullet"]

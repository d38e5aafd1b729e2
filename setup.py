"""ament_python build for the toponav ROS 2 package.

One import namespace: the top-level folders sim/, models/ and ros_nodes/ are installed as
toponav.sim, toponav.models and toponav.ros_nodes (see ARCHITECTURE.md), so only ``toponav``
lands in site-packages.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "toponav"

# Top-level source folder -> installed package name.
MAPPED = {"sim": "toponav.sim", "models": "toponav.models", "ros_nodes": "toponav.ros_nodes"}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages = [p for p in find_packages(include=["toponav", "toponav.*"])]
    package_dir = {PACKAGE: PACKAGE}
    for folder, name in MAPPED.items():
        package_dir[name] = folder
        packages.append(name)
        for sub in find_packages(where=folder):
            packages.append(f"{name}.{sub}")
            package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return packages, package_dir


PACKAGES, PACKAGE_DIR = _packages()

# ROS node executables (installed to lib/toponav by setup.cfg) and the `toponav` CLI. Every node starts through
# toponav.ros_nodes.entry, which exits 0 on SIGINT even during the node's imports.
NODES = ("sim_node", "arm_sim_node", "topo_mapper", "subgoal_planner", "hodat_controller", "world_model_controller",
         "goal_controller", "bag_recorder", "bag_player")  # = toponav.ros_nodes.entry.NODES; started through it

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data={
        "toponav.models": ["checkpoints/*.pt", "checkpoints/*.md", "checkpoints/*.json"],
        "toponav.worlds": ["data/*.json", "data/BARN_LICENSE", "data/maps/*/map.yaml", "data/maps/*/map.pgm"],
        "toponav.sim": ["assets/*.urdf"],
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.xml") + glob("launch/*.launch.yaml")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="toponav developers",
    maintainer_email="dev@toponav.invalid",
    description="Topological exploration, intrinsic-reward planning and learned control for ROS 2",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [f"{name} = toponav.ros_nodes.entry:{name}" for name in NODES]
        + ["toponav = toponav.cli:main"],
    },
)

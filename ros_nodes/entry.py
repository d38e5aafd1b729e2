"""How every toponav node process starts, so that SIGINT or SIGTERM at any moment ends it with exit code 0.

A node module imports rclpy, torch, PyBullet or open3d before ``run_node`` installs its signal handling: a
Ctrl-C (or a launcher's SIGINT) in those seconds raised KeyboardInterrupt inside an import, printed a
traceback and exited with code 1. This module imports nothing heavy: it installs a handler that exits with
code 0 first, then imports the node module and runs its ``main()``; ``run_node`` replaces the handler with
its own once rclpy is up. Used by ``toponav launch`` (``python -m toponav.ros_nodes.entry <node> ...``) and
by the installed executables (setup.py console scripts, ``ros2 run toponav <node>``).
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Callable

#: node executables of this package (module ``toponav.ros_nodes.<name>`` with a ``main()``)
NODES = ("sim_node", "arm_sim_node", "topo_mapper", "subgoal_planner", "hodat_controller", "world_model_controller",
         "goal_controller", "bag_recorder", "bag_player")


def _exit_quietly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def start(name: str) -> None:
    """Run node ``name``: exit 0 on SIGINT/SIGTERM from this instant on, then import and run it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_quietly)
    if name not in NODES:
        print(f"[entry] unknown toponav node {name!r}; nodes: {', '.join(NODES)}", file=sys.stderr)
        raise SystemExit(2)
    importlib.import_module(f"toponav.ros_nodes.{name}").main()


def __getattr__(name: str) -> Callable[[], None]:
    """``toponav.ros_nodes.entry:<node>`` for the console scripts: a function that starts that node."""
    if name in NODES:
        return lambda: start(name)
    raise AttributeError(name)


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything else, even the argument check
        signal.signal(sig, _exit_quietly)
    if len(sys.argv) < 2:
        print("usage: python -m toponav.ros_nodes.entry <node> [--ros-args ...]", file=sys.stderr)
        raise SystemExit(2)
    node = sys.argv.pop(1)
    sys.argv[0] = node
    start(node)

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


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _exit_quietly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _arm() -> None:
    """Exit 0 on SIGINT/SIGTERM from now on, then let through a stop that arrived before this point.

    The interpreter itself (site, ``toponav`` and this module) takes a while to start on a loaded machine, and
    no Python handler can run in that window: a SIGINT 0.1 s after the launcher started the process raised
    KeyboardInterrupt inside runpy. So the launcher starts these processes with SIGINT/SIGTERM blocked (the mask
    survives exec; ``toponav.launching.runner.blocked_stop_signals``): a stop sent in the window waits, pending,
    and is delivered here, to the handler, the moment it is unblocked."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_quietly)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def start(name: str) -> None:
    """Run node ``name``: exit 0 on SIGINT/SIGTERM from this instant on, then import and run it."""
    _arm()
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
    _arm()  # before anything else, even the argument check
    if len(sys.argv) < 2:
        print("usage: python -m toponav.ros_nodes.entry <node> [--ros-args ...]", file=sys.stderr)
        raise SystemExit(2)
    node = sys.argv.pop(1)
    sys.argv[0] = node
    start(node)

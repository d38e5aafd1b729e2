"""The ``toponav`` command line.

Subcommands live next to the code they drive and are imported only when chosen, so ``toponav
--help`` stays fast and a command never pulls in a dependency another command needs (rclpy,
pybullet, torch). Each target module exposes ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from toponav.config import ConfigError
from toponav.experiments.registry import BENCHES

# (command words) -> (module, one-line help). Nested words become nested subcommands.
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("demo",): ("toponav.ros_nodes.demo", "full simulated exploration-and-navigation run (main job)"),
    ("launch",): ("toponav.launching.cli", "run a ROS 2 launch file (XML subset) without ros2 launch"),
    ("world", "show"): ("toponav.sim.world_show", "render a world (family + seed, or BARN index) to PNG"),
    ("map", "show"): ("toponav.mapping.render", "render a saved topological graph over its occupancy grid"),
    ("record",): ("toponav.ros_nodes.bag_recorder", "record live topics to a rosbag2 (MCAP) bag"),
    ("replay",): ("toponav.ros_nodes.bag_player", "replay a rosbag2 bag with /clock"),
    ("eval",): ("toponav.evaluation.cli", "evaluate recorded runs (success, SPL, clearance, coverage...)"),
    ("localise",): ("toponav.experiments.localise", "re-run the mapper's localisation on recorded bags: APE / RPE "
                    "against their ground truth, parameters by --set, several bags summarised per family"),
    ("train", "policy"): ("toponav.experiments.train_policy", "train the PPO obstacle-avoidance policy"),
    ("train", "meta"): ("toponav.experiments.train_meta", "train the h-DQN sub-goal meta-controller"),
    ("train", "world-model"): ("toponav.experiments.train_world_model", "train the manipulation world model"),
    # the benches, from their one table
    **{("bench", name): (b.module, b.summary) for name, b in BENCHES.items()},
    ("bench", "all"): ("toponav.experiments.bench_all", "the full method table and markdown report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toponav", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers: dict[tuple[str, ...], argparse._SubParsersAction] = {
        (): parser.add_subparsers(dest="cmd0", metavar="COMMAND")
    }
    groups: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for words, (module, help_text) in COMMANDS.items():
        for depth in range(len(words) - 1):
            key = words[: depth + 1]
            if key not in groups:
                groups[key] = subparsers[key[:-1]].add_parser(key[-1], help=f"{key[-1]} commands")
                subparsers[key] = groups[key].add_subparsers(dest=f"cmd{depth + 1}", metavar="COMMAND")
        leaf = subparsers[words[:-1]].add_parser(words[-1], help=help_text, description=help_text, add_help=False)
        leaf.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # First pass finds the command; its module then adds its own options and parses again.
    args, _ = parser.parse_known_args(argv)
    if args.version:
        from toponav import __version__

        print(__version__)
        return 0
    module_name = getattr(args, "_module", None)
    if module_name is None:
        parser.print_help()
        return 2
    module = importlib.import_module(module_name)
    prog_words = next(k for k, v in COMMANDS.items() if v[0] == module_name)
    sub = argparse.ArgumentParser(prog="toponav " + " ".join(prog_words), description=COMMANDS[prog_words][1])
    module.add_arguments(sub)
    rest = list(argv)
    for w in prog_words:
        rest.remove(w)
    try:
        return int(module.run(sub.parse_args(rest)) or 0)
    except ConfigError as exc:  # a bad option value, refused by name before anything ran
        print(f"{sub.prog}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

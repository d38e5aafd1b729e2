"""``toponav launch [PKG] FILE [name:=value ...]``: run a ROS 2 XML launch file like ``ros2 launch``.

FILE is a path, or (with PKG, or alone when no such path exists) a file name under
``share/<pkg>/launch``. ``--show-args`` lists the declared arguments, ``--print`` shows the
resolved command lines without starting anything.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from toponav.launching.errors import LaunchError
from toponav.launching.parser import parse_cli_arguments, parse_launch_file
from toponav.launching.runner import Launcher
from toponav.launching.share import find_package_share


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("items", nargs="+", metavar="[PKG] FILE [name:=value ...]",
                        help="launch file (path, or name in share/<PKG>/launch) and launch arguments")
    parser.add_argument("--show-args", "-s", action="store_true", help="list the launch arguments and exit")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="print the node command lines and exit")
    parser.add_argument("--domain-id", type=int, default=None,
                        help="ROS_DOMAIN_ID for every node (default: $ROS_DOMAIN_ID, else a private one)")
    parser.add_argument("--log-dir", default=None, help="per-node log files (default: a temporary folder)")


def resolve_file(items: list[str]) -> tuple[Path, list[str]]:
    """Split ``[PKG] FILE args...`` into the launch file path and the ``name:=value`` items."""
    first, rest = items[0], items[1:]
    if rest and ":=" not in rest[0] and ":=" not in first:
        return find_package_share(first) / "launch" / rest[0], rest[1:]
    path = Path(first)
    if path.exists() or "/" in first:
        return path, rest
    candidate = find_package_share("toponav") / "launch" / first
    return candidate, rest


def run(args: argparse.Namespace) -> int:
    try:
        path, items = resolve_file(args.items)
        desc = parse_launch_file(path, parse_cli_arguments(items))
    except LaunchError as exc:
        print(f"toponav launch: error: {exc}", file=sys.stderr)
        return 2
    if args.show_args:
        print(f"Arguments (pass arguments as '<name>:=<value>') of {desc.file}:")
        for decl in desc.arguments.values():
            default = f"(default: '{decl.default}')" if decl.default is not None else "(required)"
            print(f"    '{decl.name}':\n        {decl.description or 'no description given'}\n        {default}")
        return 0
    launcher = Launcher(desc, domain_id=args.domain_id, log_dir=args.log_dir)
    if args.print_only:
        try:
            for label, cmd in zip(launcher.labels.values(), launcher.commands()):
                print(f"[{label}] {shlex.join(cmd)}")
        except LaunchError as exc:
            print(f"toponav launch: error: {exc}", file=sys.stderr)
            return 2
        return 0
    try:
        return launcher.run()
    except LaunchError as exc:
        print(f"toponav launch: error: {exc}", file=sys.stderr)
        return 2

"""Process environment and command line for anything that starts ROS 2 nodes here (no rclpy import).

DDS must stay on loopback, and every run gets its own domain so parallel runs and tests never
see each other's topics.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

#: Domain ids 1..101 are valid with Fast DDS's default port mapping on one host; 0 is left to users.
DOMAIN_RANGE = (1, 101)


def pick_domain_id(seed: int | None = None) -> int:
    """A domain id for a private run; random so concurrent runs rarely collide."""
    rng = random.Random(seed if seed is not None else (os.getpid() << 16) ^ int.from_bytes(os.urandom(4)))
    return rng.randint(*DOMAIN_RANGE)


def local_ros_env(domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Copy of ``base`` (default os.environ) with DDS on loopback and a private domain."""
    env = dict(os.environ if base is None else base)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["ROS_DOMAIN_ID"] = str(int(domain_id))
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ros_args(params: dict[str, Any] | None = None, params_file: str | Path | None = None,
             remaps: dict[str, str] | None = None, name: str | None = None) -> list[str]:
    """``--ros-args`` command-line tail for parameters, a params file, remaps and a node name."""
    out = ["--ros-args"]
    if name:
        out += ["-r", f"__node:={name}"]
    if params_file:
        out += ["--params-file", str(params_file)]
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | tuple):
            text = "[" + ",".join(str(v) for v in value) + "]"
        else:
            text = str(value)
        out += ["-p", f"{key}:={text}"]
    for src, dst in (remaps or {}).items():
        out += ["-r", f"{src}:={dst}"]
    return out

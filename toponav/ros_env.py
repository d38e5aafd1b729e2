"""Process environment for anything that starts ROS 2 nodes here (no rclpy import).

DDS must stay on loopback, and every run gets its own domain so parallel runs and tests never
see each other's topics.
"""

from __future__ import annotations

import os
import random

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

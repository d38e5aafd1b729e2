"""Shared fixtures. System tests each get a private ROS_DOMAIN_ID and keep DDS on loopback."""

from __future__ import annotations

import itertools
import os

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

_domains = itertools.count((os.getpid() % 50) + 1)


@pytest.fixture
def domain_id() -> int:
    """A private domain id per test (1..101) on which no other node is visible, so a demo or benchmark
    running beside the suite cannot mix its topics in (a counter alone collided with a running
    `bench stack`: the lockstep test then received that stack's steps)."""
    try:
        from toponav.ros_nodes.stack_run import find_free_domain
    except ImportError:  # no rclpy: the tests that need a domain skip themselves
        return (next(_domains) % 100) + 1
    return find_free_domain(listen=1.0)

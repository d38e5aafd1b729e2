"""Shared fixtures. System tests each get a private ROS_DOMAIN_ID and keep DDS on loopback."""

from __future__ import annotations

import itertools
import os

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

_domains = itertools.count((os.getpid() % 50) + 1)


@pytest.fixture
def domain_id() -> int:
    """A fresh domain id per test (1..101), so concurrent tests and runs never share topics."""
    return (next(_domains) % 100) + 1

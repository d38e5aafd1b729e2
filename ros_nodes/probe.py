"""An in-process listener/talker for system tests, demos and benchmarks.

Runs its own rclpy context on a given domain (so tests on different domains never mix), spins
in a background thread, and records every message per topic with the receive time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile

from toponav.ros_nodes.common import COMMAND_QOS


class Probe:
    """Subscribe/publish on a private domain from the test process."""

    def __init__(self, domain_id: int, name: str = "toponav_probe", namespace: str = "") -> None:
        """``namespace``: where relative topic names resolve (a robot's, to watch its stack); absolute names
        are unaffected. Messages are filed under the name as given."""
        self.context = Context()
        rclpy.init(context=self.context, domain_id=int(domain_id))
        self.node = Node(name, namespace=namespace or None, context=self.context)
        self.messages: dict[str, list[Any]] = defaultdict(list)
        self._lock = threading.Lock()
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._pubs: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self._executor.spin_once(timeout_sec=0.05)
            except Exception:
                break

    def subscribe(self, topic: str, msg_type: type, qos: QoSProfile | int = 10, key: str | None = None) -> None:
        """Record ``topic`` under ``key`` (default: the topic), so one topic can be heard with two QoS."""
        def _cb(msg: Any, key: str = key or topic) -> None:
            with self._lock:
                self.messages[key].append(msg)

        self.node.create_subscription(msg_type, topic, _cb, qos)

    def advertise(self, topic: str, msg_type: type, qos: QoSProfile | int = COMMAND_QOS) -> None:
        """Create the publisher without sending: then :meth:`wait_for_subscribers` can come before the first
        message, which on a volatile topic is otherwise lost to a subscriber that has not matched yet."""
        if topic not in self._pubs:
            self._pubs[topic] = self.node.create_publisher(msg_type, topic, qos)

    def publish(self, topic: str, msg: Any, qos: QoSProfile | int = COMMAND_QOS) -> None:
        self.advertise(topic, type(msg), qos)
        self._pubs[topic].publish(msg)

    def wait_for_subscribers(self, topic: str, count: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if topic in self._pubs and self._pubs[topic].get_subscription_count() >= count:
                return True
            time.sleep(0.05)
        return False

    def count(self, topic: str) -> int:
        with self._lock:
            return len(self.messages[topic])

    def last(self, topic: str) -> Any:
        with self._lock:
            return self.messages[topic][-1] if self.messages[topic] else None

    def all(self, topic: str) -> list[Any]:
        with self._lock:
            return list(self.messages[topic])

    def wait(self, topic: str, count: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(topic) >= count:
                return True
            time.sleep(0.02)
        return self.count(topic) >= count

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=2.0)

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Node side of lockstep simulation: join a node's inputs by key and run its logic once per sim step.

A node that takes part (``lockstep: true``; the launch file sets it for the mapper, planner and controller)
hands its input streams to a :class:`LockstepClient` instead of subscribing directly. The client buffers
every message by key (stamp, or checksum for header-less JSON), and on each /lockstep/step it waits until it
holds exactly the messages the step names, feeds them to the node's own callbacks in a fixed order, calls the
node's step function and acks with the keys of what the node published (and, for a controller, the command).
So the node computes the same thing in every run whatever order DDS delivered the messages in. An input that
does not arrive within ``lockstep_input_timeout`` wall seconds (best-effort loss) is logged and the step runs
with what the node has: a lost message must not deadlock the run.

Parameters (declared here, not in the nodes' config dataclasses: they are about the transport, not the
algorithm): ``lockstep`` (bool, default false), ``lockstep_input_timeout`` (wall s, default 8.0).

Names: a client acks as its node's fully qualified name without the leading "/" (``topo_mapper`` at the root,
``robot1/topo_mapper`` under robot1), and its streams and outputs go by their resolved topic names
(``toponav.lockstep.stream_name``): the nodes keep their relative names, and several robots' stacks share the
sim's one barrier without mixing their streams.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile
from rclpy.time import Time
from std_msgs.msg import String

from toponav.lockstep import (
    ACK_TOPIC,
    HELLO,
    STEP_TOPIC,
    AckMsg,
    InputJoin,
    StepMsg,
    payload_key,
    stamp_key,
    stream_name,
)
from toponav.ros_nodes.common import LOCKSTEP_ACK_QOS, LOCKSTEP_STEP_QOS

HELLO_PERIOD = 0.5  # wall s between hellos until the first step arrives
PUBLISHER_WAIT = 60.0  # wall s a node waits for its inputs' publishers before joining the barrier anyway
POLL_PERIOD = 0.25  # wall s: hellos and input deadline checks (inputs themselves trigger the join)


def header_key(msg: Any) -> int:
    return stamp_key(msg.header.stamp.sec, msg.header.stamp.nanosec)


def string_key(msg: String) -> int:
    return payload_key(msg.data)


@dataclass
class Stream:
    """One input: ``name`` as the sim's step message names it, the topic, type, QoS, key and the node's
    own callback (called with each message when the step feeds it)."""

    name: str
    topic: str
    msg_type: type
    qos: QoSProfile
    callback: Callable[[Any], None]
    key: Callable[[Any], int] = header_key
    #: say hello (join the barrier) only once a publisher of this topic is known: on a loaded machine
    #: discovery between the nodes takes seconds, and a step that names a message the node cannot receive yet
    #: would wait for it and then run without it (so the run would depend on the load). False for topics that
    #: may have no publisher at all (a goal sent later by a user).
    wait_publisher: bool = True


def join_qos(qos: QoSProfile, depth: int = 50) -> QoSProfile:
    """The stream's own reliability/durability with a deep queue: a node busy with one step must not lose
    the inputs of the next to a depth-1 history."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=qos.reliability,
                      durability=qos.durability)


def lockstep_enabled(node: Node) -> tuple[bool, float]:
    """Declare ``lockstep`` and ``lockstep_input_timeout`` on ``node``; returns their values."""
    on = node.declare_parameter(
        "lockstep", False, ParameterDescriptor(description="take part in the sim's lockstep barrier")).value
    timeout = node.declare_parameter(
        "lockstep_input_timeout", 8.0,
        ParameterDescriptor(description="lockstep: wall s to wait for a step's inputs before running without "
                                        "the missing ones (logged)")).value
    return bool(on), max(float(timeout), 0.01)


class LockstepClient:
    """Joins ``streams`` by key and runs ``on_step`` once per sim step.

    ``needs(step)`` (called once per step) says which stream names this step must hold (e.g. only on the
    planner's tick steps);
    ``on_step(step)`` runs the node's logic after the inputs were fed and returns ``(outputs, cmd)``:
    the keys of what it published (stream name -> key) and an optional [v, w] command.
    """

    def __init__(self, node: Node, streams: Iterable[Stream], needs: Callable[[StepMsg], Iterable[str]],
                 on_step: Callable[[StepMsg], tuple[dict[str, int], tuple[float, float] | None]],
                 input_timeout: float = 8.0, name: str | None = None) -> None:
        self.node = node
        self.name = name or stream_name(node.get_fully_qualified_name())
        self.streams = {s.name: s for s in streams}
        self.join = InputJoin(list(self.streams))
        self._needs, self._on_step = needs, on_step
        self.input_timeout = input_timeout
        self.step: StepMsg | None = None  # the step being processed (its stamp is the node's "now")
        self._pending: StepMsg | None = None
        self._pending_needs: dict[str, int] = {}
        self._pending_since = 0.0
        self._last_step = HELLO
        self._last_hello = -1e9
        self._created = time.monotonic()
        self.late_steps = 0
        topics = []
        self._wire: dict[str, str] = {}  # stream -> its name in the step messages (resolved topic)
        for s in self.streams.values():
            sub = node.create_subscription(s.msg_type, s.topic, lambda m, s=s: self._on_input(s, m), join_qos(s.qos))
            topics.append(sub.topic_name)
            self._wire[s.name] = stream_name(sub.topic_name)
        self._topics = topics
        self._out_names: dict[str, str] = {}
        self._ack_pub = node.create_publisher(String, ACK_TOPIC, LOCKSTEP_ACK_QOS)
        node.create_subscription(String, STEP_TOPIC, self._on_step_msg, LOCKSTEP_STEP_QOS)
        self._wall = Clock(clock_type=ClockType.STEADY_TIME)
        node.create_timer(POLL_PERIOD, self._poll, clock=self._wall)
        # The node computes on step stamps, never on /clock: with use_sim_time every /clock message would cost
        # it a callback per step for nothing. Its own clock (log stamps, log throttling) is wall time then.
        if node.get_parameter("use_sim_time").value:
            node.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, False)])

    # -- time ------------------------------------------------------------------------------------
    @property
    def now(self) -> Time | None:
        """The current step's sim time: the node's clock for everything it computes in lockstep."""
        return None if self.step is None else Time(nanoseconds=self.step.stamp, clock_type=ClockType.ROS_TIME)

    # -- transport -------------------------------------------------------------------------------
    def _on_input(self, stream: Stream, msg: Any) -> None:
        try:
            key = stream.key(msg)
        except (AttributeError, TypeError, ValueError):
            return
        self.join.push(stream.name, key, msg)
        if self._pending is not None:
            self._try()

    def _on_step_msg(self, msg: String) -> None:
        try:
            step = StepMsg.from_json(msg.data)
        except (ValueError, KeyError, TypeError) as exc:
            self.node.get_logger().warning(f"ignoring a malformed lockstep step: {exc}", throttle_duration_sec=5.0)
            return
        if step.step <= self._last_step and step.step != 0:
            return  # a duplicate or older step (a late node catching up)
        if self._pending is not None:  # the sim moved on without us (we were dropped as hung): catch up
            self.node.get_logger().warning(f"lockstep: step {self._pending.step} abandoned, step {step.step} "
                                           "arrived first (this node was too slow)")
        self._pending = step
        self._pending_since = time.monotonic()
        # asked once per step (the nodes' tick schedules are stateful)
        latest = step.latest
        self._pending_needs = {s: latest[self._wire[s]] for s in self._needs(step)
                               if s in self.streams and self._wire[s] in latest}
        self._try()

    def _inputs_discovered(self) -> bool:
        """Every stream that waits for its publisher has one (bounded: after PUBLISHER_WAIT s hello anyway)."""
        if time.monotonic() - self._created > PUBLISHER_WAIT:
            return True
        return all(self.node.count_publishers(topic) > 0
                   for s, topic in zip(self.streams.values(), self._topics, strict=True) if s.wait_publisher)

    def _poll(self) -> None:
        if (self._last_step == HELLO and time.monotonic() - self._last_hello >= HELLO_PERIOD
                and self._inputs_discovered()):
            self._last_hello = time.monotonic()
            self._ack_pub.publish(String(data=AckMsg(self.name, HELLO, inputs=self._topics).to_json()))
        if self._pending is not None:
            self._try()

    def _try(self) -> None:
        step = self._pending
        assert step is not None
        needs = self._pending_needs
        missing = self.join.missing(needs)
        if missing and time.monotonic() - self._pending_since < self.input_timeout:
            return
        if missing:
            self.late_steps += 1
            self.node.get_logger().warning(
                f"lockstep step {step.step}: {', '.join(missing)} not received within {self.input_timeout:.1f} s;"
                " running with what arrived", throttle_duration_sec=5.0)
        self._pending = None
        self.step = step
        for name, msg in self.join.take(needs):
            self.streams[name].callback(msg)
        outputs, cmd = self._on_step(step)
        self._last_step = step.step
        outputs = {self._output_name(k): v for k, v in outputs.items()}
        self._ack_pub.publish(String(data=AckMsg(self.name, step.step, outputs, cmd, late=missing).to_json()))

    def _output_name(self, topic: str) -> str:
        """An output (the node's relative topic name, e.g. ``topo_graph``) as the step messages name it: resolved
        in the node's namespace with its remaps, like its publisher."""
        name = self._out_names.get(topic)
        if name is None:
            name = self._out_names[topic] = stream_name(self.node.resolve_topic_name(topic))
        return name


class LockstepObserver:
    """A node that only watches a lockstep run (the bag recorder): it says hello, listing the topics it has
    subscribed to, until the first step arrives, so the sim starts only once the observer receives what the
    run publishes. It never acks a step, so it cannot slow the run down.

    ``ready()`` returns the resolved topic names subscribed so far, or None while the observer is not ready.
    """

    def __init__(self, node: Node, ready: Callable[[], list[str] | None], name: str | None = None) -> None:
        self.node, self._ready = node, ready
        self.name = name or stream_name(node.get_fully_qualified_name())  # as the sim names its observer
        self.stepping = False
        self._ack_pub = node.create_publisher(String, ACK_TOPIC, LOCKSTEP_ACK_QOS)
        self._step_sub = node.create_subscription(String, STEP_TOPIC, self._on_step_msg, LOCKSTEP_STEP_QOS)
        self._timer = node.create_timer(HELLO_PERIOD, self._hello, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _on_step_msg(self, msg: String) -> None:
        self.stepping = True

    def _hello(self) -> None:
        if self.stepping:
            return
        topics = self._ready()
        if topics is not None:
            self._ack_pub.publish(String(data=AckMsg(self.name, HELLO, inputs=topics).to_json()))

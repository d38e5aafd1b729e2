"""Shared ROS plumbing: rclpy QoS profiles (from toponav/qos.py), parameters from config dataclasses, node runner.

Every node uses these so that QoS, parameter validation and shutdown behave the same everywhere.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterValueException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.signals import SignalHandlerOptions
from rclpy.timer import Timer

from toponav import config as cfgmod
from toponav import qos

T = TypeVar("T")

def qos_profile(spec: qos.QosSpec) -> QoSProfile:
    """The rclpy profile of a :class:`toponav.qos.QosSpec` (keep last)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=spec.depth,
        reliability=ReliabilityPolicy.RELIABLE if spec.reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if spec.transient_local else DurabilityPolicy.VOLATILE,
    )


# rclpy profiles of the specs in toponav/qos.py (the one place that says which topic gets which, and why).
#: /scan, /points publishers, and every subscriber of a sensor or state stream (/scan, /odom, ...): best effort.
SENSOR_QOS: QoSProfile = qos_profile(qos.SENSOR)
#: /odom, /ground_truth/pose, /joint_states, /object_pose publishers: reliable (default-QoS tools get them).
STATE_QOS = qos_profile(qos.STATE)
#: /clock publishers (sim, bag player): reliable.
CLOCK_PUB_QOS = qos_profile(qos.CLOCK_PUB)
#: /clock subscribers: best effort, newest only (what rclpy's own time source asks for).
CLOCK_QOS = qos_profile(qos.CLOCK_SUB)
#: Maps and graphs (/map, /topo_graph, markers): reliable + transient local so late joiners get the last one.
LATCHED_QOS = qos_profile(qos.LATCHED)
#: Commands (/cmd_vel, /subgoal, /goal_pose, arm commands): reliable, only the newest matters.
COMMAND_QOS = qos_profile(qos.COMMAND)
#: Events and status that must not be dropped (collisions, diagnostics): reliable, deeper queue.
EVENT_QOS = qos_profile(qos.EVENT)
#: Lockstep protocol (toponav.lockstep): steps sim -> nodes and acks nodes -> sim must all arrive.
LOCKSTEP_STEP_QOS = qos_profile(qos.LOCKSTEP_STEP)
LOCKSTEP_ACK_QOS = qos_profile(qos.LOCKSTEP_ACK)


def _ros_value(value: Any) -> Any:
    """ROS parameters cannot be None or mixed lists; map our defaults onto declarable values."""
    if isinstance(value, tuple):
        return list(value)
    return value


_FLOAT_MAX = 1.7976931348623157e308
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _is_live(name: str, live: bool | Collection[str]) -> bool:
    """``live`` is True (every field), False (none) or names, where ``"a."`` stands for every ``a.*`` field."""
    if isinstance(live, bool):
        return live
    return any(name == key or (key.endswith(".") and name.startswith(key)) for key in live)


def _descriptor(name: str, default: Any, meta: Mapping[str, Any], read_only: bool) -> ParameterDescriptor:
    """Help text, read-only flag and the config bounds as ROS ranges, so ``ros2 param describe`` shows them
    and ``ros2 param set`` is refused with rclpy's reason before the node sees the value."""
    d = ParameterDescriptor(description=str(meta.get("help", "")), dynamic_typing=True, read_only=read_only)
    if "choices" in meta:
        d.additional_constraints = "one of: " + ", ".join(str(c) for c in meta["choices"])
    if "min" in meta or "max" in meta:
        if isinstance(default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(meta.get("min", -_FLOAT_MAX)),
                                                         to_value=float(meta.get("max", _FLOAT_MAX)), step=0.0)]
        elif isinstance(default, int) and not isinstance(default, bool):
            d.integer_range = [IntegerRange(from_value=int(meta.get("min", _INT_MIN)),
                                            to_value=int(meta.get("max", _INT_MAX)), step=0)]
    return d


def declare_config(node: Node, cls: type[T], prefix: str = "", *, live: bool | Collection[str] = True,
                   on_change: Callable[[T, T], None] | None = None) -> T:
    """Declare one ROS parameter per config field (nested names) and build the validated config.

    Values come from the YAML params file / launch overrides / command line, defaults from the
    dataclass. An invalid value raises :class:`toponav.config.ConfigError` naming the parameter:
    a node must not start on bad parameters.

    ``live`` says which parameters may change while the node runs: True (all), False (none) or a collection
    of names (``"planner.weights."`` = every ``planner.weights.*``). Only those are settable; every other one
    is declared ``read_only``, so ``ros2 param set`` is refused with a reason instead of reporting a success
    that changes nothing (a value the node read once at start). Numeric bounds of the config (``min``/``max``)
    become the descriptor's ``floating_point_range`` / ``integer_range``. A live change is validated like a
    start-up value (refused with the error message), then ``node.config`` is replaced; ``on_change(old, new)``
    runs after the parameters are set (e.g. to re-create a timer whose period changed).
    """
    defaults = cfgmod.flatten(cls())
    metas = cfgmod.metadata(cls)
    values: dict[str, Any] = {}
    for name, default in defaults.items():
        full = prefix + name
        descriptor = _descriptor(full, default, metas.get(name, {}), read_only=not _is_live(name, live))
        try:
            if default is None:
                param = node.declare_parameter(full, Parameter.Type.NOT_SET, descriptor)
            else:
                param = node.declare_parameter(full, _ros_value(default), descriptor)
        except InvalidParameterValueException as exc:  # outside the declared range
            raise cfgmod.ConfigError(full, str(exc)) from None
        value = param.value
        if value is not None:
            values[name] = list(value) if isinstance(value, tuple | list) or hasattr(value, "tolist") else value
    config = cfgmod.build(cls, values, prefix)

    if live is not False:
        changed: list[Any] = []

        def _on_set(params: list[Parameter]) -> SetParametersResult:
            candidate = dict(cfgmod.flatten(node.config))  # type: ignore[attr-defined]
            for p in params:
                if not p.name.startswith(prefix) or p.name[len(prefix):] not in defaults:
                    continue  # declared by other code (e.g. the lockstep client): not this config's to check
                v = p.value
                candidate[p.name[len(prefix):]] = list(v) if hasattr(v, "tolist") or isinstance(v, tuple) else v
            try:
                new = cfgmod.build(cls, {k: v for k, v in candidate.items() if v is not None}, prefix)
            except cfgmod.ConfigError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            changed.append(node.config)  # type: ignore[attr-defined]
            node.config = new  # type: ignore[attr-defined]
            return SetParametersResult(successful=True)

        node.add_on_set_parameters_callback(_on_set)
        if on_change is not None:
            def _after_set(_params: list[Parameter]) -> None:
                while changed:
                    on_change(changed.pop(0), node.config)  # type: ignore[attr-defined]

            node.add_post_set_parameters_callback(_after_set)
    return config


def periodic(node: Node, rate_hz: float, callback: Callable[[], None], old: Timer | None = None) -> Timer:
    """A node-clock timer at ``rate_hz``, replacing ``old``: a live ``rate`` change must change the period the
    node runs at, not only the ``dt`` it computes with (an rclpy timer keeps the period it was made with)."""
    if old is not None:
        node.destroy_timer(old)
    return node.create_timer(1.0 / rate_hz, callback)


def on_rate_change(node: Node, callback: Callable[[], None]) -> Callable[[Any, Any], None]:
    """``declare_config(on_change=...)`` for a node with a live ``rate``: a new rate re-creates its node-clock
    timer (``node.timer``) or, in lockstep, its step ticker (``node._ticker``), so the node runs at it."""
    from toponav.lockstep import Ticker

    def _changed(old: Any, new: Any) -> None:
        if new.rate == old.rate:
            return
        if getattr(node, "lockstep", None) is not None:
            node._ticker = Ticker(1.0 / new.rate)  # type: ignore[attr-defined]
        else:
            node.timer = periodic(node, new.rate, callback, node.timer)  # type: ignore[attr-defined]

    return _changed


class EStop:
    """The e-stop input of a velocity controller: std_msgs/Bool on ``e_stop`` (relative to the node's namespace);
    ``engaged`` from a true until a false. Heard twice: latched (transient local), so a controller that starts or
    is respawned later gets the state an e-stop publisher last latched, and volatile, so a plain publisher
    (``ros2 topic pub`` is volatile by default) is not silently ignored. ``on_engage`` runs at once (publish a
    zero command now, not at the next tick)."""

    def __init__(self, node: Node, on_engage: Callable[[], None]) -> None:
        from std_msgs.msg import Bool

        self.node = node
        self.engaged = False
        self._on_engage = on_engage
        node.create_subscription(Bool, "e_stop", self._on_msg, LATCHED_QOS)
        node.create_subscription(Bool, "e_stop", self._on_msg, COMMAND_QOS)

    def _on_msg(self, msg: Any) -> None:
        if bool(msg.data) == self.engaged:
            return
        self.engaged = bool(msg.data)
        # rclpy refuses one call site logging at two severities: one line each
        if self.engaged:
            self.node.get_logger().warning("e-stop ENGAGED: /cmd_vel held at zero")
            self._on_engage()
        else:
            self.node.get_logger().info("e-stop released: driving again")


#: Environment variable that picks the executor of every toponav node process: ``events`` (default) or ``single``.
EXECUTOR_ENV = "TOPONAV_EXECUTOR"
EXECUTORS = ("events", "single")


def executor_choice() -> str:
    """The executor every node process spins, from ``TOPONAV_EXECUTOR``: ``events`` (default) or ``single``.

    rclpy's ``EventsExecutor`` (C++, shipped with Kilted as ``rclpy.experimental``) is the default: the Python
    ``SingleThreadedExecutor`` rebuilds its wait set in Python for every callback, which was about a third of
    each node's CPU in the lockstep stack (py-spy, 2026-12-02). Side by side (``bench stack --quick``) the
    stack ran at 5.3x instead of 4.0x real time, 0.24 instead of 0.37 CPU s per sim s, same outcomes.
    ``single`` goes back to the Python executor (for an rclpy without the events executor).
    """
    choice = os.environ.get(EXECUTOR_ENV, "events").strip().lower() or "events"
    if choice not in EXECUTORS:
        raise cfgmod.ConfigError(f"{EXECUTOR_ENV} (environment)",
                                 f"{EXECUTOR_ENV}={choice!r} is not one of {', '.join(EXECUTORS)}")
    return choice


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None) -> int:
    """Init rclpy, spin the node until SIGINT/SIGTERM or shutdown, and tear down cleanly.

    Returns a process exit code: 0 on a normal stop, 2 when the node refused its parameters.
    """
    try:
        events = executor_choice() == "events"
    except cfgmod.ConfigError as exc:
        print(f"[node] refused to start: {exc}", file=sys.stderr, flush=True)
        return 2
    # With the events executor the node stops between callbacks: SIGINT/SIGTERM set a flag that the spin loop
    # reads, and the context is shut down only after the loop. rclpy's own handler shuts the context down at
    # once, so a callback in flight (the sim publishing a scan) raised "publisher's context is invalid", which
    # the C++ executor logs as FATAL on every normal Ctrl-C.
    rclpy.init(args=list(sys.argv if args is None else args),
               signal_handler_options=SignalHandlerOptions.NO if events else SignalHandlerOptions.ALL)
    stop = threading.Event()
    if events:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    node: Node | None = None
    code = 0
    try:
        node = factory()
        executor: Executor = EventsExecutor() if events else SingleThreadedExecutor()
        executor.add_node(node)
        if events:
            # EventsExecutor.spin() in this rclpy never fires timers (measured: 0 calls of a 10 Hz timer in
            # 2 s, while spin_once fires them all), so it is driven here; a stop is seen within 0.2 s
            while rclpy.ok() and not stop.is_set():
                executor.spin_once(timeout_sec=0.2)
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except cfgmod.ConfigError as exc:
        name = node.get_name() if node is not None else "node"
        print(f"[{name}] refused to start: {exc}", file=sys.stderr, flush=True)
        code = 2
    except Exception:
        # rclpy can raise from a wait set or take() that was in flight when SIGINT shut the context down;
        # that is a normal stop. Anything raised while the context is still up is a real failure.
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code

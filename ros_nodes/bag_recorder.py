"""bag_recorder / ``toponav record``: live topics -> a rosbag2 bag (MCAP) with message definitions.

Subscriptions take the serialized CDR bytes straight from DDS (``raw=True``, the same bytes
``rclpy.serialization.serialize_message`` gives), a bounded queue hands them to a writer thread
(:class:`toponav.bags.BagWriter`). Messages are never lost silently: a full queue and the DDS
"message lost" event are both counted per topic, logged, and stored in the bag metadata
(``toponav.drops``); each subscription keeps a ``RECORD_DEPTH`` (1000) sample history, because samples
overwritten in a shallower one are lost without either count. Timestamps are the node clock at receipt (sim
time when use_sim_time is set).
Names: relative topics resolve in the node's namespace, as ``ros2 bag record`` resolves them (the default set
is relative: a recorder in ``/robot1`` records ``/robot1/scan``, ``/robot1/odom``, ... and ``/clock``); the
bag keeps the full names and stores the namespace (``toponav.namespace``) so ``toponav eval`` finds the run's
topics in it.
QoS: toponav's own topics use their documented profiles; other topics adapt to their publishers
(best effort if any publisher is, transient local if all are).
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from toponav import qos
from toponav.bags import BagError, BagWriter
from toponav.bags.config import RecorderConfig
from toponav.bags.types import default_type
from toponav.ros_nodes.common import CLOCK_QOS, SENSOR_QOS, declare_config, qos_profile, run_node
from toponav.ros_nodes.convert import message_class

#: DDS reader history the recorder keeps per topic. A node's subscription keeps the newest few samples (5 for
#: sensor streams, 1 for /clock): what a controller wants. A recorder wants every one, and in lockstep at 4-6x
#: real time 5 samples of /odom are 50 ms of wall time: a callback thread held up that long (load, the writer
#: thread, the GIL) had older samples overwritten in the reader's history, which DDS does not report as lost
#: (`toponav bench localisation`, forest 1000000, 2026-12-07: 1.2 s of /scan, 1.4 s of /odom and 1.6 s of /clock
#: missing from the bag, no drop counted). Only the depth changes: reliability and durability stay what the
#: publishers offer, so it matches the same publishers.
RECORD_DEPTH = 1000


def _deep(profile: QoSProfile) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(profile.depth, RECORD_DEPTH),
                      reliability=profile.reliability, durability=profile.durability)


def known_qos(topic: str, namespace: str = "/") -> QoSProfile | None:
    """What the recorder asks for on one of toponav's topics: the least that receives what toponav offers
    there (sensor and state streams best effort, /clock as a time source asks for it, latched topics
    transient local), with a ``RECORD_DEPTH`` history; None for other topics, whose QoS is adapted to their
    publishers."""
    if default_type(topic, namespace) is None and topic.strip("/") not in qos.OFFERED:
        return None
    spec = qos.offered(topic)
    if spec in (qos.SENSOR, qos.STATE):
        return _deep(SENSOR_QOS)
    if spec == qos.CLOCK_PUB:
        return _deep(CLOCK_QOS)
    if spec in (qos.LATCHED, qos.EVENT):
        return _deep(qos_profile(spec))
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=RECORD_DEPTH, reliability=ReliabilityPolicy.RELIABLE)


MATCH_WAIT = 10.0  # wall s the lockstep hello waits for DDS to match the recorder to every publisher


class BagRecorder(Node):
    def __init__(self) -> None:
        super().__init__("bag_recorder")
        self.config: RecorderConfig = declare_config(self, RecorderConfig, live=False)
        cfg = self.config
        out = cfg.output or f"runs/bag_{datetime.now(UTC).strftime('%Y%m%d_%H%M%S')}"
        custom = {"toponav.namespace": self.get_namespace()}
        if cfg.world:
            custom["toponav.world"] = cfg.world
        if cfg.seed >= 0:
            custom["toponav.seed"] = str(cfg.seed)
        self.writer = BagWriter(out, storage=cfg.storage, max_bytes=cfg.split.max_bytes,
                                max_duration_s=cfg.split.max_duration, custom_data=custom).open()
        self.queue: queue.Queue = queue.Queue(maxsize=cfg.queue_size)
        self.drops: dict[str, int] = {}
        self.lost: dict[str, int] = {}
        self.before_clock = 0
        self.pre_clock: list[tuple[str, bytes]] = []
        # resolved once, like ros2 bag record: relative names in this node's namespace (remaps applied)
        self.wanted = list(dict.fromkeys(self.resolve_topic_name(t) for t in cfg.topics if t))
        self.subscribed: dict[str, str] = {}
        self.subs: dict[str, Any] = {}  # wanted topic -> its subscription
        self._unmatched_since = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, daemon=True)
        self._thread.start()
        self.get_logger().info(f"recording {len(self.wanted)} topics to {self.writer.path}")
        self._discover()
        # discovery runs on wall time: it must work before /clock exists
        self._discovery_timer = self.create_timer(cfg.discovery_period, self._discover,
                                                  clock=Clock(clock_type=ClockType.STEADY_TIME))
        if cfg.lockstep:
            from toponav.ros_nodes.lockstep import LockstepObserver

            self.observer = LockstepObserver(self, self._lockstep_ready)

    def _lockstep_ready(self) -> list[str] | None:
        """The subscribed topics once every wanted topic that has publishers now is subscribed and matched to
        all of them (so the first messages, latched graphs included, reach the bag), else None."""
        self._discover()
        publishers = {t: self.count_publishers(t) for t in self.wanted}
        if any(n and t not in self.subscribed for t, n in publishers.items()) or not self.subs:
            return None  # an advertised topic is not subscribed yet
        unmatched = [t for t, n in publishers.items()
                     if n and t in self.subs and self.subs[t].get_publisher_count() < n]
        if unmatched:
            now = time.monotonic()
            self._unmatched_since = self._unmatched_since or now
            if now - self._unmatched_since < MATCH_WAIT:
                return None
            self.get_logger().warning(f"lockstep: still not matched to every publisher of {', '.join(unmatched)} "
                                      f"after {MATCH_WAIT:.0f} s; starting anyway", once=True)
        return sorted(sub.topic_name for sub in self.subs.values())

    # -- subscriptions ------------------------------------------------------------------------------
    def _discover(self) -> None:
        missing = [t for t in self.wanted if t not in self.subscribed]
        if not missing:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in missing:
            msgtype = default_type(topic, self.get_namespace()) or (graph.get(topic) or [None])[0]
            if msgtype is None:
                continue
            self._subscribe(topic, msgtype)

    def _subscribe(self, topic: str, msgtype: str) -> None:
        try:
            cls = message_class(msgtype)
            self.writer.add_topic(topic, msgtype)
        except (ImportError, AttributeError, ValueError, BagError) as exc:
            self.get_logger().warning(f"not recording {topic} ({msgtype}): {exc}")
            self.subscribed[topic] = msgtype  # do not retry every period
            return
        qos = known_qos(topic, self.get_namespace()) or self._adapted_qos(topic)
        self.drops[topic] = 0
        self.lost[topic] = 0
        callbacks = None
        try:
            from rclpy.event_handler import SubscriptionEventCallbacks

            def _lost(info: Any, topic: str = topic) -> None:
                self.lost[topic] += int(getattr(info, "total_count_change", 1))

            callbacks = SubscriptionEventCallbacks(message_lost=_lost)
        except ImportError:
            pass

        def _on_msg(data: bytes, topic: str = topic) -> None:
            stamp = self.get_clock().now().nanoseconds
            if stamp == 0:
                # sim time has not started: keep the message (latched topics such as /world_info are
                # published once, before /clock) and stamp it with the first clock value
                if len(self.pre_clock) < 1000:
                    self.pre_clock.append((topic, data))
                else:
                    self.before_clock += 1
                return
            if self.pre_clock:
                held, self.pre_clock = self.pre_clock, []
                for t, d in held:
                    self._enqueue(t, stamp, d)
            self._enqueue(topic, stamp, data)

        try:
            sub = self.create_subscription(cls, topic, _on_msg, qos, raw=True, event_callbacks=callbacks)
        except Exception:  # message-lost events unsupported by this RMW
            sub = self.create_subscription(cls, topic, _on_msg, qos, raw=True)
        self.subs[topic] = sub
        self.subscribed[topic] = msgtype
        self.get_logger().info(f"subscribed to {topic} [{msgtype}]")

    def _enqueue(self, topic: str, stamp: int, data: bytes) -> None:
        try:
            self.queue.put_nowait((topic, stamp, data))
        except queue.Full:
            self.drops[topic] += 1

    def _adapted_qos(self, topic: str) -> QoSProfile:
        infos = self.get_publishers_info_by_topic(topic)
        best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
        latched = bool(infos) and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos)
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=RECORD_DEPTH,
            reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )

    # -- writing ------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()):
            try:
                topic, stamp, data = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                self.writer.write(topic, stamp, data)
            except BagError as exc:
                self.get_logger().error(f"write failed: {exc}")
                self.drops[topic] = self.drops.get(topic, 0) + 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30.0)
        dropped = {t: n for t, n in self.drops.items() if n}
        lost = {t: n for t, n in self.lost.items() if n}
        self.writer.set_custom_data("toponav.drops", json.dumps({"queue_full": dropped, "dds_lost": lost,
                                                                 "before_clock": self.before_clock}))
        stats = self.writer.close()
        summary = ", ".join(f"{t}: {n}" for t, n in stats.per_topic.items())
        msg = (f"bag {self.writer.path} closed: {stats.messages} messages in {stats.splits} file(s) ({summary})")
        if dropped or lost:
            msg += f"; DROPPED queue_full={dropped} dds_lost={lost}"
        if self.before_clock:
            msg += f"; {self.before_clock} messages arrived before /clock and were not recorded (buffer full)"
        if self.pre_clock:
            msg += f"; {len(self.pre_clock)} messages arrived before /clock ever started and were not recorded"
        print(f"[bag_recorder] {msg}", flush=True)


# -- toponav record -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="", help="bag directory (default runs/bag_<timestamp>)")
    parser.add_argument("--topics", nargs="+", default=None, help="topics (default: the toponav set)")
    parser.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"))
    parser.add_argument("--max-bytes", type=int, default=0, help="split after this many bytes")
    parser.add_argument("--max-duration", type=float, default=0.0, help="split after this many seconds")
    parser.add_argument("--use-sim-time", action="store_true", help="timestamps from /clock")
    parser.add_argument("--world", default="", help="world spec stored with the bag (for toponav eval)")
    parser.add_argument("--seed", type=int, default=-1, help="world seed stored with the bag")


def run(args: argparse.Namespace) -> int:
    import os

    from toponav.ros_env import ros_args

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # DDS stays on loopback here
    params: dict[str, Any] = {"storage": args.storage, "split.max_bytes": args.max_bytes,
                              "split.max_duration": args.max_duration, "use_sim_time": args.use_sim_time,
                              "seed": args.seed}
    for key in ("output", "world"):
        if getattr(args, key):
            params[key] = getattr(args, key)
    if args.topics:
        params["topics"] = args.topics
    if args.output and Path(args.output).exists():
        print(f"toponav record: {args.output} exists already", flush=True)
        return 2
    return run_node(BagRecorder, ["toponav-record", *ros_args(params)])


def main() -> None:
    raise SystemExit(run_node(BagRecorder))


if __name__ == "__main__":
    main()

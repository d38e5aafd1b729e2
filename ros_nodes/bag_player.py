"""bag_player / ``toponav replay <bag>``: publish a bag's topics on their original timing, with /clock.

Messages go out as the recorded CDR bytes (no decode/re-encode) at
``wall_start + (stamp - bag_start - start_offset) / rate``; /clock carries the bag time
(``clock_rate`` Hz, and once right before every message, so subscribers on sim time never see a
message from their future). A recorded /clock is not replayed while the player makes its own.
The player itself runs on wall time: never give it use_sim_time.

Names: a bag holds full topic names, as rosbag2 records them. A player at the root publishes them unchanged
(as ``ros2 bag play``); a player in a namespace replays the bag's recording namespace into its own: with
``toponav.namespace`` ``/`` (or none stored) ``/scan`` goes to ``/robot1/scan`` from a player in ``/robot1``,
and a bag recorded in ``/robot1`` replays into ``/robot2`` from a player there. ``/clock`` and topics outside
the recording namespace keep their names. ``topics`` names recorded topics: absolute, or relative to the
recording namespace.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock

from toponav import qos
from toponav.bags import BagError, open_bag
from toponav.bags.config import PlayerConfig
from toponav.ros_nodes.common import CLOCK_PUB_QOS, declare_config, qos_profile, run_node
from toponav.ros_nodes.convert import message_class, ns_to_stamp


def replay_name(topic: str, recorded_ns: str, player_ns: str) -> str:
    """Where a recorded ``topic`` is published by a player in ``player_ns`` (module docstring)."""
    rec, own = recorded_ns.rstrip("/"), player_ns.rstrip("/")
    if not own or topic == "/clock":
        return topic
    if rec and not topic.startswith(rec + "/"):
        return topic
    return own + topic[len(rec):]


def selected(topic: str, wanted: set[str], recorded_ns: str) -> bool:
    """Whether ``topic`` (a recorded name) is one of ``wanted`` (absolute, or relative to the recording
    namespace); every topic when ``wanted`` is empty."""
    if not wanted:
        return True
    rec = recorded_ns.rstrip("/")
    return any(topic == (w if w.startswith("/") else f"{rec}/{w}") for w in wanted)


def rclpy_qos(topic: str) -> QoSProfile:
    """Replayed topics are offered as toponav's live publishers offer them (toponav/qos.py)."""
    return qos_profile(qos.offered(topic))


class BagPlayer(Node):
    def __init__(self) -> None:
        super().__init__("bag_player")
        self.config: PlayerConfig = declare_config(self, PlayerConfig, live=False)
        cfg = self.config
        if self.get_parameter("use_sim_time").value:
            raise RuntimeError("bag_player defines the time: run it without use_sim_time")
        if not cfg.bag:
            raise RuntimeError("parameter 'bag' is required")
        self.bag = open_bag(cfg.bag)  # BagError -> clear message in main()
        for w in self.bag.warnings:
            self.get_logger().warning(w)
        wanted = {t for t in cfg.topics if t}
        recorded_ns = self.bag.custom_data.get("toponav.namespace", "/")
        self.pubs: dict[str, Any] = {}
        for topic, info in self.bag.topics.items():
            if not selected(topic, wanted, recorded_ns):
                continue
            if topic == "/clock" and cfg.clock:
                continue
            try:
                cls = message_class(info.msgtype)
            except (ImportError, AttributeError, ValueError):
                self.get_logger().warning(f"skipping {topic}: message type {info.msgtype} is not installed")
                continue
            self.pubs[topic] = self.create_publisher(cls, replay_name(topic, recorded_ns, self.get_namespace()),
                                                     rclpy_qos(topic))
        self.clock_pub = self.create_publisher(Clock, "/clock", CLOCK_PUB_QOS) if cfg.clock else None
        self.published = 0
        self.bag_time_ns = self.bag.start_ns
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._clock_thread = threading.Thread(target=self._clock_loop, daemon=True)
        self.get_logger().info(f"playing {cfg.bag}: {self.bag.message_count} messages, "
                               f"{(self.bag.end_ns - self.bag.start_ns) * 1e-9:.1f} s, {len(self.pubs)} topics, "
                               f"rate {cfg.rate}")
        self._thread.start()
        if self.clock_pub is not None:
            self._clock_thread.start()

    def _publish_clock(self, stamp_ns: int) -> None:
        if self.clock_pub is None:
            return
        self.clock_pub.publish(Clock(clock=ns_to_stamp(stamp_ns)))

    def _clock_loop(self) -> None:
        period = 1.0 / self.config.clock_rate
        while not self._stop.wait(period):
            try:
                self._publish_clock(self.bag_time_ns)
            except Exception:  # the node is being torn down
                return

    def _play(self) -> None:
        cfg = self.config
        if self._stop.wait(cfg.start_delay):
            return
        if cfg.wait_for_subscribers:
            deadline = time.monotonic() + 30.0
            while any(p.get_subscription_count() < cfg.wait_for_subscribers for p in self.pubs.values()):
                if time.monotonic() > deadline:
                    self.get_logger().warning("not every topic has its subscribers after 30 s: playing anyway")
                    break
                if self._stop.wait(0.05):
                    return
        while True:
            offset_ns = self.bag.start_ns + int(cfg.start_offset * 1e9)
            self.bag_time_ns = offset_ns
            wall0 = time.monotonic()
            for topic, stamp, data in self.bag.messages(self.pubs):
                if stamp < offset_ns:
                    continue
                target = wall0 + (stamp - offset_ns) * 1e-9 / cfg.rate
                while True:
                    now = time.monotonic()
                    # keep /clock moving smoothly between messages
                    self.bag_time_ns = max(self.bag_time_ns, offset_ns + int((now - wall0) * cfg.rate * 1e9))
                    if now >= target or self._stop.is_set():
                        break
                    self._stop.wait(min(target - now, 0.005))
                if self._stop.is_set():
                    return
                self.bag_time_ns = max(self.bag_time_ns, stamp)
                self._publish_clock(self.bag_time_ns)
                self.pubs[topic].publish(data)
                self.published += 1
            if not cfg.loop:
                break
            self.get_logger().info("bag finished: looping")
        self.get_logger().info(f"playback finished: {self.published} messages published"
                               + (" (bag was partial)" if self.bag.partial else ""))
        if cfg.exit_when_done:
            time.sleep(0.3)  # let the last messages leave
            self._stop.set()
            rclpy.try_shutdown(context=self.context)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        if self._clock_thread.is_alive():
            self._clock_thread.join(timeout=2.0)
        self.bag.close()


def _guarded() -> Node:
    try:
        return BagPlayer()
    except (BagError, RuntimeError) as exc:
        print(f"[bag_player] cannot play: {exc}", flush=True)
        rclpy.try_shutdown()
        raise SystemExit(2) from None


# -- toponav replay -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="bag to replay (rosbag2 directory, .mcap, .db3)")
    parser.add_argument("--rate", type=float, default=1.0, help="playback rate factor")
    parser.add_argument("--start-offset", type=float, default=0.0, help="skip this many seconds")
    parser.add_argument("--topics", nargs="+", default=None, help="only these topics")
    parser.add_argument("--loop", action="store_true", help="loop forever")
    parser.add_argument("--no-clock", action="store_true", help="do not publish /clock")


def run(args: argparse.Namespace) -> int:
    import os

    from toponav.ros_env import ros_args

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    params: dict[str, Any] = {"bag": args.bag, "rate": args.rate, "start_offset": args.start_offset,
                              "loop": args.loop, "clock": not args.no_clock}
    if args.topics:
        params["topics"] = args.topics
    return run_node(_guarded, ["toponav-replay", *ros_args(params)])


def main() -> None:
    raise SystemExit(run_node(_guarded))


if __name__ == "__main__":
    main()

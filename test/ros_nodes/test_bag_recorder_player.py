"""Live recording and replay through DDS (real node processes, private domain, loopback)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from toponav.bags import TYPESTORE, BagWriter, open_bag
from toponav.testing import NodeProcess, wait_for

pytestmark = [pytest.mark.system]

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from toponav.ros_nodes.common import CLOCK_QOS, EVENT_QOS, LATCHED_QOS, SENSOR_QOS  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402


def test_record_live_topics_and_read_back(tmp_path: Path, domain_id: int) -> None:
    bag = tmp_path / "live"
    with Probe(domain_id) as probe:
        graph = String(data=json.dumps({"schema_version": 1, "nodes": [], "edges": []}))
        probe.publish("/topo_graph", graph, LATCHED_QOS)  # before the recorder exists: latched
        rec = NodeProcess("toponav.ros_nodes.bag_recorder", domain_id,
                          params={"output": str(bag), "world": "empty", "seed": 1000})
        try:
            assert probe.wait_for_subscribers("/topo_graph", 1, timeout=20), rec.output()
            pose = PoseStamped()
            pose.header.frame_id = "map"
            probe.publish("/ground_truth/pose", pose, SENSOR_QOS)
            assert probe.wait_for_subscribers("/ground_truth/pose", 1, timeout=10), rec.output()
            # /collision is volatile: a message sent before the recorder's subscription matched is lost (as in
            # ros2 bag record), so the check waits for the match before the first one
            probe.advertise("/collision", String, EVENT_QOS)
            assert probe.wait_for_subscribers("/collision", 1, timeout=10)
            probe.publish("/collision", String(data='{"t": 1.0}'), EVENT_QOS)
            time.sleep(0.5)
            for i in range(40):
                pose.pose.position.x = float(i)
                probe.publish("/ground_truth/pose", pose, SENSOR_QOS)
                time.sleep(0.01)
            probe.publish("/collision", String(data='{"t": 2.0}'), EVENT_QOS)
            time.sleep(0.5)
        finally:
            code = rec.stop()
        out = rec.log_path.read_text()
    assert code == 0, out
    assert "closed:" in out
    b = open_bag(bag)
    assert b.custom_data["toponav.world"] == "empty" and b.custom_data["toponav.seed"] == "1000"
    drops = json.loads(b.custom_data["toponav.drops"])
    assert drops["queue_full"] == {}
    assert b.topics["/topo_graph"].count == 1  # the late subscriber still got the latched graph
    assert b.topics["/collision"].count == 2
    xs = [b.decode(t, d).pose.position.x for t, _, d in b.messages(["/ground_truth/pose"])]
    assert len(xs) >= 35 and xs == sorted(xs)  # best effort on loopback: nearly all, in order

    from mcap.reader import make_reader

    with next(bag.glob("*.mcap")).open("rb") as fh:
        names = {s.name for s in make_reader(fh).get_summary().schemas.values()}
    assert {"std_msgs/msg/String", "geometry_msgs/msg/PoseStamped"} <= names


def test_recorder_keeps_a_burst(tmp_path: Path, domain_id: int) -> None:
    """300 samples published back to back (what lockstep at several times real time sends) all reach the bag.
    With the publishers' own reader depth (5 for sensor streams) the recorder kept 5 of them, and DDS counts
    history overwrites as no loss: the bag was silently missing seconds of /scan and /odom."""
    bag = tmp_path / "burst"
    n = 300
    with Probe(domain_id) as probe:
        rec = NodeProcess("toponav.ros_nodes.bag_recorder", domain_id, params={"output": str(bag)})
        try:
            pose = PoseStamped()
            pose.header.frame_id = "map"
            pose.pose.position.x = -1.0
            probe.publish("/ground_truth/pose", pose, SENSOR_QOS)
            assert probe.wait_for_subscribers("/ground_truth/pose", 1, timeout=20), rec.output()
            time.sleep(1.0)
            for i in range(n):
                pose.pose.position.x = float(i)
                probe.publish("/ground_truth/pose", pose, SENSOR_QOS)
            time.sleep(2.0)
        finally:
            code = rec.stop()
    assert code == 0, rec.output()
    b = open_bag(bag)
    xs = [x for x in (b.decode(t, d).pose.position.x for t, _, d in b.messages(["/ground_truth/pose"])) if x >= 0]
    assert len(xs) >= n - 3 and xs == sorted(xs), (len(xs), xs[:10])


def test_replay_reproduces_timestamps(tmp_path: Path, domain_id: int) -> None:
    Pose = TYPESTORE.types["geometry_msgs/msg/PoseStamped"]
    H, T = TYPESTORE.types["std_msgs/msg/Header"], TYPESTORE.types["builtin_interfaces/msg/Time"]
    P, Pt, Q = (TYPESTORE.types[f"geometry_msgs/msg/{n}"] for n in ("Pose", "Point", "Quaternion"))
    start = 500 * 10**9
    stamps = [start + i * 100_000_000 for i in range(20)]  # 2 s at 10 Hz
    bag = tmp_path / "synthetic"
    with BagWriter(bag) as w:
        w.add_topic("/subgoal", "geometry_msgs/msg/PoseStamped")  # reliable in the replay
        for i, s in enumerate(stamps):
            msg = Pose(H(T(*divmod(s, 10**9)), "map"), P(Pt(float(i), 0.0, 0.0), Q(0.0, 0.0, 0.0, 1.0)))
            w.write("/subgoal", s, bytes(TYPESTORE.serialize_cdr(msg, "geometry_msgs/msg/PoseStamped")))
    received: list[tuple[float, int, int]] = []
    with Probe(domain_id) as probe:
        probe.subscribe("/clock", Clock, CLOCK_QOS)

        def on_pose(msg: PoseStamped) -> None:
            latest = probe.last("/clock")
            clock_ns = latest.clock.sec * 10**9 + latest.clock.nanosec if latest else -1
            received.append((time.monotonic(), msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, clock_ns))

        probe.node.create_subscription(PoseStamped, "/subgoal", on_pose, 50)
        player = NodeProcess("toponav.ros_nodes.bag_player", domain_id,
                             params={"bag": str(bag), "rate": 2.0, "start_delay": 0.5, "clock_rate": 20.0,
                                     "wait_for_subscribers": 1})
        try:
            assert wait_for(lambda: len(received) >= 20 or not player.alive(), timeout=30), player.output()
            assert wait_for(lambda: not player.alive(), timeout=10), "player must exit when done"
        finally:
            player.stop()
    assert [s for _, s, _ in received] == stamps, player.log_path.read_text()
    walls = [w for w, _, _ in received]
    assert (walls[-1] - walls[0]) == pytest.approx(1.9 / 2.0, abs=0.4), walls  # bag span / rate
    # /clock follows the bag time (the probe may see a clock message one period late)
    assert all(c >= s - 150_000_000 for _, s, c in received[1:]), received
    assert probe_clock_range_ok(received)


def probe_clock_range_ok(received: list[tuple[float, int, int]]) -> bool:
    clocks = [c for _, _, c in received if c >= 0]
    return bool(clocks) and min(clocks) >= 500 * 10**9 - 1 and max(clocks) <= 502 * 10**9


def test_recorder_resolves_its_topics_in_its_namespace(tmp_path: Path, domain_id: int) -> None:
    """A recorder in /robot1 records /robot1/... (its default topics are relative, as `ros2 bag record scan`
    resolves them), not the root's topics; the bag keeps the full names and the namespace."""
    bag = tmp_path / "ns"
    with Probe(domain_id) as probe:
        rec = NodeProcess("toponav.ros_nodes.bag_recorder", domain_id, params={"output": str(bag)},
                          remaps={"__ns": "/robot1"})
        try:
            pose = PoseStamped()
            pose.header.frame_id = "map"
            for topic in ("/robot1/ground_truth/pose", "/ground_truth/pose"):
                probe.publish(topic, pose, SENSOR_QOS)
            assert probe.wait_for_subscribers("/robot1/ground_truth/pose", 1, timeout=20), rec.output()
            time.sleep(0.5)
            for i in range(20):
                pose.pose.position.x = float(i)
                probe.publish("/robot1/ground_truth/pose", pose, SENSOR_QOS)
                probe.publish("/ground_truth/pose", pose, SENSOR_QOS)
                time.sleep(0.01)
            time.sleep(0.5)
            assert probe._pubs["/ground_truth/pose"].get_subscription_count() == 0
        finally:
            code = rec.stop()
    assert code == 0, rec.log_path.read_text()
    b = open_bag(bag)
    assert b.custom_data["toponav.namespace"] == "/robot1"
    assert b.topics["/robot1/ground_truth/pose"].count >= 15
    assert "/ground_truth/pose" not in b.topics


def test_player_in_a_namespace_replays_into_it(tmp_path: Path, domain_id: int) -> None:
    """A bag recorded in /robot1 played by a player in /robot2 comes out under /robot2; /clock stays global."""
    from toponav.ros_nodes.bag_player import replay_name, selected

    assert replay_name("/scan", "/", "/") == "/scan"  # at the root: as recorded (ros2 bag play)
    assert replay_name("/robot1/scan", "/robot1", "/") == "/robot1/scan"
    assert replay_name("/scan", "/", "/robot1") == "/robot1/scan"
    assert replay_name("/clock", "/", "/robot1") == "/clock"
    assert replay_name("/world_info", "/robot1", "/robot2") == "/world_info"  # outside the recorded namespace
    assert selected("/robot1/scan", {"scan"}, "/robot1") and selected("/robot1/scan", {"/robot1/scan"}, "/robot1")
    assert not selected("/robot1/scan", {"/scan"}, "/robot1")
    Str = TYPESTORE.types["std_msgs/msg/String"]
    bag = tmp_path / "robot1"
    with BagWriter(bag, custom_data={"toponav.namespace": "/robot1"}) as w:
        w.add_topic("/robot1/collision", "std_msgs/msg/String")
        for i in range(5):
            w.write("/robot1/collision", (100 + i) * 10**8, bytes(TYPESTORE.serialize_cdr(Str(str(i)),
                                                                                          "std_msgs/msg/String")))
    with Probe(domain_id) as probe:
        probe.subscribe("/robot2/collision", String, EVENT_QOS)
        probe.subscribe("/clock", Clock, CLOCK_QOS)
        player = NodeProcess("toponav.ros_nodes.bag_player", domain_id, remaps={"__ns": "/robot2"},
                             params={"bag": str(bag), "topics": ["collision"], "wait_for_subscribers": 1})
        try:
            assert wait_for(lambda: probe.count("/robot2/collision") >= 5, timeout=30), player.output()
            assert probe.count("/clock") > 0
        finally:
            player.stop()
    assert [m.data for m in probe.all("/robot2/collision")] == ["0", "1", "2", "3", "4"]

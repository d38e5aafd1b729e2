"""Bag writing/reading without ROS processes: split bags, message definitions, bad bags."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from toponav.bags import TYPESTORE, BagError, BagWriter, open_bag

Pose = TYPESTORE.types["geometry_msgs/msg/PoseStamped"]
Header = TYPESTORE.types["std_msgs/msg/Header"]
Time = TYPESTORE.types["builtin_interfaces/msg/Time"]
PoseMsg = TYPESTORE.types["geometry_msgs/msg/Pose"]
Point = TYPESTORE.types["geometry_msgs/msg/Point"]
Quat = TYPESTORE.types["geometry_msgs/msg/Quaternion"]
Scan = TYPESTORE.types["sensor_msgs/msg/LaserScan"]


def pose_cdr(x: float, stamp_ns: int) -> bytes:
    sec, nsec = divmod(stamp_ns, 1_000_000_000)
    msg = Pose(Header(Time(sec, nsec), "map"), PoseMsg(Point(x, 0.0, 0.0), Quat(0.0, 0.0, 0.0, 1.0)))
    return bytes(TYPESTORE.serialize_cdr(msg, "geometry_msgs/msg/PoseStamped"))


def scan_cdr(n: int = 360) -> bytes:
    import numpy as np

    msg = Scan(Header(Time(0, 0), "base_scan"), -3.14, 3.14, 6.28 / n, 0.0, 0.0, 0.05, 8.0,
               np.full(n, 2.0, dtype=np.float32), np.zeros(0, dtype=np.float32))
    return bytes(TYPESTORE.serialize_cdr(msg, "sensor_msgs/msg/LaserScan"))


def test_split_bag_roundtrip_rosbags_and_mcap(tmp_path: Path) -> None:
    bag = tmp_path / "run"
    with BagWriter(bag, max_duration_s=2.0, custom_data={"toponav.world": "maze"}) as w:
        w.add_topic("/ground_truth/pose", "geometry_msgs/msg/PoseStamped")
        for i in range(50):
            w.write("/ground_truth/pose", 1_000_000_000 + i * 100_000_000, pose_cdr(i * 0.1, i))
    assert w.stats.splits == 3 and w.stats.messages == 50
    files = sorted(p.name for p in bag.glob("*.mcap"))
    assert files == ["run_0.mcap", "run_1.mcap", "run_2.mcap"]
    assert not (bag / ".splits").exists()

    with Reader(bag) as r:  # rosbags, as any rosbag2 user would open it
        stamps = [t for _, t, _ in r.messages()]
        assert r.message_count == 50 and stamps == sorted(stamps) and len(stamps) == 50
        conn = r.connections[0]
        assert conn.msgdef.data.startswith("std_msgs/Header header")
        xs = [TYPESTORE.deserialize_cdr(d, c.msgtype).pose.position.x for c, _, d in r.messages()]
        assert xs == pytest.approx([i * 0.1 for i in range(50)])

    from mcap.reader import make_reader

    total = 0
    for name in files:  # the mcap library (what the mcap CLI and Foxglove use) sees the definitions
        with (bag / name).open("rb") as fh:
            reader = make_reader(fh)
            summary = reader.get_summary()
            schemas = list(summary.schemas.values())
            assert schemas[0].name == "geometry_msgs/msg/PoseStamped" and schemas[0].encoding == "ros2msg"
            assert b"geometry_msgs/Pose pose" in schemas[0].data
            assert next(iter(summary.channels.values())).message_encoding == "cdr"
            total += sum(1 for _ in reader.iter_messages())
    assert total == 50

    b = open_bag(bag)
    assert b.custom_data["toponav.world"] == "maze" and not b.partial and not b.warnings
    assert b.topics["/ground_truth/pose"].count == 50
    assert b.decode("/ground_truth/pose", next(iter(b.messages()))[2]).header.frame_id == "map"


def test_size_split_and_sqlite3(tmp_path: Path) -> None:
    data = scan_cdr()
    with BagWriter(tmp_path / "big", max_bytes=20 * len(data)) as w:
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        for i in range(100):
            w.write("/scan", (i + 1) * 50_000_000, data)
    assert w.stats.splits == 5
    assert open_bag(tmp_path / "big").message_count == 100
    with BagWriter(tmp_path / "sq", storage="sqlite3") as w:
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        w.write("/scan", 5, data)
    b = open_bag(tmp_path / "sq")
    assert b.storage == "sqlite3" and [t for _, t, _ in b.messages()] == [5]


def test_truncated_mcap_is_partial(tmp_path: Path) -> None:
    data = scan_cdr()
    with BagWriter(tmp_path / "b") as w:
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        for i in range(2500):  # > 2 MiB: several chunks
            w.write("/scan", (i + 1) * 1000, data)
    raw = (tmp_path / "b" / "b_0.mcap").read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(raw[: int(len(raw) * 0.7)])
    b = open_bag(cut)
    assert b.partial and any("partial" in w for w in b.warnings)
    assert 0 < b.message_count < 2500
    assert sum(1 for _ in b.messages()) == b.message_count


def test_corrupt_missing_and_empty_bags(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 3)
    with pytest.raises(BagError, match=r"junk\.mcap"):
        open_bag(junk)
    with pytest.raises(BagError, match="no such bag"):
        open_bag(tmp_path / "nope")
    (tmp_path / "notabag").mkdir()
    with pytest.raises(BagError, match="not a bag"):
        open_bag(tmp_path / "notabag")
    bad_db = tmp_path / "bad.db3"
    bad_db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)
    with pytest.raises(BagError):
        open_bag(bad_db)
    with BagWriter(tmp_path / "empty") as w:
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
    b = open_bag(tmp_path / "empty")
    assert b.message_count == 0 and any("no messages" in w for w in b.warnings)


def test_unknown_types(tmp_path: Path) -> None:
    # a type defined in the bag is learned from its definition; one without a definition is skipped
    path = tmp_path / "custom"
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as w:
        c1 = w.add_connection("/custom", "my_pkg/msg/Thing", msgdef="float64 x\nstring label\n",
                              rihs01="RIHS01_" + "0" * 64)
        c2 = w.add_connection("/mystery", "other_pkg/msg/Blob", msgdef="", rihs01="RIHS01_" + "1" * 64)
        w.write(c1, 1, struct.pack("<4sdI3s", b"\x00\x01\x00\x00", 1.5, 3, b"ab\x00"))
        w.write(c2, 2, b"\x00\x01\x00\x00abcd")
    b = open_bag(path)
    assert b.topics["/custom"].known
    thing = b.decode("/custom", next(d for t, _, d in b.messages() if t == "/custom"))
    assert thing.x == 1.5 and thing.label == "ab"
    assert not b.topics["/mystery"].known
    assert any("/mystery" in w and "unknown message type" in w for w in b.warnings)
    with pytest.raises(BagError, match="unknown message type"):
        b.decode("/mystery", b"\x00\x01\x00\x00abcd")
    with pytest.raises(BagError, match="corrupt"):
        b.decode("/custom", b"\x00\x01")


def test_writer_refuses_existing_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="exists already"):
        BagWriter(tmp_path / "exists")
    with BagWriter(tmp_path / "w") as w, pytest.raises(BagError, match="no message definition"):
        w.add_topic("/x", "nobody_pkg/msg/Nothing")


def test_truncated_split_file_inside_a_bag_directory(tmp_path: Path) -> None:
    data = scan_cdr()
    with BagWriter(tmp_path / "d", max_bytes=1_500_000) as w:
        w.add_topic("/scan", "sensor_msgs/msg/LaserScan")
        for i in range(3000):
            w.write("/scan", (i + 1) * 1000, data)
    assert w.stats.splits >= 3
    second = tmp_path / "d" / "d_1.mcap"
    raw = second.read_bytes()
    second.write_bytes(raw[: int(len(raw) * 0.8)])
    b = open_bag(tmp_path / "d")
    got = sum(1 for _ in b.messages())
    assert b.partial and any("d_1.mcap" in w for w in b.warnings)
    assert 0 < got < 3000  # the intact first/last splits plus the readable part of the damaged one

"""Write rosbag2 bags (MCAP or sqlite3) with message definitions, split by size or duration.

rosbags writes one storage file per bag. A split bag in rosbag2 is one directory whose
metadata.yaml lists several storage files; :class:`BagWriter` writes each split through rosbags
into a scratch folder, moves the finished file next to the others and rewrites the merged
metadata.yaml at once, so after every split the bag on disk is complete and readable.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from toponav.bags.errors import BagError
from toponav.bags.types import TYPESTORE, qos_for_topic


@dataclass
class _Topic:
    msgtype: str
    qos: Qos
    connection: Connection | None = None
    count: int = 0


@dataclass
class _Split:
    index: int
    writer: Writer
    scratch: Path
    start_ns: int | None = None
    bytes: int = 0


@dataclass
class WriterStats:
    messages: int = 0
    bytes: int = 0
    splits: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)


class BagWriter:
    """Context-managed rosbag2 writer: ``add_topic`` then ``write(topic, stamp_ns, cdr_bytes)``.

    ``max_bytes`` / ``max_duration_s`` start a new storage file when exceeded (0 = no split).
    ``custom_data`` lands in metadata.yaml (strings only), e.g. the world spec of a run.
    """

    def __init__(self, path: str | Path, *, storage: str = "mcap", max_bytes: int = 0, max_duration_s: float = 0.0,
                 custom_data: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists already; choose a new bag name")
        if storage not in ("mcap", "sqlite3"):
            raise BagError(f"storage must be 'mcap' or 'sqlite3', got {storage!r}")
        self.storage = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.suffix = ".mcap" if storage == "mcap" else ".db3"
        self.max_bytes = int(max_bytes)
        self.max_duration_ns = int(max_duration_s * 1e9)
        self.custom_data = dict(custom_data or {})
        self.topics: dict[str, _Topic] = {}
        self.stats = WriterStats()
        self._split: _Split | None = None
        self._finished: list[dict] = []  # metadata of closed splits
        self._closed = False

    # -- setup --------------------------------------------------------------------------------------
    def open(self) -> BagWriter:
        self.path.mkdir(parents=True)
        (self.path / ".splits").mkdir()
        self._new_split()
        return self

    def add_topic(self, topic: str, msgtype: str, qos: Qos | None = None) -> None:
        """Register a topic; raises BagError for a type without a known message definition."""
        if topic in self.topics:
            if self.topics[topic].msgtype != msgtype:
                raise BagError(f"topic {topic} already recorded as {self.topics[topic].msgtype}, not {msgtype}")
            return
        if msgtype not in TYPESTORE.types:
            raise BagError(f"no message definition for type {msgtype} (topic {topic}); cannot record it")
        self.topics[topic] = _Topic(msgtype, qos if qos is not None else qos_for_topic(topic))
        self.stats.per_topic[topic] = 0
        if self._split is not None:
            self._connect(topic)

    def set_custom_data(self, key: str, value: str) -> None:
        self.custom_data[key] = str(value)

    def _connect(self, topic: str) -> None:
        t = self.topics[topic]
        try:
            t.connection = self._split.writer.add_connection(topic, t.msgtype, typestore=TYPESTORE,
                                                             offered_qos_profiles=[t.qos])
        except WriterError as exc:
            raise BagError(f"{self.path}: cannot add topic {topic}: {exc}") from None

    def _new_split(self) -> None:
        index = self.stats.splits
        name = f"{self.path.name}_{index}"
        scratch = self.path / ".splits" / name
        writer = Writer(scratch, version=9, storage_plugin=self.storage)
        for key, value in self.custom_data.items():
            writer.set_custom_data(key, value)
        writer.open()
        self._split = _Split(index, writer, scratch)
        self.stats.splits += 1
        for topic in self.topics:
            self._connect(topic)

    # -- writing ------------------------------------------------------------------------------------
    def write(self, topic: str, timestamp_ns: int, data: bytes | memoryview) -> None:
        if self._closed or self._split is None:
            raise BagError(f"{self.path}: bag is not open for writing")
        t = self.topics.get(topic)
        if t is None:
            raise BagError(f"{self.path}: topic {topic} was not added")
        split = self._split
        if split.start_ns is not None and (
            (self.max_bytes and split.bytes >= self.max_bytes)
            or (self.max_duration_ns and timestamp_ns - split.start_ns >= self.max_duration_ns)
        ):
            self._close_split()
            self._new_split()
            split = self._split
        if split.start_ns is None:
            split.start_ns = timestamp_ns
        split.writer.write(t.connection, int(timestamp_ns), data)
        split.bytes += len(data)
        t.count += 1
        self.stats.messages += 1
        self.stats.bytes += len(data)
        self.stats.per_topic[topic] += 1

    def _close_split(self) -> None:
        split, self._split = self._split, None
        if split is None:
            return
        for key, value in self.custom_data.items():
            split.writer.set_custom_data(key, value)
        split.writer.close()
        meta = yaml.safe_load((split.scratch / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        storage_file = split.scratch / meta["relative_file_paths"][0]
        shutil.move(str(storage_file), self.path / storage_file.name)
        shutil.rmtree(split.scratch)
        self._finished.append(meta)
        self._write_metadata()

    def _write_metadata(self) -> None:
        metas = self._finished
        topics: dict[tuple[str, str], dict] = {}
        for m in metas:
            for entry in m["topics_with_message_count"]:
                key = (entry["topic_metadata"]["name"], entry["topic_metadata"]["type"])
                if key in topics:
                    topics[key]["message_count"] += entry["message_count"]
                else:
                    topics[key] = {"topic_metadata": dict(entry["topic_metadata"]),
                                   "message_count": entry["message_count"]}
        with_msgs = [m for m in metas if m["message_count"]]
        start = min((m["starting_time"]["nanoseconds_since_epoch"] for m in with_msgs), default=0)
        end = max((m["starting_time"]["nanoseconds_since_epoch"] + m["duration"]["nanoseconds"] for m in with_msgs),
                  default=0)
        info = dict(metas[0])
        info.update({
            "relative_file_paths": [m["relative_file_paths"][0] for m in metas],
            "files": [f for m in metas for f in m["files"]],
            "message_count": sum(m["message_count"] for m in metas),
            "starting_time": {"nanoseconds_since_epoch": start},
            "duration": {"nanoseconds": max(0, end - start)},
            "topics_with_message_count": list(topics.values()),
            "custom_data": dict(self.custom_data) or None,
        })
        tmp = self.path / "metadata.yaml.tmp"
        tmp.write_text(yaml.safe_dump({"rosbag2_bagfile_information": info}, sort_keys=False))
        tmp.replace(self.path / "metadata.yaml")

    def close(self) -> WriterStats:
        if not self._closed:
            self._closed = True
            self._close_split()
            shutil.rmtree(self.path / ".splits", ignore_errors=True)
        return self.stats

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Read rosbag2 bags (MCAP or sqlite3, split or not, with or without metadata.yaml), degrading clearly.

Accepted paths: a rosbag2 directory (metadata.yaml + storage files, as ``ros2 bag record`` and
:class:`~toponav.bags.writer.BagWriter` write them), a bare ``.mcap`` or ``.db3`` file, or a
directory of ``.mcap`` files without metadata.yaml (a recorder that was killed).

Bad input never crashes the caller: a bag that cannot be opened at all raises :class:`BagError`
with the reason; a truncated or partly corrupt MCAP is read up to the damage through the ``mcap``
library's streaming reader and flagged ``partial`` with a warning; topics whose message type is
neither known nor defined in the bag are listed in ``warnings`` and yield raw bytes only.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toponav.bags.errors import BagError
from toponav.bags.types import TYPESTORE, ensure_type


@dataclass(frozen=True)
class BagTopic:
    name: str
    msgtype: str
    count: int
    known: bool  # the message type can be decoded


@dataclass
class BagReader:
    """Open with :func:`open_bag`; iterate :meth:`messages`; :meth:`decode` raw CDR when needed."""

    path: Path
    storage: str = ""
    topics: dict[str, BagTopic] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    partial: bool = False
    custom_data: dict[str, str] = field(default_factory=dict)
    message_count: int = 0
    start_ns: int = 0
    end_ns: int = 0
    _reader: Any = None
    _files: list[Path] = field(default_factory=list)

    # -- iteration ----------------------------------------------------------------------------------
    def messages(self, topics: Iterable[str] | None = None) -> Iterator[tuple[str, int, bytes]]:
        """Yield (topic, timestamp_ns, raw CDR bytes); stops early, flagging ``partial``, on damage."""
        wanted = set(topics) if topics is not None else None
        if self._reader is not None:
            conns = [c for c in self._reader.connections if wanted is None or c.topic in wanted]
            if not conns:
                return
            try:
                for conn, stamp, data in self._reader.messages(connections=conns):
                    yield conn.topic, stamp, data
            except (BagError, GeneratorExit):
                raise
            except Exception as exc:  # damaged chunk / sqlite page: keep what was read
                self._damaged(f"read stopped early: {type(exc).__name__}: {exc}")
            return
        from toponav.bags.mcap_scan import ScanError, scan_mcap

        for file in self._files:
            try:
                yield from scan_mcap(file, wanted, self._note_topic)
            except ScanError as exc:
                self._damaged(f"{file.name} is truncated or corrupt ({exc})")
            except OSError as exc:
                self._damaged(f"{file.name} cannot be read ({exc})")

    def _damaged(self, message: str) -> None:
        self.partial = True
        text = f"{self.path}: {message}; results from this bag are partial"
        if text not in self.warnings:
            self.warnings.append(text)

    def _note_topic(self, topic: str, msgtype: str, encoding: str, schema: bytes) -> None:
        if topic in self.topics:
            return
        known = ensure_type(msgtype, schema.decode(errors="replace") if schema else None,
                            "idl" if encoding == "ros2idl" else "msg")
        self.topics[topic] = BagTopic(topic, msgtype, 0, known)
        if not known:
            self.warnings.append(f"{self.path}: topic {topic} has unknown message type {msgtype!r} and no "
                                 "definition in the bag; it is skipped")

    # -- decoding -----------------------------------------------------------------------------------
    def decode(self, topic: str, data: bytes) -> Any:
        info = self.topics.get(topic)
        if info is None or not info.known:
            raise BagError(f"{self.path}: cannot decode topic {topic} (unknown message type)")
        try:
            return TYPESTORE.deserialize_cdr(data, info.msgtype)
        except Exception as exc:
            raise BagError(f"{self.path}: corrupt {info.msgtype} message on {topic}: {exc}") from None

    def close(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                self._reader.close()
            self._reader = None

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_bag(path: str | Path) -> BagReader:
    """Open a bag for reading; BagError when nothing in it can be read (with the reason)."""
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag (file or directory)")
    bag = BagReader(path=path)
    if path.is_dir() and not (path / "metadata.yaml").exists():
        files = sorted(path.glob("*.mcap")) + sorted(path.glob(".splits/*/*.mcap"))
        if not files:
            raise BagError(f"{path}: not a bag (no metadata.yaml and no .mcap files)")
        bag.storage = "mcap"
        bag._files = files
        bag.warnings.append(f"{path}: no metadata.yaml (recording interrupted?); reading the MCAP files directly")
        _scan_stream(bag)
        return bag
    if path.is_dir() and (fast := _open_fast(path)) is not None:
        return fast
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:
        if path.is_file() and path.suffix == ".mcap":
            bag.storage = "mcap"
            bag._files = [path]
            _scan_stream(bag)
            if not bag.topics:
                raise BagError(f"{path}: not a readable MCAP file ({type(exc).__name__}: {exc})") from None
            bag._damaged(f"index unreadable ({exc})")
            return bag
        if isinstance(exc, sqlite3.DatabaseError):
            raise BagError(f"{path}: corrupt sqlite3 bag ({exc})") from None
        raise BagError(f"{path}: cannot open bag ({type(exc).__name__}: {exc})") from None
    bag._reader = reader
    bag.storage = "mcap" if any(str(f).endswith(".mcap") for f in _storage_files(reader, path)) else "sqlite3"
    bag.message_count = reader.message_count
    bag.start_ns, bag.end_ns = (reader.start_time, reader.end_time) if reader.message_count else (0, 0)
    custom = getattr(reader, "custom_data", None)
    if custom is None:
        custom = getattr(getattr(reader, "storage", None), "metadata", None)
        custom = getattr(custom, "custom", None)
    bag.custom_data = dict(custom or {})
    counts: dict[str, int] = {}
    for conn in reader.connections:
        counts[conn.topic] = counts.get(conn.topic, 0) + conn.msgcount
    for conn in reader.connections:
        if conn.topic in bag.topics:
            continue
        fmt = "idl" if conn.msgdef.format.name == "IDL" else "msg"
        known = ensure_type(conn.msgtype, conn.msgdef.data or None, fmt)
        bag.topics[conn.topic] = BagTopic(conn.topic, conn.msgtype, counts[conn.topic], known)
        if not known:
            bag.warnings.append(f"{path}: topic {conn.topic} has unknown message type {conn.msgtype!r} and no "
                                "definition in the bag; it is skipped")
    if reader.message_count == 0:
        bag.warnings.append(f"{path}: the bag holds no messages")
    return bag


def _open_fast(path: Path) -> BagReader | None:
    """rosbag2 directory of uncompressed MCAP files with only known types: read it with the record scanner.

    Returns None (use rosbags) for anything else: sqlite3, compression, unknown types, odd metadata.
    """
    import yaml

    try:
        meta = yaml.load((path / "metadata.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        info = meta["rosbag2_bagfile_information"]
        if info.get("storage_identifier") != "mcap" or (info.get("compression_mode") or "none").lower() != "none":
            return None
        files = [path / Path(p).name for p in info["relative_file_paths"]]
        if not files or not all(f.is_file() for f in files):
            return None
        topics: dict[str, BagTopic] = {}
        for entry in info["topics_with_message_count"]:
            tm = entry["topic_metadata"]
            if tm["type"] not in TYPESTORE.types or tm.get("serialization_format", "cdr") != "cdr":
                return None
            old = topics.get(tm["name"])
            n = int(entry["message_count"]) + (old.count if old else 0)
            topics[tm["name"]] = BagTopic(tm["name"], tm["type"], n, True)
        count = int(info["message_count"])
        start = int(info["starting_time"]["nanoseconds_since_epoch"])
        duration = int(info["duration"]["nanoseconds"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return None
    bag = BagReader(path=path, storage="mcap", topics=topics, message_count=count,
                    custom_data={str(k): str(v) for k, v in (info.get("custom_data") or {}).items()})
    bag.start_ns, bag.end_ns = (start, start + duration) if count else (0, 0)
    bag._files = files
    if count == 0:
        bag.warnings.append(f"{path}: the bag holds no messages")
    return bag


def _storage_files(reader: Any, path: Path) -> list[str]:
    if path.is_file():
        return [str(path)]
    try:
        import yaml

        meta = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        return [str(p) for p in meta.get("relative_file_paths", [])] or [meta.get("storage_identifier", "")]
    except Exception:
        return []


def _scan_stream(bag: BagReader) -> None:
    """Count topics/messages of a streamed (index-less) bag with one pass."""
    counts: dict[str, int] = {}
    first = last = None
    for topic, stamp, _ in bag.messages():
        counts[topic] = counts.get(topic, 0) + 1
        first = stamp if first is None else min(first, stamp)
        last = stamp if last is None else max(last, stamp)
    for topic, n in counts.items():
        t = bag.topics[topic]
        bag.topics[topic] = BagTopic(t.name, t.msgtype, n, t.known)
    bag.message_count = sum(counts.values())
    bag.start_ns, bag.end_ns = first or 0, last or 0
    if bag.message_count == 0 and not bag.partial:
        bag.warnings.append(f"{bag.path}: the bag holds no messages")

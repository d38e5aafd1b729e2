"""A sequential MCAP record scanner: the fast path for reading whole bags in file order.

rosbags' MCAP reader merges chunks through their indices (needed for time-ordered reads of
arbitrary files); for the files a recorder writes (one writer, time-ordered, chunks in sequence)
a straight scan of the records gives the same order several times faster, and it keeps working on
a truncated file up to the damage (no summary or index needed). Supports uncompressed and zstd
chunks (what rosbags and ``ros2 bag record`` write by default); anything else raises ScanError.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
_OP_LEN = struct.Struct("<BQ")
_MSG = struct.Struct("<HIQ")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_Q = struct.Struct("<Q")
_CHUNK = struct.Struct("<QQQI")


class ScanError(ValueError):
    """The file is not MCAP, is damaged, or uses a chunk compression this scanner cannot read."""


def _string(buf: bytes | memoryview, pos: int) -> tuple[str, int]:
    (n,) = _U32.unpack_from(buf, pos)
    return bytes(buf[pos + 4 : pos + 4 + n]).decode(), pos + 4 + n


def scan_mcap(path: Path, wanted: set[str] | None,
              on_channel: Callable[[str, str, str, bytes], None] | None = None) -> Iterator[tuple[str, int, bytes]]:
    """Yield (topic, log_time_ns, data) in file order. ``on_channel(topic, schema_name, encoding, schema_data)``.

    Raises ScanError when the damage starts (after yielding everything before it).
    """
    data = path.read_bytes()
    if data[:8] != MAGIC:
        raise ScanError(f"{path.name}: not an MCAP file (bad magic)")
    schemas: dict[int, tuple[str, str, bytes]] = {}
    topics: dict[int, str | None] = {}

    def meta(op: int, buf: bytes, start: int) -> None:
        if op == 0x03:  # Schema
            (sid,) = _U16.unpack_from(buf, start)
            name, p = _string(buf, start + 2)
            enc, p = _string(buf, p)
            (n,) = _U32.unpack_from(buf, p)
            schemas[sid] = (name, enc, bytes(buf[p + 4 : p + 4 + n]))
        elif op == 0x04:  # Channel
            cid, sid = struct.unpack_from("<HH", buf, start)
            topic, _ = _string(buf, start + 4)
            if cid not in topics:
                name, enc, sdata = schemas.get(sid, ("", "", b""))
                if on_channel is not None:
                    on_channel(topic, name, enc, sdata)
                topics[cid] = topic if wanted is None or topic in wanted else None

    def chunk_body(start: int) -> bytes:
        comp, p = _string(data, start + 28)
        (clen,) = _Q.unpack_from(data, p)
        body = data[p + 8 : p + 8 + clen]
        if comp == "zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd  # type: ignore[no-redef]
            return zstd.decompress(body)
        if comp:
            raise ScanError(f"{path.name}: chunk compression {comp!r} is not supported")
        return body

    def records() -> Iterator[tuple[str, int, bytes]]:
        unpack_head, unpack_msg, get = _OP_LEN.unpack_from, _MSG.unpack_from, topics.get
        pos, end = 8, len(data)
        while pos < end:
            if pos + 9 > end:
                raise ScanError(f"{path.name}: truncated record header at byte {pos}")
            op, length = unpack_head(data, pos)
            start = pos + 9
            pos = start + length
            if pos > end:
                raise ScanError(f"{path.name}: truncated record (opcode {op:#x}) at byte {start - 9}")
            if op == 0x06:  # Chunk: scan its records in place (hot loop)
                body = chunk_body(start)
                q, bend = 0, len(body)
                while q < bend:
                    if q + 9 > bend:
                        raise ScanError(f"{path.name}: truncated record inside a chunk")
                    bop, blen = unpack_head(body, q)
                    s0 = q + 9
                    q = s0 + blen
                    if q > bend:
                        raise ScanError(f"{path.name}: truncated record inside a chunk")
                    if bop == 0x05:
                        cid, _seq, log_time = unpack_msg(body, s0)
                        topic = get(cid)
                        if topic is not None:
                            yield topic, log_time, body[s0 + 22 : q]
                    else:
                        meta(bop, body, s0)
            elif op == 0x05:
                cid, _seq, log_time = unpack_msg(data, start)
                topic = get(cid)
                if topic is not None:
                    yield topic, log_time, data[start + 22 : pos]
            elif op == 0x0F:  # DataEnd: the summary follows
                return
            else:
                meta(op, data, start)

    try:
        yield from records()
    except (struct.error, UnicodeDecodeError) as exc:
        raise ScanError(f"{path.name}: corrupt record ({exc})") from None
    except ScanError:
        raise
    except Exception as exc:  # zstd errors on a damaged chunk
        raise ScanError(f"{path.name}: corrupt chunk ({type(exc).__name__}: {exc})") from None

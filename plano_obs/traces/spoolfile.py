"""The spool's file format: entries, each a chunk (wire.Chunk) with its patch, one after the
other; a file's entries form a segment, in the replay's temporary file or in the spool cache.

    entry: header (_ENTRY), the chunk's bytes, its selector, its trace ids (16 bytes each)"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator, NamedTuple

from plano_obs.traces import wire

# record, first span, spans, bytes of data, selector and trace ids, start, end, low, high
_ENTRY = struct.Struct("<IIIIIIQQQQ")
ENTRY_SIZE = _ENTRY.size


class Position(NamedTuple):
    """A place in the replay: loop (from 1), file (index in the inputs), record (from 1) and
    span (index in the record, in the record's order). Ordered as the replay sends (a tuple: the
    second pass makes two a chunk, five times cheaper than a frozen dataclass)."""
    loop: int
    file: int
    record: int
    span: int = 0


@dataclass
class Entry:
    """A spooled chunk and where its spans come from."""
    file: int
    record: int
    chunk: wire.Chunk

    def ends_before(self, at: Position) -> bool:
        """Every span of this chunk lies before `at` (the loop aside)."""
        return (self.file, self.record, self.chunk.first + self.chunk.spans) <= (at.file, at.record, at.span)


@dataclass
class Segment:
    """One input file's entries: bytes `start` to `end` of `stream`."""
    file: int
    stream: BinaryIO
    start: int
    end: int


def entry_bytes(record: int, chunk: wire.Chunk) -> bytes:
    """One entry, as written."""
    p = chunk.patch
    sel, tids, low, high = (p.selector, p.trace_ids, p.low, p.high) if p else (b"", b"", 0, 0)
    return b"".join((_ENTRY.pack(record, chunk.first, chunk.spans, len(chunk.data), len(sel), len(tids), chunk.start,
                                 chunk.end, low, high), chunk.data, sel, tids))


def read_entries(seg: Segment) -> Iterator[Entry]:
    """The segment's entries in order (the stream is read from `start` to `end`)."""
    f, pos, end = seg.stream, seg.start, seg.end
    read = f.read
    while pos < end:
        f.seek(pos)  # another reader of the stream may have moved it while this one waited
        record, first, spans, n, n_sel, n_tids, start, stop, low, high = _ENTRY.unpack(read(ENTRY_SIZE))
        if n_sel:
            body = read(n + n_sel + n_tids)
            patch = wire.Patch(body[n:n + n_sel], body[n + n_sel:], low, high)
            chunk = wire.Chunk(body[:n], spans, first, start, stop, patch)
        else:
            chunk = wire.Chunk(read(n), spans, first, start, stop)
        yield Entry(seg.file, record, chunk)
        pos += ENTRY_SIZE + n + n_sel + n_tids

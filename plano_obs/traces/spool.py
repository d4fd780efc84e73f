"""The replay's first pass: every record of every file read as a stream, validated, encoded
once (wire.py) and written to a spool file; only counts and the schedule's timing are kept.

Why a spool: parsing OTLP/JSON is the replay's dominant cost, so each record is parsed once,
here, and the second pass (replay.py) sends the spool's protobuf bytes, once per --loop. The
spool is an anonymous temporary file (deleted when closed, or when the process dies), about
half the JSON's size; memory holds one record at a time."""
from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..errors import PlanoError
from . import otlpjson, wire

_HEADER = struct.Struct("<IIIII")  # file, record, first span, spans, bytes


class SpoolError(PlanoError):
    """The spool file cannot be written (a full disk); carries its folder."""

    def __init__(self, folder: str, cause: str) -> None:
        super().__init__(f"cannot write the replay's spool file in {folder}: {cause}",
                         "set TMPDIR to a folder with room for about half the input's size; nothing was sent")
        self.folder = folder


@dataclass(frozen=True, order=True)
class Position:
    """A place in the replay: loop (from 1), file (index in the inputs), record (from 1) and
    span (index in the record, in the record's order). Ordered as the replay sends."""
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
class Scan:
    """What the first pass keeps: counts, and the timing of all spans (`full`) and of those from
    the start position on (`rest`; the same when not resuming)."""
    files: list[Path]
    records: int = 0
    spans: int = 0
    rest_spans: int = 0
    full: wire.Timing = field(default_factory=wire.Timing)
    rest: wire.Timing = field(default_factory=wire.Timing)


class Spool:
    """Chunks written once and read once per loop, from an anonymous temporary file."""

    def __init__(self, folder: str | None = None) -> None:
        self.folder = folder or tempfile.gettempdir()
        try:
            self._file: BinaryIO = tempfile.TemporaryFile(prefix="plano-replay-", dir=self.folder)  # type: ignore[assignment]
        except OSError as err:
            raise SpoolError(self.folder, err.strerror or str(err)) from err
        self.size = 0

    def add(self, file: int, record: int, chunk: wire.Chunk) -> None:
        try:
            self._file.write(_HEADER.pack(file, record, chunk.first, chunk.spans, len(chunk.data)))
            self._file.write(chunk.data)
        except OSError as err:
            raise SpoolError(self.folder, err.strerror or str(err)) from err
        self.size += _HEADER.size + len(chunk.data)

    def __iter__(self) -> Iterator[Entry]:
        self._file.flush()
        self._file.seek(0)
        read = self._file.read
        while True:
            header = read(_HEADER.size)
            if not header:
                return
            file, record, first, spans, size = _HEADER.unpack(header)
            yield Entry(file, record, wire.Chunk(read(size), spans, first))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemorySpool(Spool):
    """The same, in memory: for traffic that is in memory anyway (traces.synth) and for tests."""

    def __init__(self) -> None:  # noqa: super().__init__ would open a file
        self.folder, self.size = "memory", 0
        self._entries: list[Entry] = []

    def add(self, file: int, record: int, chunk: wire.Chunk) -> None:
        self._entries.append(Entry(file, record, chunk))
        self.size += len(chunk.data)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def close(self) -> None:
        self._entries = []


def _merge(into: wire.Timing, t: wire.Timing) -> None:
    into.start = min(into.start, t.start)
    into.end = max(into.end, t.end)


def _add(scan: Scan, spool: Spool, file: int, record: int, chunks: list[wire.Chunk], timing: wire.Timing,
         start: Position | None) -> None:
    for chunk in chunks:
        spool.add(file, record, chunk)
        scan.spans += chunk.spans
        if start is None or not Entry(file, record, chunk).ends_before(start):
            scan.rest_spans += chunk.spans
    scan.records += 1
    _merge(scan.full, timing)
    if start is None or (file, record) >= (start.file, start.record):
        _merge(scan.rest, timing)


def scan(paths: list[Path], spool: Spool, start: Position | None = None, trace_starts: bool = False,
         max_spans: int = wire.MAX_SPANS) -> Scan:
    """Validates and spools every record of `paths` in order, or raises OtlpFileError for the
    first bad one (nothing is sent before this returns). `trace_starts` keeps each trace's
    first start (a dict entry a trace), which a --speed other than 0 and 1 needs."""
    result = Scan(list(paths))
    traces: dict[bytes, int] | None = {} if trace_starts else None
    result.full.traces = result.rest.traces = traces
    encoder = wire.Encoder(max_spans)
    for i, path in enumerate(paths):
        for number, where, data in otlpjson.records(path):
            timing = wire.Timing(traces=traces)
            try:
                chunks = encoder.chunks(data, timing)
            except wire.Unusual:
                request = otlpjson.exact(data, path, where)  # words the error, or parses what is unusual
                timing = wire.Timing(traces=traces)
                del data
                chunks = wire.message_chunks(request, timing, max_spans)
            _add(result, spool, i, number, chunks, timing, start)
    return result


def spool_requests(requests: Iterable[ExportTraceServiceRequest], spool: Spool, name: str = "<synth>") -> Scan:
    """Requests already in memory (synthetic traffic) into the spool, as if record by record."""
    result = Scan([Path(name)])
    for number, request in enumerate(requests, 1):
        timing = wire.Timing()
        _add(result, spool, 0, number, wire.message_chunks(request, timing), timing, None)
    return result

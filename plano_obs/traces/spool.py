"""The replay's first pass: every record of every file read as a stream, validated, encoded
once (wire.py) and written to a spool file; only counts and the schedule's timing are kept.

Why a spool: parsing OTLP/JSON is the replay's dominant cost, so each record is parsed once,
here, and the second pass (replay.py) sends the spool's protobuf bytes, once per --loop. The
spool is an anonymous temporary file (deleted when closed, or when the process dies), about
half the JSON's size; memory holds one record at a time."""
from __future__ import annotations

import multiprocessing
import os
import struct
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..errors import PlanoError
from . import files, otlpjson, wire

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


def _encode(encoder: wire.Encoder, data: object, path: Path, where: str, timing: wire.Timing) -> list[wire.Chunk]:
    if isinstance(data, otlpjson.Big):
        try:
            return encoder.chunks_from(data.resource_spans(), timing)
        except (wire.Unusual, otlpjson.NotSplittable):
            timing.start, timing.end = wire.Timing().start, 0
            data = data.parse()  # the whole record at once: the usual path, and its error wording
    try:
        return encoder.chunks(data, timing)
    except wire.Unusual:
        request = otlpjson.exact(data, path, where)  # words the error, or parses what is unusual
        timing.start, timing.end = wire.Timing().start, 0  # the exact result is timed afresh
        return wire.message_chunks(request, timing, encoder.max_spans)


_Encoded = tuple[int, list[wire.Chunk], wire.Timing]  # record number, chunks, its timing


def _sequential(path: Path, encoder: wire.Encoder, traces: dict | None) -> Iterator[_Encoded]:
    for number, where, payload in otlpjson.raw_records(path):
        data = otlpjson.parse_line(path, where, payload) if isinstance(payload, bytes) else payload
        timing = wire.Timing(traces=traces)
        yield number, _encode(encoder, data, path, where, timing), timing


# --- the first pass on several cores --------------------------------------------------------
# Parsing is CPU-bound Python, and the collector is idle until the second pass: a large file's
# lines go in batches to worker processes (forked: they start in milliseconds and share the
# loaded modules), which parse and encode them; their chunks come back in order.

PARALLEL_BYTES = 8 << 20  # files this large use the workers
_BATCH_BYTES = 1 << 20
_worker_encoder: wire.Encoder | None = None


def _watch_parent(parent: int) -> None:
    """In a worker: exit once the replay that started it is gone (killed), rather than linger."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _encode_batch(path: Path, batch: list[tuple[int, str, bytes]], max_spans: int, trace_starts: bool):
    """In a worker: ([(number, chunks, start, end)], trace starts, (where, reason) of a bad record)."""
    global _worker_encoder
    if _worker_encoder is None or _worker_encoder.max_spans != max_spans:
        _worker_encoder = wire.Encoder(max_spans)
    traces: dict[bytes, int] | None = {} if trace_starts else None
    out = []
    try:
        for number, where, raw in batch:
            timing = wire.Timing(traces=traces)
            chunks = _encode(_worker_encoder, otlpjson.parse_line(path, where, raw), path, where, timing)
            out.append((number, chunks, timing.start, timing.end))
    except otlpjson.OtlpFileError as err:  # its own class does not pickle: send its parts
        return out, traces, (err.where, err.reason)
    return out, traces, None


def _parallel(path: Path, pool: ProcessPoolExecutor, workers: int, encoder: wire.Encoder,
              traces: dict | None) -> Iterator[_Encoded]:
    pending: deque = deque()  # futures of batches, or records done here, in file order
    batch: list[tuple[int, str, bytes]] = []
    size = 0

    def submit() -> None:
        nonlocal batch, size
        if batch:
            pending.append(pool.submit(_encode_batch, path, batch, encoder.max_spans, traces is not None))
            batch, size = [], 0

    def ready(block: bool) -> Iterator[_Encoded]:
        while pending and (block or len(pending) > 2 * workers):
            item = pending.popleft()
            if not isinstance(item, Future):
                yield item
                continue
            done, found, bad = item.result()
            if traces is not None and found:
                for tid, t0 in found.items():
                    if tid not in traces or t0 < traces[tid]:
                        traces[tid] = t0
            for number, chunks, start, end in done:
                yield number, chunks, wire.Timing(start, end)
            if bad:
                for f in pending:
                    if isinstance(f, Future):
                        f.cancel()
                raise otlpjson.OtlpFileError(path, *bad)

    for number, where, payload in otlpjson.raw_records(path):
        if isinstance(payload, bytes):  # a Big, or the first record parsed already, is encoded here
            batch.append((number, where, payload))
            size += len(payload)
            if size >= _BATCH_BYTES:
                submit()
                yield from ready(block=False)
        else:
            submit()
            timing = wire.Timing(traces=traces)
            pending.append((number, _encode(encoder, payload, path, where, timing), timing))
    submit()
    yield from ready(block=True)


MAX_WORKERS = 4  # each holds ~45 MiB; past a few, reading the file is the limit


def workers_from_env() -> int:
    """Worker processes for the first pass: PLANO_REPLAY_WORKERS, else one a core this process
    may use, at most MAX_WORKERS (1: none, all in this process)."""
    value = os.environ.get("PLANO_REPLAY_WORKERS", "")
    if value.strip():
        try:
            return max(1, int(value))
        except ValueError:
            raise PlanoError(f"PLANO_REPLAY_WORKERS must be a whole number, got {value!r}",
                             "1 parses in the replay's own process") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, MAX_WORKERS)


def scan(paths: list[Path], spool: Spool, start: Position | None = None, trace_starts: bool = False,
         max_spans: int = wire.MAX_SPANS, workers: int | None = None) -> Scan:
    """Validates and spools every record of `paths` in order, or raises OtlpFileError for the
    first bad one (nothing is sent before this returns). `trace_starts` keeps each trace's
    first start (a dict entry a trace), which a --speed other than 0 and 1 needs. Files of
    PARALLEL_BYTES or more are parsed by `workers` processes (default: workers_from_env())."""
    result = Scan(list(paths))
    traces: dict[bytes, int] | None = {} if trace_starts else None
    result.full.traces = result.rest.traces = traces
    encoder = wire.Encoder(max_spans)
    workers = workers_from_env() if workers is None else workers
    pool: ProcessPoolExecutor | None = None
    try:
        for i, path in enumerate(paths):
            files.check_input(path)
            if workers > 1 and path.stat().st_size >= PARALLEL_BYTES:
                pool = pool or ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                                   initializer=_watch_parent, initargs=(os.getpid(),))
                encoded = _parallel(path, pool, workers, encoder, traces)
            else:
                encoded = _sequential(path, encoder, traces)
            for number, chunks, timing in encoded:
                _add(result, spool, i, number, chunks, timing, start)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return result


def spool_requests(requests: Iterable[ExportTraceServiceRequest], spool: Spool, name: str = "<synth>") -> Scan:
    """Requests already in memory (synthetic traffic) into the spool, as if record by record."""
    result = Scan([Path(name)])
    for number, request in enumerate(requests, 1):
        timing = wire.Timing()
        _add(result, spool, 0, number, wire.message_chunks(request, timing), timing, None)
    return result

"""The replay's first pass: every record of every file read as a stream, validated, encoded
once (firstpass.py) and written to a spool; only counts and the schedule's timing are kept.

Why a spool: parsing OTLP/JSON is the replay's dominant cost, so each record is parsed once,
here, and the second pass (replay.py) sends the spool's protobuf bytes, once per --loop. The
spool is an anonymous temporary file (deleted when closed, or when the process dies), about the
JSON's size (the chunks and their selectors); memory holds one record at a time. A file's part
of the spool is kept in the spool cache (spoolcache.py), so replaying the same file again skips
its first pass."""
from __future__ import annotations

import gc
import io
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.errors import PlanoError
from plano_obs.traces import files, firstpass, spoolcache, wire
from plano_obs.traces.encoder import Encoder
from plano_obs.traces.spoolfile import Entry, Position, Segment, entry_bytes, read_entries

__all__ = ["Entry", "Position", "Scan", "Spool", "MemorySpool", "SpoolError", "first_pass", "spool_requests"]

PARALLEL_BYTES = 8 << 20  # files this large are parsed on worker processes


class SpoolError(PlanoError):
    """The spool file cannot be written (a full disk); carries its folder."""

    def __init__(self, folder: str, cause: str) -> None:
        super().__init__(f"cannot write the replay's spool file in {folder}: {cause}",
                         "set TMPDIR to a folder with room for about the input's size; nothing was sent")
        self.folder = folder


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

    def add(self, entry: Entry, start: Position | None) -> None:
        """Counts one spooled chunk (records are counted apart: one may have no spans)."""
        chunk = entry.chunk  # its data aside
        self.spans += chunk.spans
        self.full.add(chunk.start, chunk.end)
        if start is None or (entry.file, entry.record) >= (start.file, start.record):
            self.rest.add(chunk.start, chunk.end)
        if start is None or not entry.ends_before(start):
            self.rest_spans += chunk.spans


class Spool:
    """Chunks written once and read once per loop: segments, one a file, each in the anonymous
    temporary file or in a cached spool (`attach`)."""

    def __init__(self, folder: str | None = None, cache: spoolcache.SpoolCache | None | bool = True) -> None:
        self.folder = folder or tempfile.gettempdir()
        self.cache = spoolcache.from_env() if cache is True else cache or None
        self._file: BinaryIO | None = None
        self.segments: list[Segment] = []
        self.size = 0

    def _temp(self) -> BinaryIO:
        if self._file is None:
            try:
                self._file = tempfile.TemporaryFile(prefix="plano-replay-", dir=self.folder)  # type: ignore[assignment]
            except OSError as err:
                raise SpoolError(self.folder, err.strerror or str(err)) from err
        return self._file  # type: ignore[return-value]

    def add(self, file: int, record: int, chunk: wire.Chunk) -> None:
        self.write(file, entry_bytes(record, chunk))

    def write(self, file: int, entries: bytes) -> None:
        """Entries of `file` already laid out (entry_bytes: a worker's batch)."""
        seg = self.segments[-1] if self.segments else None
        if seg is None or seg.file != file or seg.stream is not self._file:
            f = self._temp()
            seg = Segment(file, f, f.tell(), f.tell())
            self.segments.append(seg)
        try:
            seg.stream.write(entries)
        except OSError as err:
            raise SpoolError(self.folder, err.strerror or str(err)) from err
        seg.end += len(entries)
        self.size += len(entries)

    def mark(self) -> tuple[int, int, int]:
        """Where the spool ends now, for `rollback`."""
        return len(self.segments), self.segments[-1].end if self.segments else 0, self.size

    def rollback(self, mark: tuple[int, int, int]) -> None:
        """Forgets the entries added since `mark` (a huge record's, when it is read again whole)."""
        count, end, self.size = mark
        del self.segments[count:]
        if self.segments:
            self.segments[-1].end = end
        if self._file:
            self._file.seek(max((seg.end for seg in self.segments if seg.stream is self._file), default=0))
            self._file.truncate()

    def attach(self, segment: Segment) -> None:
        """A file's entries kept elsewhere (the spool cache)."""
        self.segments.append(segment)
        self.size += segment.end - segment.start

    def __iter__(self) -> Iterator[Entry]:
        if self._file:
            self._file.flush()
        for seg in self.segments:
            yield from read_entries(seg)

    def close(self) -> None:
        for seg in self.segments:
            seg.stream.close()
        if self._file:
            self._file.close()
        self.segments = []

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemorySpool(Spool):
    """The same, in memory: for traffic that is in memory anyway (traces.synth) and for tests."""

    def __init__(self) -> None:  # noqa: super().__init__ would look for the cache
        self.folder, self.size, self.cache = "memory", 0, None
        self._entries: list[Entry] = []

    def add(self, file: int, record: int, chunk: wire.Chunk) -> None:
        self._entries.append(Entry(file, record, chunk))
        self.size += len(chunk.data)

    def write(self, file: int, entries: bytes) -> None:
        for entry in read_entries(Segment(file, io.BytesIO(entries), 0, len(entries))):
            self.add(file, entry.record, entry.chunk)

    def mark(self) -> tuple[int, int, int]:
        return len(self._entries), 0, self.size

    def rollback(self, mark: tuple[int, int, int]) -> None:
        del self._entries[mark[0]:]
        self.size = mark[2]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def close(self) -> None:
        self._entries = []


def _spool_file(result: Scan, spool: Spool, i: int, encoded: Iterable[firstpass.Encoded | firstpass.Written],
                start: Position | None) -> spoolcache.Summary:
    """One file's records into the spool and the scan; returns the file's own counts."""
    summary = spoolcache.Summary()
    for item in encoded:
        if isinstance(item, firstpass.Written):  # a worker's batch: its entries laid out, its chunks without data
            spool.write(i, item.entries)
            records = item.records
        else:
            number, chunks = item
            if chunks.__class__ is not list:  # a huge record's, as they are cut: counted once all are in
                chunks = _spooled(spool, i, number, chunks)
            else:
                for chunk in chunks:
                    spool.add(i, number, chunk)
            records = [(number, chunks)]
        for number, chunks in records:
            for chunk in chunks:
                result.add(Entry(i, number, chunk), start)
                summary.add(chunk)
            summary.records += 1
    result.records += summary.records
    return summary


def _spooled(spool: Spool, i: int, number: int, chunks: Iterable[wire.Chunk]) -> list[wire.Chunk]:
    """Writes chunks as they come (a RESTART voids those before it); returns them without data."""
    mark, done = spool.mark(), []
    for chunk in chunks:
        if chunk is firstpass.RESTART:
            spool.rollback(mark)
            done = []
            continue
        spool.add(i, number, chunk)
        done.append(wire.Chunk(b"", chunk.spans, chunk.first, chunk.start, chunk.end))
    return done


def _from_cache(result: Scan, segment: Segment, summary: spoolcache.Summary, start: Position | None,
                traces: dict | None) -> None:
    """A cached file's counts: from its summary, or its entries when they matter one by one."""
    result.records += summary.records
    if (start is not None and start.file == segment.file) or traces is not None:
        for entry in read_entries(segment):
            result.add(entry, start)
            if traces is not None:
                _trace_starts(entry.chunk, traces)
        return
    result.spans += summary.spans
    result.full.add(summary.start, summary.end)
    if start is None or start.file < segment.file:
        result.rest_spans += summary.spans
        result.rest.add(summary.start, summary.end)


def _trace_starts(chunk: wire.Chunk, traces: dict[bytes, int]) -> None:
    for rs in ExportTraceServiceRequest.FromString(chunk.data).resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                first = traces.get(s.trace_id)
                if first is None or s.start_time_unix_nano < first:
                    traces[s.trace_id] = s.start_time_unix_nano


def first_pass(paths: list[Path], spool: Spool, start: Position | None = None, trace_starts: bool = False,
         max_spans: int = wire.MAX_SPANS, workers: int | None = None) -> Scan:
    """Validates and spools every record of `paths` in order, or raises OtlpFileError for the
    first bad one (nothing is sent before this returns). `trace_starts` keeps each trace's
    first start (a dict entry a trace), which a --speed other than 0 and 1 needs. Files of
    PARALLEL_BYTES or more are parsed by `workers` processes (default: workers_from_env()). A
    file found in the spool cache is not parsed again; one parsed is kept there."""
    result = Scan(list(paths))
    traces: dict[bytes, int] | None = {} if trace_starts else None
    result.full.traces = result.rest.traces = traces
    encoder = Encoder(max_spans)
    workers = firstpass.workers_from_env() if workers is None else workers
    pool: ProcessPoolExecutor | None = None
    cache = spool.cache
    collecting = gc.isenabled()
    gc.disable()  # millions of short-lived containers and no cycles: the collector would find nothing, at ~5%
    try:
        for i, path in enumerate(paths):
            files.check_input(path)
            hit = cache.find(path, max_spans) if cache else None
            if hit:
                segment, summary = hit
                segment.file = i
                spool.attach(segment)
                _from_cache(result, segment, summary, start, traces)
                continue
            digest = cache.digest(path) if cache else None
            if workers > 1 and path.stat().st_size >= PARALLEL_BYTES:
                pool = pool or ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                                   initializer=firstpass.watch_parent, initargs=(os.getpid(),))
                encoded = firstpass.parallel(path, pool, workers, encoder, traces, digest)
            else:
                encoded = firstpass.sequential(path, encoder, traces, digest)
            summary = _spool_file(result, spool, i, encoded, start)
            if cache and digest is not None and spool.segments and spool.segments[-1].file == i:
                cache.store(path, digest, max_spans, spool.segments[-1], summary)
    finally:
        if collecting:
            gc.enable()
        if pool:
            pool.shutdown(cancel_futures=True)
    return result


def spool_requests(requests: Iterable[ExportTraceServiceRequest], spool: Spool, name: str = "<synth>") -> Scan:
    """Requests already in memory (synthetic traffic) into the spool, as if record by record."""
    result = Scan([Path(name)])
    encoded = ((number, wire.message_chunks(request)) for number, request in enumerate(requests, 1))
    _spool_file(result, spool, 0, encoded, None)
    return result

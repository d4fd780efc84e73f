"""The replay's second pass: the spooled chunks (spool.py) sent to a collector, with times moved
to now and fresh ids, and an exact account of what the collector acknowledged.

Timing: the gaps between trace starts are divided by `speed` and every span of a trace moves by
the same amount, so durations and offsets inside a trace are kept; all timestamps are shifted so
the recording ends as the replay ends (speed 0: nothing waits and the recording ends the moment
the replay starts). Records are sent in file order, each when its last span has ended on the
replay's clock, so no span lies in the future.

Ids: fresh ids are the recorded ones XORed with a random key drawn for each loop — the same
recorded id becomes the same new id in every record and file, without a table of ids in memory.

Accounting: requests are answered in order. Each answer moves `next`, the first span not
acknowledged; when a request fails for good, nothing after it is sent, so everything from `next`
on is unsent, and a resumed replay (--resume) starts there."""
from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ..errors import PlanoError
from . import wire
from .book import TraceBook
from .sender import PROTOCOLS, Retry, SendError, Sender, Stopped, send_retrying  # noqa: F401 (re-exported)
from .spool import Entry, Position, Scan, Spool

BATCH_SPANS = wire.MAX_SPANS
BATCH_BYTES = 3 << 20  # below the collector's 4 MiB a request
IN_FLIGHT = 2


class ReplayError(PlanoError):
    """Options a replay cannot use, or a collector that refused the data."""


@dataclass
class Summary:
    """What happened to the spans this run set out to send (`total_spans`)."""
    total_spans: int = 0
    spans: int = 0  # acknowledged by the collector: accepted, or refused in a partial success
    rejected: int = 0
    requests: int = 0
    retries: int = 0
    unsent_traces: int = 0
    elapsed_s: float = 0.0
    book: TraceBook = field(default_factory=TraceBook)  # accepted traces (as sent), loop by loop
    failure: SendError | None = None
    interrupted: bool = False
    next: Position | None = None  # the first span not acknowledged; None when all were

    @property
    def traces(self) -> int:
        return len(self.book)

    @property
    def trace_ids(self) -> list[str]:
        """Every accepted trace's id, in hex (a list in memory: for small replays and tests)."""
        return self.book.hex()

    @property
    def accepted(self) -> int:
        return self.spans - self.rejected

    @property
    def unsent(self) -> int:
        return self.total_spans - self.spans

    @property
    def spans_per_s(self) -> float:
        return self.spans / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Ids:
    """Fresh ids for one loop: each recorded id XORed with a random key (a bijection, so
    distinct ids stay distinct, and the same id maps the same way everywhere)."""

    def __init__(self) -> None:
        self.trace_key = int.from_bytes(os.urandom(16), "big")
        self.span_key = int.from_bytes(os.urandom(8), "big")

    def trace(self, old: bytes) -> bytes:
        return (int.from_bytes(old, "big") ^ self.trace_key).to_bytes(16, "big")

    def span(self, old: bytes) -> bytes:
        return (int.from_bytes(old, "big") ^ self.span_key).to_bytes(8, "big") if old else old


def _drop_first(req: ExportTraceServiceRequest, n: int) -> None:
    """Removes the first `n` spans (in the record's order): those a resumed replay sent before."""
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            k = min(n, len(ss.spans))
            del ss.spans[:k]
            n -= k


def _rewrite(req: ExportTraceServiceRequest, shift: int, starts: dict[bytes, int] | None,
             speed_shift: Callable[[int], int] | None, ids: _Ids | None, accepted: dict[bytes, None]) -> tuple[int, int]:
    """Moves the request's times and (optionally) ids in place; returns (spans, due ns): when
    its last span has ended on the replay's clock. Per-trace shifts when `speed_shift` is set."""
    n, due = 0, 0
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                n += 1
                tid = s.trace_id
                d = speed_shift(starts[tid]) if speed_shift else shift  # type: ignore[index]
                if ids:
                    new = ids.trace(tid)
                    s.trace_id = new
                    s.span_id = ids.span(s.span_id)
                    if s.parent_span_id:
                        s.parent_span_id = ids.span(s.parent_span_id)
                    for link in s.links:
                        if link.trace_id == tid:  # links to other traces keep their ids
                            link.trace_id = new
                            link.span_id = ids.span(link.span_id)
                    accepted[new] = None
                else:
                    accepted[tid] = None
                start, end = max(0, s.start_time_unix_nano + d), max(0, s.end_time_unix_nano + d)
                s.start_time_unix_nano, s.end_time_unix_nano = start, end
                for ev in s.events:
                    ev.time_unix_nano = max(0, ev.time_unix_nano + d)
                last = end if end > start else start
                if last > due:
                    due = last
    return n, due


@dataclass
class _Request:
    data: bytes
    spans: int
    traces: dict[bytes, None]
    first: Position  # of its first span
    end: Position  # just after its last span
    future: Future | None = None


def check(speed: float, loops: int, rate: float | None) -> None:
    """The task layer reads these from the command line (tasks/options.py); this guards callers in Python."""
    if not (math.isfinite(speed) and speed >= 0):
        raise ReplayError(f"--speed must be a number, 0 or more, got {speed}", "0 sends everything at once")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ReplayError(f"--rate must be a number above 0, got {rate}")
    if loops < 1:
        raise ReplayError(f"--loop must be a whole number, 1 or more, got {loops}")


def replay(spool: Spool, scan: Scan, sender: Sender, speed: float = 1.0, loops: int = 1, rate: float | None = None,
           fresh_ids: bool = True, retry: Retry | None = None, start: Position | None = None,
           progress: Callable[[int], None] | None = None, batch_spans: int = BATCH_SPANS,
           clock: Callable[[], int] = time.time_ns, sleep: Callable[[float], None] = time.sleep) -> Summary:
    """Sends the spool `loops` times (from `start` when resuming); returns the account. A request
    that fails for good, or Ctrl-C, ends the replay with `failure`/`interrupted` and `next` set."""
    check(speed, loops, rate)
    if speed not in (0, 1) and scan.full.traces is None:
        raise ReplayError(f"--speed {speed:g} needs each trace's start: scan with trace_starts=True")
    first_loop = start.loop if start else 1
    summary = Summary(total_spans=scan.rest_spans + (loops - first_loop) * scan.spans)
    summary.next = start or Position(1, 0, 1, 0)
    retry = retry or Retry()
    stop = retry.stop = retry.stop or threading.Event()
    started = time.monotonic()
    outstanding: deque[_Request] = deque()  # submitted, not yet answered, in order
    batch: list[_Request] = []  # built, not yet submitted
    size = [0, 0]  # the batch's spans and bytes

    def job(data: bytes):
        try:
            return send_retrying(sender, data, retry)  # type: ignore[arg-type]
        except BaseException:
            stop.set()  # nothing queued after a failure is sent
            raise

    def settle(limit: int) -> None:
        while len(outstanding) > limit:
            req = outstanding[0]
            try:
                sent = req.future.result()  # type: ignore[union-attr]
            except SendError as err:
                summary.failure = summary.failure or err
                summary.retries += getattr(err, "retries", 0)
                stop.set()
                return
            except Stopped:
                stop.set()
                return
            outstanding.popleft()
            summary.requests += 1
            summary.spans += req.spans
            summary.rejected += sent.rejected
            summary.retries += sent.retries
            summary.next = req.end
            summary.book.add(req.first.loop, req.traces)
            if progress:
                progress(req.spans)

    def flush() -> None:
        if not batch or stop.is_set():
            return
        n = size[0]
        if rate:  # spans/s ceiling over the whole replay
            queued = summary.spans + sum(r.spans for r in outstanding) + n
            wait = started + queued / rate - time.monotonic()
            if wait > 0:
                sleep(wait)
        traces: dict[bytes, None] = {}
        for r in batch:
            traces.update(r.traces)
        req = _Request(b"".join(r.data for r in batch), n, traces, batch[0].first, batch[-1].end)
        req.future = pool.submit(job, req.data)
        outstanding.append(req)
        batch.clear()
        size[:] = [0, 0]
        settle(IN_FLIGHT)

    def one(entry: Entry, loop: int, resumed: bool, shift: int, per_trace, ids) -> bool:
        """Adds one chunk to the batch; False when sending has stopped."""
        chunk = entry.chunk
        req = ExportTraceServiceRequest.FromString(chunk.data)
        first = chunk.first
        if resumed and (entry.file, entry.record) == (start.file, start.record) and first < start.span:  # type: ignore[union-attr]
            _drop_first(req, start.span - first)  # type: ignore[union-attr]
            first = start.span  # type: ignore[union-attr]
        traces: dict[bytes, None] = {}
        n, due = _rewrite(req, shift, scan.full.traces, per_trace, ids, traces)
        if speed > 0:
            wait_s = (due - clock()) / 1e9
            if wait_s > 0:
                flush()  # what is due now goes out before waiting
                if stop.is_set():
                    return False
                sleep(wait_s)
        data = req.SerializeToString()
        batch.append(_Request(data, n, traces, Position(loop, entry.file, entry.record, first),
                              Position(loop, entry.file, entry.record, chunk.first + chunk.spans)))
        size[0] += n
        size[1] += len(data)
        if size[0] >= batch_spans or size[1] >= BATCH_BYTES:
            flush()
        return not stop.is_set()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-send") as pool:
        try:
            for loop in range(first_loop, loops + 1):
                resumed = start is not None and loop == start.loop
                timing = scan.rest if resumed else scan.full
                if timing.start > timing.end:  # no spans at all
                    continue
                now = clock()
                shift, per_trace = 0, None
                if speed == 0:
                    shift = now - timing.end
                elif speed == 1:
                    shift = now - timing.start
                else:
                    rec_start = timing.start
                    per_trace = lambda t0, now=now, rec_start=rec_start: now + int((t0 - rec_start) / speed) - t0  # noqa: E731
                ids = _Ids() if fresh_ids else None
                for entry in spool:
                    if resumed and entry.ends_before(start):  # type: ignore[arg-type]
                        continue
                    if not one(entry, loop, resumed, shift, per_trace, ids):
                        break
                flush()
                settle(0)
                if stop.is_set():
                    break
        except KeyboardInterrupt:
            summary.interrupted = True
            stop.set()
        settle(0)
        for req in outstanding:  # answered after a failure or an interrupt: Stopped
            req.future.cancel()  # type: ignore[union-attr]
    if stop.is_set():
        if outstanding:
            summary.next = outstanding[0].first
        elif batch:
            summary.next = batch[0].first
    else:
        summary.next = None
    summary.elapsed_s = time.monotonic() - started
    return summary


def unsent_traces(spool: Spool, at: Position, loops: int) -> int:
    """Traces with a span not sent: those from `at` to the end of its loop, plus every trace of
    each loop after it. Read from the spool after a replay stopped early."""
    def count(after: Position | None) -> int:
        book = TraceBook()
        try:
            for entry in spool:
                if after and entry.ends_before(after):
                    continue
                req = ExportTraceServiceRequest.FromString(entry.chunk.data)
                if after and (entry.file, entry.record) == (after.file, after.record) and entry.chunk.first < after.span:
                    _drop_first(req, after.span - entry.chunk.first)
                book.add(0, {s.trace_id: None for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans})
            return len(book)
        finally:
            book.close()
    return count(at) + ((loops - at.loop) * count(None) if loops > at.loop else 0)


# --- records held in memory -----------------------------------------------------------------

@dataclass
class Trace:
    trace_id: bytes
    spans: list[Span]


@dataclass
class Plan:
    """Spans of records held in memory, grouped by trace in order of first appearance (the
    fixtures' tests count with it; a replay streams instead)."""
    traces: list[Trace]

    @property
    def span_count(self) -> int:
        return sum(len(t.spans) for t in self.traces)


def plan(records: Iterable) -> Plan:
    by_trace: dict[bytes, Trace] = {}
    for rec in records:
        for rs in rec.request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    by_trace.setdefault(span.trace_id, Trace(span.trace_id, [])).spans.append(span)
    return Plan(list(by_trace.values()))

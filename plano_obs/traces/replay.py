"""The replay's second pass: the spooled chunks (spool.py) sent to a collector, with times moved
to now and fresh ids, and an exact account of what the collector acknowledged.

Timing: the gaps between trace starts are divided by `speed` and every span of a trace moves by
the same amount, so durations and offsets inside a trace are kept; all timestamps are shifted so
the recording ends as the replay ends (speed 0: nothing waits and the recording ends the moment
the replay starts). Records are sent in file order, each when its last span has ended on the
replay's clock, so no span lies in the future.

Ids: fresh ids are the recorded ones XORed with a random key drawn for each loop — the same
recorded id becomes the same new id in every record and file, without a table of ids in memory.

Times and ids are rewritten by patch.py: in the spooled bytes, a request's chunks at once, or,
for what a patch cannot serve, in protobuf messages.

Accounting: requests are answered in order. Each answer moves `next`, the first span not
acknowledged; when a request fails for good, nothing after it is sent, so everything from `next`
on is unsent, and a resumed replay (--resume) starts there."""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby
from typing import Callable, NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.errors import PlanoError
from plano_obs.traces import wire
from plano_obs.traces.account import Summary
from plano_obs.traces.patch import Ids, apply_all, drop_first, rewrite, trace_ids, usable
from plano_obs.traces.sender import Retry, SendError, Sender, Sent, Stopped, send_retrying
from plano_obs.traces.spool import Entry, Position, Scan, Spool

BATCH_SPANS = wire.MAX_SPANS
BATCH_BYTES = 3 << 20  # below the collector's 4 MiB a request
IN_FLIGHT = 2


class ReplayError(PlanoError):
    """Options a replay cannot use, or a collector that refused the data."""


@dataclass
class _Request:
    data: bytes
    spans: int
    traces: dict[bytes, None]
    first: Position  # of its first span
    end: Position  # just after its last span
    future: Future | None = None


class _Part(NamedTuple):
    """A chunk in the batch: rewritten already (`traces` set), or to patch when it is sent."""
    data: bytes
    spans: int
    traces: dict[bytes, None] | None
    patch: wire.Patch | None
    first: Position  # of its first span
    end: Position  # just after its last span


class _Sending:
    """One replay's second pass. Requests go out on one thread, in order, at most IN_FLIGHT
    queued while the next is built; answers are taken in the same order, so `summary.next` is
    always the first span not acknowledged."""

    def __init__(self, spool: Spool, scan: Scan, sender: Sender, speed: float, rate: float | None, retry: Retry,
                 fresh_ids: bool, start: Position | None, summary: Summary, progress: Callable[[int], None] | None,
                 batch_spans: int, clock: Callable[[], int], sleep: Callable[[float], None]) -> None:
        self.spool, self.scan, self.sender, self.speed, self.rate, self.retry = spool, scan, sender, speed, rate, retry
        self.fresh_ids = fresh_ids
        self.start, self.summary, self.progress, self.batch_spans = start, summary, progress, batch_spans
        self.clock, self.sleep = clock, sleep
        self.stop = retry.stop = retry.stop or threading.Event()
        self.started = time.monotonic()
        self.outstanding: deque[_Request] = deque()  # submitted, not yet answered, in order
        self.batch: list[_Part] = []  # built, not yet submitted
        self.batch_size = [0, 0]  # its spans and bytes
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-send")
        self.keep_times = False  # send the recorded timestamps (replay(keep_times=True))
        self.ids: Ids | None = None  # this loop's keys and shift, for the chunks patched as the batch is sent
        self.shift = 0

    def _job(self, data: bytes) -> Sent:
        try:
            return send_retrying(self.sender, data, self.retry)
        except BaseException:
            self.stop.set()  # nothing queued after a failure is sent
            raise

    def settle(self, limit: int) -> None:
        """Takes answers in order until at most `limit` requests are outstanding (or one failed)."""
        summary = self.summary
        while len(self.outstanding) > limit:
            req = self.outstanding[0]
            try:
                sent = req.future.result()  # type: ignore[union-attr]
            except SendError as err:
                summary.failure = summary.failure or err
                summary.retries += getattr(err, "retries", 0)
                self.stop.set()
                return
            except Stopped:
                self.stop.set()
                return
            self.outstanding.popleft()
            summary.requests += 1
            summary.spans += req.spans
            summary.rejected += sent.rejected
            summary.retries += sent.retries
            summary.next = req.end
            summary.book.add(req.first.loop, req.traces)
            if self.progress:
                self.progress(req.spans)

    def flush(self) -> None:
        """The batch becomes one request (the chunks' bytes joined: requests concatenate)."""
        batch = self.batch
        if not batch or self.stop.is_set():
            return
        n = self.batch_size[0]
        if self.rate:  # spans/s ceiling over the whole replay
            queued = self.summary.spans + sum(r.spans for r in self.outstanding) + n
            wait = self.started + queued / self.rate - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        traces: dict[bytes, None] = {}
        for patched, parts in groupby(batch, key=lambda p: p.patch is not None):  # the batch's trace ids, in order
            if patched:
                tids = b"".join(p.patch.trace_ids for p in parts)  # type: ignore[union-attr]
                traces.update(dict.fromkeys(trace_ids(tids, self.ids)))
            else:
                for p in parts:
                    traces.update(p.traces)  # type: ignore[arg-type]
        data = apply_all([(p.data, p.patch.selector if p.patch else None) for p in batch], self.shift, self.ids)
        req = _Request(data, n, traces, batch[0].first, batch[-1].end)
        req.future = self.pool.submit(self._job, req.data)
        self.outstanding.append(req)
        self.batch, self.batch_size = [], [0, 0]
        self.settle(IN_FLIGHT)

    def add(self, entry: Entry, loop: int, resumed: bool, shift: int, per_trace: Callable[[int], int] | None,
            ids: Ids | None) -> bool:
        """Rewrites one chunk into the batch (patch.py), waiting first when it is not due yet;
        False once sending has stopped."""
        chunk, start = entry.chunk, self.start
        first = chunk.first
        partial = resumed and (entry.file, entry.record) == (start.file, start.record) and first < start.span  # type: ignore[union-attr]
        if not (partial or per_trace) and usable(chunk, shift):  # patched when its request is sent
            data, traces, due, n, patch = chunk.data, None, chunk.end + shift, chunk.spans, chunk.patch
        else:
            patch = None
            req = ExportTraceServiceRequest.FromString(chunk.data)
            if partial:
                drop_first(req, start.span - first)  # type: ignore[union-attr]
                first = start.span  # type: ignore[union-attr]
            traces = {}
            n, due = rewrite(req, shift, self.scan.full.traces, per_trace, ids, traces)
            data = req.SerializeToString()
        if self.speed > 0:
            wait_s = (due - self.clock()) / 1e9
            if wait_s > 0:
                self.flush()  # what is due now goes out before waiting
                if self.stop.is_set():
                    return False
                self.sleep(wait_s)
        self.batch.append(_Part(data, n, traces, patch, Position(loop, entry.file, entry.record, first),
                                Position(loop, entry.file, entry.record, chunk.first + chunk.spans)))
        self.batch_size[0] += n
        self.batch_size[1] += len(data)
        if self.batch_size[0] >= self.batch_spans or self.batch_size[1] >= BATCH_BYTES:
            self.flush()
        return not self.stop.is_set()

    def loop(self, loop: int) -> None:
        """One pass over the spool: times shifted for this loop, ids drawn afresh."""
        resumed = self.start is not None and loop == self.start.loop
        timing = self.scan.rest if resumed else self.scan.full
        if timing.start > timing.end:  # no spans at all
            return
        now, speed = self.clock(), self.speed
        shift, per_trace = 0, None
        if self.keep_times:
            pass  # the recorded times, unchanged: a re-send of what a backend lost
        elif speed == 0:
            shift = now - timing.end
        elif speed == 1:
            shift = now - timing.start
        else:
            def per_trace(t0: int, rec_start: int = timing.start) -> int:
                return now + int((t0 - rec_start) / speed) - t0
        ids = self.ids = Ids() if self.fresh_ids else None
        self.shift = shift  # what flush() patches the batch's chunks with
        for entry in self.spool:
            if resumed and entry.ends_before(self.start):  # type: ignore[arg-type]
                continue
            if not self.add(entry, loop, resumed, shift, per_trace, ids):
                break
        self.flush()
        self.settle(0)

    def finish(self) -> None:
        """Waits for what is still out, then notes where the replay stands."""
        self.settle(0)
        for req in self.outstanding:  # queued behind a failure or an interrupt: Stopped
            req.future.cancel()  # type: ignore[union-attr]
        self.pool.shutdown(wait=True)
        summary = self.summary
        if not self.stop.is_set():
            summary.next = None
        elif self.outstanding:
            summary.next = self.outstanding[0].first
        elif self.batch:
            summary.next = self.batch[0].first
        summary.elapsed_s = time.monotonic() - self.started


def replay(spool: Spool, scan: Scan, sender: Sender, speed: float = 1.0, loops: int = 1, rate: float | None = None,
           fresh_ids: bool = True, retry: Retry | None = None, start: Position | None = None, keep_times: bool = False,
           progress: Callable[[int], None] | None = None, batch_spans: int = BATCH_SPANS,
           clock: Callable[[], int] = time.time_ns, sleep: Callable[[float], None] = time.sleep) -> Summary:
    """Sends the spool `loops` times (from `start` when resuming); returns the account. A request
    that fails for good, or Ctrl-C, ends the replay with `failure`/`interrupted` and `next` set."""
    if speed not in (0, 1) and scan.full.traces is None:
        raise ReplayError(f"--speed {speed:g} needs each trace's start: scan with trace_starts=True")
    first_loop = start.loop if start else 1
    summary = Summary(total_spans=scan.rest_spans + (loops - first_loop) * scan.spans, next=start or Position(1, 0, 1, 0))
    run = _Sending(spool, scan, sender, 0 if keep_times else speed, rate, retry or Retry(), fresh_ids, start, summary,
                   progress, batch_spans, clock, sleep)
    run.keep_times = keep_times
    try:
        for loop in range(first_loop, loops + 1):
            run.loop(loop)
            if run.stop.is_set():
                break
    except KeyboardInterrupt:
        summary.interrupted = True
        run.stop.set()
    run.finish()
    return summary

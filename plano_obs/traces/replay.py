"""Replays recorded traces into a collector over OTLP/gRPC or OTLP/HTTP.

Timing: each trace keeps its spans' durations and offsets; the gaps between trace starts are
divided by `speed`; every timestamp is shifted so the recording ends as the replay ends
(speed 0: no waiting, the recording ends the moment the replay starts). A trace is sent when
its last span has ended on the replay's clock, so no span lies in the future."""
from __future__ import annotations

import math
import os
import time
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

import grpc
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from ..errors import PlanoError
from .otlpjson import Record

PROTOCOLS = ("grpc", "http")
BATCH_SPANS = 2000
IN_FLIGHT = 2


class ReplayError(PlanoError):
    """The collector could not be reached or refused the request."""


@dataclass
class _Item:
    resource: int  # index into the resource table
    scope: int
    span: Span


@dataclass
class Trace:
    trace_id: bytes
    items: list[_Item]
    start: int
    end: int


@dataclass
class Plan:
    traces: list[Trace]
    resources: list  # Resource messages
    scopes: list  # (InstrumentationScope, schema_url)

    @property
    def span_count(self) -> int:
        return sum(len(t.items) for t in self.traces)


def plan(records: Iterable[Record]) -> Plan:
    """Groups every span of every record by trace (order of first appearance)."""
    resources, scopes, index_r, index_s = [], [], {}, {}
    by_trace: dict[bytes, list[_Item]] = defaultdict(list)
    for rec in records:
        for rs in rec.request.resource_spans:
            rkey = rs.resource.SerializeToString(deterministic=True) + rs.schema_url.encode()
            if rkey not in index_r:
                index_r[rkey] = len(resources)
                resources.append((rs.resource, rs.schema_url))
            for ss in rs.scope_spans:
                skey = ss.scope.SerializeToString(deterministic=True) + ss.schema_url.encode()
                if skey not in index_s:
                    index_s[skey] = len(scopes)
                    scopes.append((ss.scope, ss.schema_url))
                for span in ss.spans:
                    by_trace[span.trace_id].append(_Item(index_r[rkey], index_s[skey], span))
    traces = [Trace(tid, items, min(i.span.start_time_unix_nano for i in items),
                    max(max(i.span.end_time_unix_nano, i.span.start_time_unix_nano) for i in items))
              for tid, items in by_trace.items()]
    traces.sort(key=lambda t: t.end)
    return Plan(traces, resources, scopes)


def _schedule(p: Plan, speed: float, replay_start_ns: int) -> list[tuple[int, int, Trace]]:
    """(send time ns, timestamp shift ns, trace), ordered by send time."""
    if not p.traces:
        return []
    rec_start = min(t.start for t in p.traces)
    rec_end = max(t.end for t in p.traces)
    if speed == 0:
        shift = replay_start_ns - rec_end
        return [(replay_start_ns, shift, t) for t in p.traces]
    # whole nanoseconds: a trace is sent exactly when its last span ends, never before
    offsets = {id(t): int((t.start - rec_start) / speed) for t in p.traces}
    ends = [offsets[id(t)] + (t.end - t.start) for t in p.traces]
    span_ns = max(ends)  # the replay's length
    out = []
    for t, end_offset in zip(p.traces, ends):
        new_start = replay_start_ns + offsets[id(t)]
        out.append((replay_start_ns + end_offset, new_start - t.start, t))
    out.sort(key=lambda x: x[0])
    assert out[-1][0] == replay_start_ns + span_ns
    return out


def _rewrite(trace: Trace, shift: int, fresh_ids: bool, copy: bool = True) -> tuple[bytes, list[tuple[int, int, Span]]]:
    """The trace's spans with shifted times and (optionally) new ids, links kept; edited in
    place when the plan is sent only once (copy=False), else on copies."""
    new_tid = os.urandom(16) if fresh_ids else trace.trace_id
    ids: dict[bytes, bytes] = {}

    def span_id(old: bytes) -> bytes:
        if not fresh_ids or not old:
            return old
        if old not in ids:
            ids[old] = os.urandom(8)
        return ids[old]

    out = []
    for item in trace.items:
        if copy:
            s = Span()
            s.CopyFrom(item.span)
        else:
            s = item.span
        s.trace_id = new_tid
        s.span_id = span_id(s.span_id)
        s.parent_span_id = span_id(s.parent_span_id)
        s.start_time_unix_nano = max(0, s.start_time_unix_nano + shift)
        s.end_time_unix_nano = max(0, s.end_time_unix_nano + shift)
        for ev in s.events:
            ev.time_unix_nano = max(0, ev.time_unix_nano + shift)
        for link in s.links:
            if link.trace_id == trace.trace_id:
                link.trace_id = new_tid
                link.span_id = span_id(link.span_id)
        out.append((item.resource, item.scope, s))
    return new_tid, out


def _request(p: Plan, spans: list[tuple[int, int, Span]]) -> ExportTraceServiceRequest:
    """One request, spans grouped under their resource and scope as recorded."""
    req = ExportTraceServiceRequest()
    by_resource: dict[int, ResourceSpans] = {}
    by_scope: dict[tuple[int, int], ScopeSpans] = {}
    for r, sc, span in spans:
        if r not in by_resource:
            rs = req.resource_spans.add()
            rs.resource.CopyFrom(p.resources[r][0])
            rs.schema_url = p.resources[r][1]
            by_resource[r] = rs
        if (r, sc) not in by_scope:
            ss = by_resource[r].scope_spans.add()
            ss.scope.CopyFrom(p.scopes[sc][0])
            ss.schema_url = p.scopes[sc][1]
            by_scope[(r, sc)] = ss
        by_scope[(r, sc)].spans.append(span)
    return req


class Sender:
    """One OTLP client: gRPC (TraceService/Export) or HTTP (POST /v1/traces, protobuf)."""

    def __init__(self, endpoint: str, protocol: str, timeout: float = 10.0) -> None:
        if protocol not in PROTOCOLS:
            raise ReplayError(f"unknown protocol {protocol!r}", f"use one of {', '.join(PROTOCOLS)}")
        self.endpoint, self.protocol, self.timeout = endpoint, protocol, timeout
        if protocol == "grpc":
            self.channel = grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 << 20)])
            self.stub = trace_service_pb2_grpc.TraceServiceStub(self.channel)
        else:
            base = endpoint if endpoint.startswith(("http://", "https://")) else f"http://{endpoint}"
            self.url = base.rstrip("/") + ("" if base.endswith("/v1/traces") else "/v1/traces")
            self.session = requests.Session()

    def send(self, req: ExportTraceServiceRequest) -> int:
        """Sends one request; returns the spans the collector reported as rejected."""
        if self.protocol == "grpc":
            try:
                resp = self.stub.Export(req, timeout=self.timeout)
            except grpc.RpcError as err:
                raise ReplayError(f"OTLP/gRPC export to {self.endpoint} failed: {err.code().name}: {err.details()}",
                                  "is the stack up (`invoke status`)? is the endpoint right (--endpoint)?") from err
        else:
            try:
                r = self.session.post(self.url, data=req.SerializeToString(), timeout=self.timeout,
                                      headers={"Content-Type": "application/x-protobuf"})
            except requests.RequestException as err:
                raise ReplayError(f"OTLP/HTTP export to {self.url} failed: {type(err).__name__}",
                                  "is the stack up (`invoke status`)? is the endpoint right (--endpoint)?") from err
            if r.status_code != 200:
                raise ReplayError(f"OTLP/HTTP export to {self.url} answered HTTP {r.status_code}: {r.text[:200]}",
                                  "check the collector's log (`invoke logs collector`)")
            resp = ExportTraceServiceResponse()
            resp.ParseFromString(r.content)
        return resp.partial_success.rejected_spans if resp.HasField("partial_success") else 0

    def close(self) -> None:
        if self.protocol == "grpc":
            self.channel.close()
        else:
            self.session.close()


@dataclass
class Summary:
    traces: int = 0
    spans: int = 0
    rejected: int = 0
    requests: int = 0
    elapsed_s: float = 0.0
    trace_ids: list[str] = field(default_factory=list)

    @property
    def spans_per_s(self) -> float:
        return self.spans / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {"traces": self.traces, "spans": self.spans, "rejected_spans": self.rejected,
                "requests": self.requests, "elapsed_s": round(self.elapsed_s, 3),
                "spans_per_s": round(self.spans_per_s, 1), "trace_ids": self.trace_ids}


def replay(p: Plan, sender: Sender, speed: float = 1.0, loops: int = 1, rate: float | None = None,
           fresh_ids: bool = True, progress: Callable[[int], None] | None = None,
           batch_spans: int = BATCH_SPANS, clock: Callable[[], int] = time.time_ns,
           sleep: Callable[[float], None] = time.sleep) -> Summary:
    """Sends the plan `loops` times; returns what was sent and what the collector rejected."""
    # the task layer reads these from the command line (tasks/options.py); this guards callers in Python
    if not (math.isfinite(speed) and speed >= 0):
        raise ReplayError(f"--speed must be a number, 0 or more, got {speed}", "0 sends everything at once")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ReplayError(f"--rate must be a number above 0, got {rate}")
    if loops < 1:
        raise ReplayError(f"--loop must be a whole number, 1 or more, got {loops}")
    summary = Summary()
    started = time.monotonic()
    pending: list[tuple[int, int, Span]] = []
    # One request is on the wire while the next is built (gRPC and HTTP release the GIL);
    # at most IN_FLIGHT requests are queued, which bounds memory.
    in_flight: deque[Future] = deque()

    def settle(limit: int) -> None:
        while len(in_flight) > limit:
            fut = in_flight.popleft()
            n, rejected = fut.result()  # re-raises the sender's error
            summary.rejected += rejected
            summary.requests += 1
            summary.spans += n
            if progress:
                progress(n)

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        if rate:  # spans/s ceiling over the whole replay
            queued = summary.spans + sum(getattr(f, "spans", 0) for f in in_flight) + len(pending)
            wait = started + queued / rate - time.monotonic()
            if wait > 0:
                sleep(wait)
        req, n = _request(p, pending), len(pending)
        fut = pool.submit(lambda: (n, sender.send(req)))
        fut.spans = n  # type: ignore[attr-defined]
        in_flight.append(fut)
        pending = []
        settle(IN_FLIGHT)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="otlp-send") as pool:
        for loop in range(loops):
            for send_at, shift, trace in _schedule(p, speed, clock()):
                wait_s = (send_at - clock()) / 1e9
                if wait_s > 0:
                    flush()  # what is due now goes out before waiting
                    sleep(wait_s)
                new_tid, spans = _rewrite(trace, shift, fresh_ids, copy=loops > 1)
                summary.traces += 1
                summary.trace_ids.append(new_tid.hex())
                pending += spans
                if len(pending) >= batch_spans:
                    flush()
            flush()
        settle(0)
    summary.elapsed_s = time.monotonic() - started
    return summary

"""Records held in memory as traces: for tests and fixtures that count spans by trace (a replay
streams instead)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from opentelemetry.proto.trace.v1.trace_pb2 import Span


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

"""Test helpers over whole files in memory: a file's records (`load`), and its spans grouped by
trace (`plan`). The product streams instead (otlpjson.records, the spool); only tests and the
fixtures' checks hold a file whole."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from plano_obs.traces import otlpjson


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


def load(path: Path) -> list[otlpjson.Record]:
    """All records of one file, or OtlpFileError for the first bad one."""
    return [otlpjson.parse_record(data, path, where) for _, where, data in otlpjson.records(path)]

"""What a replay did with the spans it set out to send: the summary the task prints (--json
included), and the traces a stopped replay did not send, counted from the spool."""
from __future__ import annotations

from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.traces.book import TraceBook
from plano_obs.traces.patch import drop_first
from plano_obs.traces.sender import SendError
from plano_obs.traces.spool import Position, Spool


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
                    drop_first(req, after.span - entry.chunk.first)
                book.add(0, {s.trace_id: None for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans})
            return len(book)
        finally:
            book.close()
    return count(at) + ((loops - at.loop) * count(None) if loops > at.loop else 0)

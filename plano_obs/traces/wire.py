"""Protobuf's wire format as the replay writes it: chunks of whole spans, and beside each chunk a
patch — where its ids and times lie — so the second pass moves times and ids by rewriting bytes
(patch.py) instead of parsing the chunk again.

A chunk is an ExportTraceServiceRequest's bytes holding at most `max_spans` spans (and about
`max_bytes`) of one record, in the record's order; serialized requests concatenate into one
request, so chunks are joined into requests without being parsed again. Spans are encoded from
OTLP/JSON by encoder.py; requests already parsed (protobuf's exact JSON parser, synthetic
traffic) are cut by `message_chunks` into the same chunks, without a patch."""
from __future__ import annotations

from dataclasses import dataclass
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

MAX_SPANS = 2000  # spans in a chunk (and, by default, in a request)
MAX_BYTES = 1 << 20  # a chunk is cut once it holds this much; the collector takes 4 MiB a request
U64 = 1 << 64

# The selector: one byte for each byte of a chunk, saying what the second pass does to it.
KEPT, TRACE_ID, SPAN_ID, TIME = 0, 1, 17, 25  # TRACE_ID + i: a trace id's byte i; SPAN_ID + i; TIME: a fixed64's first byte
SEL_TRACE_ID = bytes(range(TRACE_ID, TRACE_ID + 16))
SEL_SPAN_ID = bytes(range(SPAN_ID, SPAN_ID + 8))
SEL_TIME = bytes((TIME,)) + bytes(7)


class Unusual(Exception):
    """This record needs protobuf's exact parser (an unusual shape, or an error to word)."""


@dataclass
class Patch:
    """Where a chunk's ids and times lie: `selector` has a byte for each of the chunk's (see SEL_*;
    not compressed: zlib costs more than parsing for the small chunks of small records); `trace_ids`
    its distinct trace ids, 16 bytes each, in order; `low` and `high` the smallest and largest
    time it holds (a move that would take one below 0 or past 2^64 is left to the exact path)."""
    selector: bytes
    trace_ids: bytes
    low: int
    high: int


@dataclass
class Chunk:
    """Up to `spans` spans of one record: `first` is the index of its first span in the record;
    `start` the first start, `end` the last end (or start, when a span ends before it starts)."""
    data: bytes
    spans: int
    first: int = 0
    start: int = U64
    end: int = 0
    patch: Patch | None = None


@dataclass
class Timing:
    """What the schedule needs from the spans read: the first start, the last end and, when asked
    for (`traces` is a dict), each trace's first start."""
    start: int = U64
    end: int = 0
    traces: dict[bytes, int] | None = None

    def add(self, start: int, end: int) -> None:
        if start < self.start:
            self.start = start
        if end > self.end:
            self.end = end


def varint(n: int) -> bytes:
    if n < 0x4000:
        try:
            return _VARINTS[n]
        except IndexError:  # the first call: the table is made (10 ms a replay that parses nothing would pay)
            _VARINTS[:] = [bytes((i,)) for i in range(0x80)] + \
                [bytes(((i & 0x7F) | 0x80, i >> 7)) for i in range(0x80, 0x4000)]
            return _VARINTS[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_VARINTS: list[bytes] = []  # the varints below 2^14


def field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field: tag byte, length, payload."""
    n = len(payload)
    return bytes((tag, n)) + payload if n < 0x80 else bytes((tag,)) + varint(n) + payload


class Cutter:
    """Collects encoded spans under their resource and scope headers, keeping the record's
    structure; cuts a chunk when it is full, repeating the open resource and scope at the start
    of the next one. The encoder updates the open chunk's `start`, `end`, `low`, `high` and
    `trace_ids` as it adds spans; `patched` cutters also take each span's selector."""

    def __init__(self, max_spans: int, max_bytes: int, patched: bool = True) -> None:
        self.max_spans, self.max_bytes, self.patched = max_spans, max_bytes, patched
        self.out: list[Chunk] = []
        self.groups: list[tuple[int, bytes, bytes, list[bytes], list[bytes]]] = []  # (resource number, headers, spans, selectors)
        self.spans: list[bytes] = []
        self.sels: list[bytes] = []
        self.resource = 0
        self.count = self.size = self.total = 0
        self._open()

    def _open(self) -> None:
        self.start, self.end, self.low, self.high = U64, 0, U64, 0
        self.trace_ids: dict[bytes, None] = {}

    def group(self, header: bytes, scope_header: bytes, new_resource: bool = True) -> None:
        """A ScopeSpans, in a new ResourceSpans unless `new_resource` is False."""
        self.resource += new_resource
        self.spans, self.sels = [], []
        self.groups.append((self.resource, header, scope_header, self.spans, self.sels))

    def add(self, span: bytes, sel: bytes | None = None) -> None:
        self.spans.append(span)
        if sel is not None:
            self.sels.append(sel)
        self.count += 1
        self.size += len(span)
        if self.count >= self.max_spans or self.size >= self.max_bytes:
            self._cut()

    def _cut(self) -> None:
        if self.count:
            data, sel = self._join()
            patch = None
            if self.patched:
                patch = Patch(sel, b"".join(self.trace_ids), min(self.low, self.start), max(self.high, self.end))
            self.out.append(Chunk(data, self.count, self.total, self.start, self.end, patch))
            self.total += self.count
        last = self.groups[-1] if self.groups else None
        self.groups, self.count, self.size = [], 0, 0
        self._open()
        if last:
            self.resource -= 1
            self.group(last[1], last[2])  # the same resource and scope go on in the next chunk

    def _join(self) -> tuple[bytes, bytes]:
        """The open chunk's bytes and selector, each joined once from its pieces: the groups'
        headers (their lengths worked out first) and the spans."""
        resources: list[tuple[int, bytes, list]] = []  # (number, header, [(scope header, spans, selectors)])
        for number, header, scope_header, spans, sels in self.groups:
            if spans:
                if not resources or resources[-1][0] != number:
                    resources.append((number, header, []))
                resources[-1][2].append((scope_header, spans, sels))
        parts: list[bytes] = []
        sel_parts: list[bytes] = []
        zeros = 0  # selector bytes owed for the headers since the last span
        for _, header, scopes in resources:
            heads, size = [], len(header)
            for scope_header, spans, _ in scopes:
                n = len(scope_header) + sum(map(len, spans))
                head = (bytes((0x12, n)) if n < 0x80 else b"\x12" + varint(n)) + scope_header
                heads.append(head)
                size += len(head) - len(scope_header) + n
            head = (bytes((0x0A, size)) if size < 0x80 else b"\x0a" + varint(size)) + header
            parts.append(head)
            zeros += len(head)
            for head, (_, spans, sels) in zip(heads, scopes):
                parts.append(head)
                parts += spans
                if self.patched:
                    sel_parts.append(bytes(zeros + len(head)))
                    sel_parts += sels
                    zeros = 0
        data = b"".join(parts)
        del parts  # a huge record's spans are let go before its selector is joined
        for group in self.groups:
            group[3].clear()
        return data, b"".join(sel_parts)

    def done(self) -> list[Chunk]:
        self._cut()
        return self.out


def message_chunks(request: ExportTraceServiceRequest, traces: dict[bytes, int] | None = None,
                   max_spans: int = MAX_SPANS, max_bytes: int = MAX_BYTES) -> list[Chunk]:
    """The same chunks from a parsed request (the exact parser's result, or synthetic traffic),
    without patches: the second pass parses these. `traces` gets each trace's first start."""
    cut = Cutter(max_spans, max_bytes, patched=False)
    for rs in request.resource_spans:
        header = field(0x0A, rs.resource.SerializeToString()) + (field(0x1A, rs.schema_url.encode()) if rs.schema_url else b"")
        for k, ss in enumerate(rs.scope_spans):
            scope_header = field(0x0A, ss.scope.SerializeToString()) + (field(0x1A, ss.schema_url.encode()) if ss.schema_url else b"")
            cut.group(header, scope_header, new_resource=k == 0)
            for span in ss.spans:
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                cut.start = min(cut.start, start)
                cut.end = max(cut.end, end, start)
                if traces is not None:
                    first = traces.get(span.trace_id)
                    traces[span.trace_id] = start if first is None else min(first, start)
                cut.add(field(0x12, span.SerializeToString()))
    return cut.done()

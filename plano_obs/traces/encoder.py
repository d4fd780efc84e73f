"""OTLP/JSON records straight to protobuf wire bytes, with each span's selector (wire.py).

Why not protobuf objects: building a Span with its attributes from JSON costs about 60 µs in
Python; writing its wire format directly, with repeated attributes and names cached, costs a
fraction of that, and the replay parses every span once. Only the shapes the collector's file
exporter writes are handled here (values.py); anything else raises `Unusual` and goes through
protobuf's exact JSON parser (otlpjson), which also words the errors, and its result is cut by
`wire.message_chunks` into the same chunks."""
from __future__ import annotations

import struct
from typing import Callable, Iterable, Iterator

import orjson

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from plano_obs.traces.spanparts import SEL_IDS, dropped, rest
from plano_obs.traces.values import attributes, digits, text
from plano_obs.traces.wire import MAX_BYTES, MAX_SPANS, SEL_SPAN_ID, SEL_TIME, Chunk, Cutter, Unusual, field, varint

_CACHE_LIMIT = 8192  # names and scopes remembered; forgotten when full, so memory stays bounded
_ZERO16, _ZERO8 = bytes(16), bytes(8)
_times = struct.Struct("<BQBQ").pack  # start and end, tags included
_KINDS = dict(Span.SpanKind.items())
_KIND_FIELD = [bytes((0x30, k)) for k in range(6)]
_SPAN_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "traceState", "name", "kind", "startTimeUnixNano",
                        "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount",
                        "links", "droppedLinksCount", "status", "flags"})
_COMMON_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "traceState", "name", "kind", "startTimeUnixNano",
                          "endTimeUnixNano", "attributes"})
_SCOPE_KEYS = frozenset({"name", "version", "attributes", "droppedAttributesCount"})
_RS_KEYS = frozenset({"resource", "scopeSpans", "schemaUrl"})
_SS_KEYS = frozenset({"scope", "spans", "schemaUrl"})
_RESOURCE_KEYS = frozenset({"attributes", "droppedAttributesCount"})
# selectors of a span's first fields: 0a 10 <trace id> 12 08 <span id> [22 08 <parent id>]
_SEL_PARENT = b"\0\0" + SEL_SPAN_ID
_SEL_TIMES = b"\0" + SEL_TIME + b"\0" + SEL_TIME
_WRONG_SHAPE = (KeyError, TypeError, ValueError, AttributeError, struct.error)


class Encoder:
    """Encodes records; keeps caches of repeated attributes and names between records."""

    def __init__(self, max_spans: int = MAX_SPANS, max_bytes: int = MAX_BYTES) -> None:
        self.max_spans, self.max_bytes = max_spans, max_bytes
        self._span_attrs: dict = {}
        self._other_attrs: dict[int, dict] = {0x0A: {}, 0x1A: {}, 0x22: {}}
        self._names: dict[str, bytes] = {}
        self._headers: dict[bytes, bytes] = {}
        self._last_id: tuple[object, bytes] = (None, b"")  # the last trace id read, as text and bytes

    def chunks(self, data: object, traces: dict[bytes, int] | None = None) -> list[Chunk]:
        """The record's spans as chunks, in order, or Unusual (then `traces` may hold some of the
        record's first starts: the exact parser's result is timed again, which changes nothing)."""
        try:
            if data.__class__ is not dict or data.keys() != {"resourceSpans"}:  # type: ignore[attr-defined]
                raise Unusual
            resource_spans = data["resourceSpans"]  # type: ignore[index]
            if resource_spans.__class__ is not list:
                raise Unusual
            cut = Cutter(self.max_spans, self.max_bytes)
            for rs in resource_spans:
                self._resource_span(rs, cut, traces)
            return cut.done()
        except _WRONG_SHAPE:  # a wrong type somewhere
            raise Unusual from None

    def chunks_from(self, resource_spans: Iterable[object], traces: dict[bytes, int] | None = None) -> Iterator[Chunk]:
        """The same for a record's resourceSpans given one by one (a huge record, parsed as it
        is encoded: otlpjson.Big), each chunk given as soon as it is cut, so the record's chunks
        are never all in memory. Unusual may come after some chunks: they are then void."""
        cut = Cutter(self.max_spans, self.max_bytes)
        try:
            for rs in resource_spans:
                self._resource_span(rs, cut, traces)
                while cut.out:
                    yield cut.out.pop(0)
            yield from cut.done()
        except _WRONG_SHAPE:
            raise Unusual from None

    def _resource_span(self, rs: object, cut: Cutter, traces: dict | None) -> None:
        if rs.__class__ is not dict or not rs.keys() <= _RS_KEYS:  # type: ignore[attr-defined]
            raise Unusual
        header = self._header(rs, "resource", self._resource)  # type: ignore[arg-type]
        scope_spans = rs.get("scopeSpans", [])  # type: ignore[attr-defined]
        if scope_spans.__class__ is not list:
            raise Unusual
        span = self._span
        for k, ss in enumerate(scope_spans):
            if ss.__class__ is not dict or not ss.keys() <= _SS_KEYS:
                raise Unusual
            spans = ss.get("spans", [])
            if spans.__class__ is not list:
                raise Unusual
            cut.group(header, self._header(ss, "scope", self._scope), new_resource=k == 0)
            for d in spans:
                span(d, cut, traces)

    def _span(self, d: dict, cut: Cutter, traces: dict | None) -> None:
        """One Span as ScopeSpans' `spans` field (tag 0x12), with its selector, into `cut`. The
        hot path: checks inline."""
        if d.__class__ is not dict:
            raise Unusual
        common = d.keys() <= _COMMON_KEYS
        if not common and not d.keys() <= _SPAN_KEYS:
            raise Unusual  # an unknown field: the exact parser names it
        text_id, sid = d["traceId"], d["spanId"]  # KeyError: no id, the exact parser words it
        if text_id == self._last_id[0] and text_id.__class__ is str:  # a record's spans share their trace
            tid = self._last_id[1]
        else:
            if len(text_id) != 32:
                raise Unusual
            tid = bytes.fromhex(text_id)  # ValueError, TypeError: not hex, not text
            if len(tid) != 16 or tid == _ZERO16:
                raise Unusual  # whitespace inside, or the all-zero id OTLP reserves
            self._last_id = (text_id, tid)
        if len(sid) != 16:
            raise Unusual
        sid = bytes.fromhex(sid)
        if len(sid) != 8 or sid == _ZERO8:
            raise Unusual
        head = b"\x0a\x10" + tid + b"\x12\x08" + sid
        sel_head = SEL_IDS
        get = d.get
        if "traceState" in d and d["traceState"] != "":
            ts = field(0x1A, text(d["traceState"]))
            head += ts
            sel_head += bytes(len(ts))
        parent = get("parentSpanId")
        if parent:
            if len(parent) != 16:
                raise Unusual
            raw = bytes.fromhex(parent)
            if len(raw) != 8:
                raise Unusual
            head += b"\x22\x08" + raw
            sel_head += _SEL_PARENT
        elif parent is not None and parent != "":
            raise Unusual
        name = get("name")
        if name is not None:
            b = self._names.get(name)
            head += b if b is not None else self._name(name)
        kind = get("kind")
        if kind:
            if kind.__class__ is str:
                kind = _KINDS.get(kind)
            if kind.__class__ is not int or not 0 <= kind <= 5:
                raise Unusual
            head += _KIND_FIELD[kind]
        start, end = get("startTimeUnixNano", 0), get("endTimeUnixNano", 0)
        if start.__class__ is not int:
            start = digits(start)
        if end.__class__ is not int:
            end = digits(end)
        parts = [b"", head, _times(0x39, start, 0x41, end)]  # struct.error: below 0 or past 2^64
        attrs = get("attributes")
        if attrs:
            parts += attributes(attrs, 0x4A, self._span_attrs)
        elif attrs is not None and attrs != []:
            raise Unusual
        sels = [b"", sel_head, bytes(len(head) - len(sel_head)), _SEL_TIMES]
        if not common:
            rest(d, parts, sels, tid, cut, self._other_attrs)
        n = sum(map(len, parts))
        sels.append(bytes(n - (len(head) + 18 if common else sum(map(len, sels)))))  # what is kept as it is
        parts[0] = bytes((0x12, n)) if n < 0x80 else b"\x12" + varint(n)  # the field's tag and length
        sels[0] = bytes(len(parts[0]))
        # the schedule's view: the first start, the last end (a span ending before it starts
        # counts at its start, and its end is the chunk's lowest time), each trace's first start
        if start < cut.start:
            cut.start = start
        if end > start:
            if end > cut.end:
                cut.end = end
        else:
            if start > cut.end:
                cut.end = start
            if end < cut.low:
                cut.low = end
        cut.trace_ids[tid] = None
        if traces is not None:
            first = traces.get(tid)
            if first is None or start < first:
                traces[tid] = start
        cut.add(b"".join(parts), b"".join(sels))

    def _name(self, v: object) -> bytes:
        b = self._names.get(v)  # type: ignore[arg-type]
        if b is None:
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            b = self._names[v] = field(0x2A, text(v)) if v else b""  # type: ignore[index]
        return b

    def _header(self, d: dict, part: str, encode: Callable[[dict], bytes]) -> bytes:
        """A resource's or a scope's encoding (with the schema URL beside it), remembered by its
        JSON text: the same few repeat in every record. Only what reads back as it was is kept
        (NaN and infinities are written as null)."""
        key = orjson.dumps((part, d.get(part), d.get("schemaUrl")))
        b = self._headers.get(key)
        if b is None:
            b = encode(d)
            if orjson.loads(key)[1:] == [d.get(part), d.get("schemaUrl")]:
                if len(self._headers) >= _CACHE_LIMIT:
                    self._headers.clear()
                self._headers[key] = b
        return b

    def _resource(self, rs: dict) -> bytes:
        """ResourceSpans' fields other than its spans: the resource and its schema URL."""
        resource = rs.get("resource")
        body = b""
        if resource:
            if resource.__class__ is not dict or not resource.keys() <= _RESOURCE_KEYS:
                raise Unusual
            attrs = resource.get("attributes")
            if attrs:
                body = b"".join(attributes(attrs, 0x0A, self._other_attrs[0x0A]))
            if "droppedAttributesCount" in resource:
                body += dropped(resource, "droppedAttributesCount", b"\x10")
        elif resource is not None and resource != {}:
            raise Unusual
        header = field(0x0A, body)
        return header + field(0x1A, text(rs["schemaUrl"])) if rs.get("schemaUrl") else header

    def _scope(self, ss: dict) -> bytes:
        """ScopeSpans' fields other than its spans."""
        scope = ss.get("scope")
        if not scope:
            if scope is not None and scope != {}:
                raise Unusual
            body = b""
        else:
            if scope.__class__ is not dict or not scope.keys() <= _SCOPE_KEYS:
                raise Unusual
            name, version = scope.get("name"), scope.get("version")
            body = field(0x0A, text(name)) if name else b""
            body += field(0x12, text(version)) if version else b""
            if "attributes" in scope:
                body += b"".join(attributes(scope["attributes"], 0x1A, self._other_attrs[0x1A]))
            if "droppedAttributesCount" in scope:
                body += dropped(scope, "droppedAttributesCount", b"\x20")
        header = field(0x0A, body)
        return header + field(0x1A, text(ss["schemaUrl"])) if ss.get("schemaUrl") else header

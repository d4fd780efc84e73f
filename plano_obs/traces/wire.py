"""OTLP/JSON records straight to protobuf wire bytes, cut into chunks of whole spans.

Why not protobuf objects: building a Span with its attributes from JSON costs about 60 µs in
Python; writing its wire format directly, with the encoding of each repeated attribute cached,
costs about a third of that, and the replay parses every span once. Only the shapes the
collector's file exporter writes are handled here (scalar attribute values, hex ids, integer
or named enums, 64-bit integers as numbers or digit strings); anything else raises `Unusual`
and goes through protobuf's exact JSON parser (otlpjson), which also words the errors, and its
result is cut by `message_chunks` into the same chunks.

A chunk is an ExportTraceServiceRequest's bytes holding at most `max_spans` spans (and about
`max_bytes`) of one record, in the record's order; serialized requests concatenate into one
request, so chunks are joined into requests without being parsed again."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MAX_SPANS = 2000  # spans in a chunk (and, by default, in a request)
MAX_BYTES = 1 << 20  # a chunk is cut once it holds this much; the collector takes 4 MiB a request
_U64 = 1 << 64
_I64 = 1 << 63
_CACHE_LIMIT = 8192  # cached encodings of attributes and names; cleared when full: memory stays bounded

_ZERO16, _ZERO8 = bytes(16), bytes(8)
_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_double = struct.Struct("<d").pack
_KINDS = dict(Span.SpanKind.items())
_CODES = dict(Status.StatusCode.items())
_KIND_FIELD = [bytes((0x30, k)) for k in range(6)]
_SPAN_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "traceState", "name", "kind", "startTimeUnixNano",
                        "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount",
                        "links", "droppedLinksCount", "status", "flags"})
_COMMON_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "traceState", "name", "kind", "startTimeUnixNano",
                          "endTimeUnixNano", "attributes"})
_EVENT_KEYS = frozenset({"timeUnixNano", "name", "attributes", "droppedAttributesCount"})
_LINK_KEYS = frozenset({"traceId", "spanId", "traceState", "attributes", "droppedAttributesCount", "flags"})
_SCOPE_KEYS = frozenset({"name", "version", "attributes", "droppedAttributesCount"})
_RS_KEYS = frozenset({"resource", "scopeSpans", "schemaUrl"})
_SS_KEYS = frozenset({"scope", "spans", "schemaUrl"})
_RESOURCE_KEYS = frozenset({"attributes", "droppedAttributesCount"})


class Unusual(Exception):
    """This record needs protobuf's exact parser (an unusual shape, or an error to word)."""


@dataclass
class Chunk:
    """Up to `spans` spans of one record: `first` is the index of its first span in the record."""
    data: bytes
    spans: int
    first: int = 0


@dataclass
class Timing:
    """What the schedule needs from the spans encoded: the first start, the last end and,
    when asked for (`traces` is a dict), each trace's first start."""
    start: int = _U64
    end: int = 0
    traces: dict[bytes, int] | None = None


def varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field: tag byte, length, payload."""
    n = len(payload)
    return bytes((tag, n)) + payload if n < 0x80 else bytes((tag,)) + varint(n) + payload


def _uint(v: object, limit: int) -> int:
    if v.__class__ is int:
        n = v
    elif v.__class__ is str and v.isascii() and v.isdigit():
        n = int(v)
    else:
        raise Unusual
    if not 0 <= n < limit:  # type: ignore[operator]
        raise Unusual
    return n  # type: ignore[return-value]


def _digits(v: object) -> int:
    """A 64-bit integer written as a string of digits (OTLP/JSON's usual form)."""
    if v.__class__ is not str or not (v.isascii() and v.isdigit()):  # type: ignore[union-attr]
        raise Unusual
    return int(v)  # type: ignore[arg-type]


def _id(v: object, size: int) -> bytes:
    if v.__class__ is not str or len(v) != 2 * size:  # type: ignore[arg-type]
        raise Unusual
    try:
        raw = bytes.fromhex(v)  # type: ignore[arg-type]
    except ValueError:
        raise Unusual from None
    if len(raw) != size or not any(raw):  # whitespace inside, or the reserved all-zero id
        raise Unusual
    return raw


def _text(v: object) -> bytes:
    if v.__class__ is not str:
        raise Unusual
    try:
        return v.encode()  # type: ignore[union-attr]
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
        raise Unusual from None


def _any_value(kind: str, raw: object) -> bytes:
    """AnyValue's bytes (a oneof: written even when it holds the default)."""
    if kind == "stringValue":
        return field(0x0A, _text(raw))
    if kind == "intValue":
        if raw.__class__ is int:
            n = raw
        elif raw.__class__ is str and raw.lstrip("-").isascii() and raw.lstrip("-").isdigit() and raw.count("-") <= 1 \
                and not raw.startswith("-", 1):
            n = int(raw)
        else:
            raise Unusual
        if not -_I64 <= n < _I64:  # type: ignore[operator]
            raise Unusual
        return b"\x18" + varint(n % _U64)  # type: ignore[operator]
    if kind == "boolValue" and raw.__class__ is bool:
        return b"\x10\x01" if raw else b"\x10\x00"
    if kind == "doubleValue" and raw.__class__ in (int, float):
        return b"\x21" + _double(raw)
    raise Unusual  # arrays, maps, bytes, an empty value, or a wrong type: the exact parser decides


def _attributes(items: object, tag: int, cache: dict) -> list[bytes]:
    """Each KeyValue as a field with `tag`. String and bool values are cached by (key, value);
    numbers (often unique: sizes, token counts) are written afresh, after their cached key."""
    if items.__class__ is not list:
        raise Unusual
    keys = cache.setdefault(None, {})  # key → its encoded field
    out = []
    for kv in items:  # type: ignore[attr-defined]
        try:
            if len(kv) != 2:
                raise Unusual
            k = kv["key"]
            (kind, raw), = kv["value"].items()
        except (KeyError, ValueError, TypeError, AttributeError):
            raise Unusual from None
        if kind == "stringValue" and raw.__class__ is str:
            b = cache.get((k, raw))
            if b is None:
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                    keys = cache[None] = {}
                kp = keys.get(k) or keys.setdefault(k, field(0x0A, _text(k)))
                b = cache[(k, raw)] = field(tag, kp + field(0x12, field(0x0A, _text(raw))))
        else:
            kp = keys.get(k) or keys.setdefault(k, field(0x0A, _text(k)))
            if kind == "intValue" and raw.__class__ is int and -_I64 <= raw < _I64:
                v = varint(raw % _U64)
                body = kp + bytes((0x12, len(v) + 1, 0x18)) + v
            else:
                body = kp + field(0x12, _any_value(kind, raw))
            n = len(body)
            b = (bytes((tag, n)) if n < 0x80 else bytes((tag,)) + varint(n)) + body
        out.append(b)
    return out


class Encoder:
    """Encodes records; keeps caches of repeated attributes and names between records."""

    def __init__(self, max_spans: int = MAX_SPANS, max_bytes: int = MAX_BYTES) -> None:
        self.max_spans, self.max_bytes = max_spans, max_bytes
        self._span_attrs: dict = {}
        self._other_attrs: dict[int, dict] = {0x0A: {}, 0x1A: {}, 0x22: {}}
        self._names: dict[str, bytes] = {}
        self._scopes: dict[tuple, bytes] = {}

    def _name(self, v: object) -> bytes:
        b = self._names.get(v)  # type: ignore[arg-type]
        if b is None:
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            b = self._names[v] = field(0x2A, _text(v)) if v else b""  # type: ignore[index]
        return b

    def _dropped(self, d: dict, key: str, tag: bytes) -> bytes:
        v = d.get(key)
        if v is None or v == 0 and v.__class__ is int:
            return b""
        n = _uint(v, 1 << 32)
        return tag + varint(n) if n else b""

    def _events(self, items: object) -> list[bytes]:
        if items.__class__ is not list:
            raise Unusual
        out = []
        for ev in items:  # type: ignore[attr-defined]
            if ev.__class__ is not dict or not ev.keys() <= _EVENT_KEYS:
                raise Unusual
            body = b"\x09" + _fixed64(_uint(ev.get("timeUnixNano", 0), _U64))
            if "name" in ev:
                body += field(0x12, _text(ev["name"])) if ev["name"] != "" else b""
            if "attributes" in ev:
                body += b"".join(_attributes(ev["attributes"], 0x1A, self._other_attrs[0x1A]))
            body += self._dropped(ev, "droppedAttributesCount", b"\x20")
            out.append(field(0x5A, body))
        return out

    def _links(self, items: object) -> list[bytes]:
        if items.__class__ is not list:
            raise Unusual
        out = []
        for link in items:  # type: ignore[attr-defined]
            if link.__class__ is not dict or not link.keys() <= _LINK_KEYS or "traceId" not in link or "spanId" not in link:
                raise Unusual
            body = b"\x0a\x10" + _id(link["traceId"], 16) + b"\x12\x08" + _id(link["spanId"], 8)
            if link.get("traceState"):
                body += field(0x1A, _text(link["traceState"]))
            if "attributes" in link:
                body += b"".join(_attributes(link["attributes"], 0x22, self._other_attrs[0x22]))
            body += self._dropped(link, "droppedAttributesCount", b"\x28")
            if link.get("flags"):
                body += b"\x35" + _fixed32(_uint(link["flags"], 1 << 32))
            out.append(field(0x6A, body))
        return out

    def _span(self, d: dict, timing: Timing) -> bytes:
        """One Span as ScopeSpans' `spans` field (tag 0x12). The hot path: checks inline."""
        if d.__class__ is not dict:
            raise Unusual
        rare = d.keys() - _COMMON_KEYS
        if rare and not rare <= _SPAN_KEYS:
            raise Unusual  # an unknown field: the exact parser names it
        tid, sid = d["traceId"], d["spanId"]  # KeyError: no id, the exact parser words it
        if len(tid) != 32 or len(sid) != 16:
            raise Unusual
        tid, sid = bytes.fromhex(tid), bytes.fromhex(sid)  # ValueError, TypeError: not hex, not text
        if len(tid) != 16 or len(sid) != 8 or tid == _ZERO16 or sid == _ZERO8:
            raise Unusual  # whitespace inside, or the all-zero id OTLP reserves
        parts = [b"\x0a\x10", tid, b"\x12\x08", sid]
        get = d.get
        if "traceState" in d and d["traceState"] != "":
            parts.append(field(0x1A, _text(d["traceState"])))
        parent = get("parentSpanId")
        if parent:
            if len(parent) != 16:
                raise Unusual
            raw = bytes.fromhex(parent)
            if len(raw) != 8:
                raise Unusual
            parts += (b"\x22\x08", raw)
        elif parent is not None and parent != "":
            raise Unusual
        name = get("name")
        if name is not None:
            b = self._names.get(name)
            parts.append(b if b is not None else self._name(name))
        kind = get("kind")
        if kind:
            if kind.__class__ is str:
                kind = _KINDS.get(kind)
            if kind.__class__ is not int or not 0 <= kind <= 5:
                raise Unusual
            parts.append(_KIND_FIELD[kind])
        start, end = get("startTimeUnixNano", 0), get("endTimeUnixNano", 0)
        if start.__class__ is not int:
            start = _digits(start)
        if end.__class__ is not int:
            end = _digits(end)
        if not (0 <= start < _U64 and 0 <= end < _U64):
            raise Unusual
        parts += (b"\x39", _fixed64(start), b"\x41", _fixed64(end))
        attrs = get("attributes")
        if attrs:
            parts += _attributes(attrs, 0x4A, self._span_attrs)
        elif attrs is not None and attrs != []:
            raise Unusual
        if rare:
            parts += self._rest(d)
        # the schedule's view: the first start, the last end (a span ending before it starts
        # counts at its start), and each trace's first start when asked for
        if start < timing.start:
            timing.start = start
        last = end if end > start else start
        if last > timing.end:
            timing.end = last
        if timing.traces is not None:
            first = timing.traces.get(tid)
            if first is None or start < first:
                timing.traces[tid] = start
        body = b"".join(parts)
        n = len(body)
        return (bytes((0x12, n)) if n < 0x80 else b"\x12" + varint(n)) + body

    def _rest(self, d: dict) -> list[bytes]:
        parts = [self._dropped(d, "droppedAttributesCount", b"\x50")]
        if "events" in d:
            parts += self._events(d["events"])
        parts.append(self._dropped(d, "droppedEventsCount", b"\x60"))
        if "links" in d:
            parts += self._links(d["links"])
        parts.append(self._dropped(d, "droppedLinksCount", b"\x70"))
        status = d.get("status")
        if status:
            if status.__class__ is not dict or not status.keys() <= {"code", "message"}:
                raise Unusual
            body = field(0x12, _text(status["message"])) if status.get("message") else b""
            code = status.get("code", 0)
            if code.__class__ is str:
                code = _CODES.get(code)
            if code.__class__ is not int or not 0 <= code <= 2:
                raise Unusual
            if code:
                body += bytes((0x18, code))
            parts.append(field(0x7A, body))
        elif status is not None and status != {}:
            raise Unusual
        flags = d.get("flags")
        if flags:
            parts += (b"\x85\x01", _fixed32(_uint(flags, 1 << 32)))
        return parts

    def chunks(self, data: object, timing: Timing) -> list[Chunk]:
        """The record's spans as chunks, in order, or Unusual (then `timing` may hold some of
        the record's spans: the exact parser's result is timed again, which changes nothing)."""
        try:
            return self._chunks(data, timing)
        except (KeyError, TypeError, ValueError, AttributeError):  # a wrong type somewhere
            raise Unusual from None

    def chunks_from(self, resource_spans: Iterable[object], timing: Timing) -> list[Chunk]:
        """The same for a record's resourceSpans given one by one (a huge record, parsed as it
        is encoded: otlpjson.Big)."""
        try:
            return self._resource_spans(resource_spans, timing)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise Unusual from None

    def _chunks(self, data: dict, timing: Timing) -> list[Chunk]:
        if data.__class__ is not dict or data.keys() != {"resourceSpans"}:
            raise Unusual
        resource_spans = data["resourceSpans"]
        if resource_spans.__class__ is not list:
            raise Unusual
        return self._resource_spans(resource_spans, timing)

    def _resource_spans(self, resource_spans: Iterable[object], timing: Timing) -> list[Chunk]:
        cut = _Cutter(self.max_spans, self.max_bytes)
        span = self._span
        for rs in resource_spans:
            if rs.__class__ is not dict or not rs.keys() <= _RS_KEYS:
                raise Unusual
            header = self._resource(rs)
            scope_spans = rs.get("scopeSpans", [])
            if scope_spans.__class__ is not list:
                raise Unusual
            for k, ss in enumerate(scope_spans):
                if ss.__class__ is not dict or not ss.keys() <= _SS_KEYS:
                    raise Unusual
                spans = ss.get("spans", [])
                if spans.__class__ is not list:
                    raise Unusual
                cut.group(header, self._scope(ss), new_resource=k == 0)
                for d in spans:
                    cut.add(span(d, timing))
        return cut.done()

    def _resource(self, rs: dict) -> bytes:
        """ResourceSpans' fields other than its spans: the resource and its schema URL."""
        resource = rs.get("resource")
        body = b""
        if resource:
            if resource.__class__ is not dict or not resource.keys() <= _RESOURCE_KEYS:
                raise Unusual
            attrs = resource.get("attributes")
            if attrs:
                body = b"".join(_attributes(attrs, 0x0A, self._other_attrs[0x0A]))
            if "droppedAttributesCount" in resource:
                body += self._dropped(resource, "droppedAttributesCount", b"\x10")
        elif resource is not None and resource != {}:
            raise Unusual
        header = field(0x0A, body)
        return header + field(0x1A, _text(rs["schemaUrl"])) if rs.get("schemaUrl") else header

    def _scope(self, ss: dict) -> bytes:
        """ScopeSpans' fields other than its spans (cached: a few scopes repeat)."""
        scope = ss.get("scope")
        if not scope:
            if scope is not None and scope != {}:
                raise Unusual
            body = b""
        else:
            if scope.__class__ is not dict or not scope.keys() <= _SCOPE_KEYS:
                raise Unusual
            name, version = scope.get("name"), scope.get("version")
            cached = self._scopes.get((name, version)) if len(scope) <= 2 and name.__class__ is str else None
            if cached is None:
                cached = field(0x0A, _text(name)) if name else b""
                cached += field(0x12, _text(version)) if version else b""
                if len(scope) <= 2 and name.__class__ is str and version.__class__ in (str, type(None)):
                    self._scopes[(name, version)] = cached
            body = cached
            if "attributes" in scope:
                body += b"".join(_attributes(scope["attributes"], 0x1A, self._other_attrs[0x1A]))
            if "droppedAttributesCount" in scope:
                body += self._dropped(scope, "droppedAttributesCount", b"\x20")
        header = field(0x0A, body)
        return header + field(0x1A, _text(ss["schemaUrl"])) if ss.get("schemaUrl") else header


def message_chunks(request: ExportTraceServiceRequest, timing: Timing, max_spans: int = MAX_SPANS,
                   max_bytes: int = MAX_BYTES) -> list[Chunk]:
    """The same chunks from a parsed request (the exact parser's result, or synthetic traffic)."""
    cut = _Cutter(max_spans, max_bytes)
    for rs in request.resource_spans:
        header = field(0x0A, rs.resource.SerializeToString()) + (field(0x1A, rs.schema_url.encode()) if rs.schema_url else b"")
        for k, ss in enumerate(rs.scope_spans):
            scope_header = field(0x0A, ss.scope.SerializeToString()) + (field(0x1A, ss.schema_url.encode()) if ss.schema_url else b"")
            cut.group(header, scope_header, new_resource=k == 0)
            for span in ss.spans:
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                timing.start = min(timing.start, start)
                timing.end = max(timing.end, end, start)
                if timing.traces is not None:
                    first = timing.traces.get(span.trace_id)
                    timing.traces[span.trace_id] = start if first is None else min(first, start)
                cut.add(field(0x12, span.SerializeToString()))
    return cut.done()


class _Cutter:
    """Collects encoded spans under their resource and scope headers, keeping the record's
    structure; cuts a chunk when it is full, repeating the open resource and scope at the start
    of the next one."""

    def __init__(self, max_spans: int, max_bytes: int) -> None:
        self.max_spans, self.max_bytes = max_spans, max_bytes
        self.out: list[Chunk] = []
        self.groups: list[tuple[int, bytes, bytes, list[bytes]]] = []  # (resource number, headers, spans)
        self.spans: list[bytes] = []
        self.resource = 0
        self.count = self.size = self.total = 0

    def group(self, header: bytes, scope_header: bytes, new_resource: bool = True) -> None:
        """A ScopeSpans, in a new ResourceSpans unless `new_resource` is False."""
        self.resource += new_resource
        self.spans = []
        self.groups.append((self.resource, header, scope_header, self.spans))

    def add(self, span: bytes) -> None:
        self.spans.append(span)
        self.count += 1
        self.size += len(span)
        if self.count >= self.max_spans or self.size >= self.max_bytes:
            self._cut()

    def _cut(self) -> None:
        if self.count:
            resources: list[bytes] = []
            current, header, scopes = None, b"", []
            for number, h, scope_header, spans in self.groups:
                if not spans:
                    continue
                if number != current and scopes:
                    resources.append(field(0x0A, header + b"".join(scopes)))
                    scopes = []
                current, header = number, h
                scopes.append(field(0x12, scope_header + b"".join(spans)))
            resources.append(field(0x0A, header + b"".join(scopes)))
            self.out.append(Chunk(b"".join(resources), self.count, self.total))
            self.total += self.count
        last = self.groups[-1] if self.groups else None
        self.groups, self.count, self.size = [], 0, 0
        if last:
            self.resource -= 1
            self.group(last[1], last[2])  # the same resource and scope go on in the next chunk

    def done(self) -> list[Chunk]:
        self._cut()
        return self.out

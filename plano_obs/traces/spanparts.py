"""A span's rarer fields for encoder.py, after its attributes: events and links (with their
selectors: an event's time, and the ids of a link within the span's own trace), the dropped
counts, the status and the flags."""
from __future__ import annotations

import struct

from opentelemetry.proto.trace.v1.trace_pb2 import Status

from plano_obs.traces.values import attributes, hex_id, text, uint
from plano_obs.traces.wire import SEL_SPAN_ID, SEL_TIME, SEL_TRACE_ID, Cutter, Unusual, field, varint

_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_CODES = dict(Status.StatusCode.items())
_EVENT_KEYS = frozenset({"timeUnixNano", "name", "attributes", "droppedAttributesCount"})
_LINK_KEYS = frozenset({"traceId", "spanId", "traceState", "attributes", "droppedAttributesCount", "flags"})
SEL_IDS = b"\0\0" + SEL_TRACE_ID + b"\0\0" + SEL_SPAN_ID  # 0a 10 <trace id> 12 08 <span id>


def rest(d: dict, parts: list[bytes], sels: list[bytes], tid: bytes, cut: Cutter, caches: dict[int, dict]) -> None:
    """The span's rarer fields, after its attributes: events and links (with their selectors:
    event times, and the ids of links within the trace), counts, status, flags."""
    def add(b: bytes, sel: bytes | None = None) -> None:
        parts.append(b)
        sels.append(sel if sel is not None else bytes(len(b)))

    # the selector so far covers the head and the times: the attributes are kept as they are
    sels.append(bytes(sum(map(len, parts)) - sum(map(len, sels))))
    add(dropped(d, "droppedAttributesCount", b"\x50"))
    if "events" in d:
        for b, sel in _events(d["events"], cut, caches[0x1A]):
            add(b, sel)
    add(dropped(d, "droppedEventsCount", b"\x60"))
    if "links" in d:
        for b, sel in _links(d["links"], tid, caches[0x22]):
            add(b, sel)
    add(dropped(d, "droppedLinksCount", b"\x70"))
    status = d.get("status")
    if status:
        if status.__class__ is not dict or not status.keys() <= {"code", "message"}:
            raise Unusual
        body = field(0x12, text(status["message"])) if status.get("message") else b""
        code = status.get("code", 0)
        if code.__class__ is str:
            code = _CODES.get(code)
        if code.__class__ is not int or not 0 <= code <= 2:
            raise Unusual
        if code:
            body += bytes((0x18, code))
        add(field(0x7A, body))
    elif status is not None and status != {}:
        raise Unusual
    flags = d.get("flags")
    if flags:
        add(b"\x85\x01" + _fixed32(uint(flags, 1 << 32)))

def _events(items: object, cut: Cutter, cache: dict) -> list[tuple[bytes, bytes]]:
    if items.__class__ is not list:
        raise Unusual
    out = []
    for ev in items:  # type: ignore[attr-defined]
        if ev.__class__ is not dict or not ev.keys() <= _EVENT_KEYS:
            raise Unusual
        t = uint(ev.get("timeUnixNano", 0), 1 << 64)
        cut.low, cut.high = min(cut.low, t), max(cut.high, t)
        body = b"\x09" + _fixed64(t)
        if "name" in ev:
            body += field(0x12, text(ev["name"])) if ev["name"] != "" else b""
        if "attributes" in ev:
            body += b"".join(attributes(ev["attributes"], 0x1A, cache))
        body += dropped(ev, "droppedAttributesCount", b"\x20")
        b = field(0x5A, body)
        out.append((b, bytes(len(b) - len(body)) + b"\0" + SEL_TIME + bytes(len(body) - 9)))
    return out

def _links(items: object, tid: bytes, cache: dict) -> list[tuple[bytes, bytes]]:
    """Links, with selectors: a link's ids move with its span's only within the same trace."""
    if items.__class__ is not list:
        raise Unusual
    out = []
    for link in items:  # type: ignore[attr-defined]
        if link.__class__ is not dict or not link.keys() <= _LINK_KEYS or "traceId" not in link or "spanId" not in link:
            raise Unusual
        linked = hex_id(link["traceId"], 16)
        body = b"\x0a\x10" + linked + b"\x12\x08" + hex_id(link["spanId"], 8)
        if link.get("traceState"):
            body += field(0x1A, text(link["traceState"]))
        if "attributes" in link:
            body += b"".join(attributes(link["attributes"], 0x22, cache))
        body += dropped(link, "droppedAttributesCount", b"\x28")
        if link.get("flags"):
            body += b"\x35" + _fixed32(uint(link["flags"], 1 << 32))
        b = field(0x6A, body)
        ids = SEL_IDS if linked == tid else bytes(len(SEL_IDS))
        out.append((b, bytes(len(b) - len(body)) + ids + bytes(len(body) - len(ids))))
    return out


def dropped(d: dict, key: str, tag: bytes) -> bytes:
    v = d.get(key)
    if v is None or v == 0 and v.__class__ is int:
        return b""
    n = uint(v, 1 << 32)
    return tag + varint(n) if n else b""

"""OTLP/JSON files (the collector's file exporter format) into protobuf requests.

OTLP/JSON differs from protobuf's default JSON mapping: trace and span ids are hex strings
(not base64), enums may be integers or names, 64-bit integers may be strings or numbers,
and field names are lowerCamelCase. A file is either one ExportTraceServiceRequest per line
or one whole JSON document, plain or gzip-compressed; every record is validated before
anything is sent."""
from __future__ import annotations

import base64
import gzip
import json
import re
import string
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from ..errors import PlanoError
from . import files

_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_GZIP_MAGIC = b"\x1f\x8b"


class OtlpFileError(PlanoError):
    """A file that is not valid OTLP/JSON traces; names the file and line or record."""

    def __init__(self, path: Path, where: str, cause: str) -> None:
        super().__init__(f"{path}:{where}: {cause}", "nothing was sent; fix or remove that record")
        self.path, self.where = path, where


@dataclass
class Record:
    path: Path
    where: str  # "3" (line) or "record 1"
    request: ExportTraceServiceRequest


def _hex_to_b64(value: object, field: str, size: int, at: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{at}.{field} must be a hex string, got {type(value).__name__}")
    if value == "" and field == "parentSpanId":
        return ""
    if not all(ch in string.hexdigits for ch in value):
        raise ValueError(f"{at}.{field} is not hex: {value!r}")
    if len(value) != size * 2:  # an odd length is a wrong length too, not "not hex"
        raise ValueError(f"{at}.{field} must be {size * 2} hex digits, got {len(value)}: {value!r}")
    raw = bytes.fromhex(value)
    if field != "parentSpanId" and not any(raw):
        raise ValueError(f"{at}.{field} is all zeros, which OTLP reserves for 'no id': {value!r}")
    return base64.b64encode(raw).decode()


def _convert_ids(obj: object, at: str) -> None:
    """Rewrites the hex ids of spans and links in place to protobuf-JSON base64."""
    if not isinstance(obj, dict):
        raise ValueError(f"{at} must be a JSON object")
    resource_spans = obj.get("resourceSpans", obj.get("resource_spans"))
    if resource_spans is None:
        raise ValueError("not an OTLP traces request: no resourceSpans")
    if not isinstance(resource_spans, list):
        raise ValueError("resourceSpans must be a list")
    for r, rs in enumerate(resource_spans):
        for s, ss in enumerate((rs or {}).get("scopeSpans", (rs or {}).get("scope_spans", [])) or []):
            for i, span in enumerate((ss or {}).get("spans", []) or []):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                if not isinstance(span, dict):
                    raise ValueError(f"{where} must be an object")
                for field, size in _ID_FIELDS.items():
                    if field in span:
                        span[field] = _hex_to_b64(span[field], field, size, where)
                for j, link in enumerate(span.get("links", []) or []):
                    for field in ("traceId", "spanId"):
                        if field in link:
                            link[field] = _hex_to_b64(link[field], field, _ID_FIELDS[field], f"{where}.links[{j}]")
                if "traceId" not in span or "spanId" not in span:
                    raise ValueError(f"{where} has no traceId/spanId")


def _tidy(message: str) -> str:
    """protobuf's "Failed to parse a field: Failed to parse b field: cause" → "a.b: cause"."""
    fields = re.findall(r"Failed to parse (\w+) field: ", message)
    cause = re.sub(r"^(Failed to parse \w+ field: )+", "", message).rstrip(".")
    return f"{'.'.join(fields)}: {cause}" if fields else cause


# --- fast path ------------------------------------------------------------------------------
# json_format.ParseDict is exact but slow (~120 µs a span). Spans in the shapes the collector
# writes are built directly with protobuf constructors; anything unusual (unknown fields,
# nested attribute values, wrong types) falls back to ParseDict, which also words the error.

_SPAN_KEYS = {"traceId", "spanId", "parentSpanId", "traceState", "name", "kind", "startTimeUnixNano",
              "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount",
              "links", "droppedLinksCount", "status", "flags"}
_EVENT_KEYS = {"timeUnixNano", "name", "attributes", "droppedAttributesCount"}
_SCALARS = {"stringValue": ("string_value", str), "intValue": ("int_value", int),
            "boolValue": ("bool_value", bool), "doubleValue": ("double_value", float)}


class _Slow(Exception):
    """This part needs the exact (slow) parser."""


def _int(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise _Slow
    return int(v)


def _attrs(items: list) -> list[KeyValue]:
    out = []
    for kv in items:
        value = kv.get("value", {})
        if len(kv) > 2 or len(value) != 1:
            raise _Slow
        (kind, raw), = value.items()
        if kind not in _SCALARS:
            raise _Slow
        field, typ = _SCALARS[kind]
        if typ is bool and not isinstance(raw, bool) or typ is str and not isinstance(raw, str):
            raise _Slow
        if typ is float and not isinstance(raw, (int, float)):
            raise _Slow
        out.append(KeyValue(key=kv["key"], value=AnyValue(**{field: _int(raw) if typ is int else typ(raw)})))
    return out


def _id(v: object, size: int, empty_ok: bool = False) -> bytes:
    if not isinstance(v, str):
        raise _Slow
    if v == "" and empty_ok:
        return b""
    raw = bytes.fromhex(v)  # ValueError → the exact path words the error
    if len(raw) != size or not (any(raw) or empty_ok):
        raise _Slow
    return raw


def _kind(v: object) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str) and v in Span.SpanKind.keys():
        return Span.SpanKind.Value(v)
    raise _Slow


def _span(d: dict) -> Span:
    if not d.keys() <= _SPAN_KEYS or d.get("links") or d.get("traceState"):
        raise _Slow
    status = d.get("status") or {}
    if not status.keys() <= {"code", "message"}:
        raise _Slow
    span = Span(
        trace_id=_id(d["traceId"], 16), span_id=_id(d["spanId"], 8),
        parent_span_id=_id(d.get("parentSpanId", ""), 8, empty_ok=True), name=d.get("name", ""),
        kind=_kind(d.get("kind", 0)), start_time_unix_nano=_int(d.get("startTimeUnixNano", 0)),
        end_time_unix_nano=_int(d.get("endTimeUnixNano", 0)), attributes=_attrs(d.get("attributes", [])),
        dropped_attributes_count=_int(d.get("droppedAttributesCount", 0)),
        dropped_events_count=_int(d.get("droppedEventsCount", 0)), flags=_int(d.get("flags", 0)))
    if status:
        code = status.get("code", 0)
        span.status.code = code if isinstance(code, int) and not isinstance(code, bool) else Status.StatusCode.Value(code)
        span.status.message = status.get("message", "")
    for ev in d.get("events", []):
        if not ev.keys() <= _EVENT_KEYS:
            raise _Slow
        span.events.add(time_unix_nano=_int(ev.get("timeUnixNano", 0)), name=ev.get("name", ""),
                        attributes=_attrs(ev.get("attributes", [])))
    return span


def _fast(data: dict) -> ExportTraceServiceRequest:
    if not isinstance(data, dict) or data.keys() != {"resourceSpans"}:
        raise _Slow
    req = ExportTraceServiceRequest()
    for rs in data["resourceSpans"]:
        if not rs.keys() <= {"resource", "scopeSpans", "schemaUrl"}:
            raise _Slow
        out = req.resource_spans.add(schema_url=rs.get("schemaUrl", ""))
        resource = rs.get("resource", {})
        if not resource.keys() <= {"attributes"}:
            raise _Slow
        out.resource.attributes.extend(_attrs(resource.get("attributes", [])))
        for ss in rs.get("scopeSpans", []):
            if not ss.keys() <= {"scope", "spans", "schemaUrl"}:
                raise _Slow
            scope = out.scope_spans.add(schema_url=ss.get("schemaUrl", ""))
            sc = ss.get("scope", {})
            if not sc.keys() <= {"name", "version"}:
                raise _Slow
            scope.scope.name, scope.scope.version = sc.get("name", ""), sc.get("version", "")
            scope.spans.extend(_span(sp) for sp in ss.get("spans", []))
    return req


def parse_record(data: object, path: Path, where: str) -> Record:
    try:
        try:
            request = _fast(data)  # type: ignore[arg-type]
        except (_Slow, KeyError, TypeError, ValueError, AttributeError):
            _convert_ids(data, "request")
            request = json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=False)
    except (ValueError, json_format.ParseError) as err:
        raise OtlpFileError(path, where, _tidy(str(err).splitlines()[0])) from err
    return Record(path, where, request)


def _lines(path: Path, stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, line with its newline); gzip and read errors name the line they hit."""
    n = 0
    while True:
        try:
            line = stream.readline()
        except EOFError as err:
            raise OtlpFileError(path, str(n + 1), "the gzip data ends early (the file was cut)") from err
        except (OSError, zlib.error) as err:
            raise OtlpFileError(path, str(n + 1), f"cannot read: {err}") from err
        if not line:
            return
        n += 1
        yield n, line


def _text(path: Path, n: int, line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OtlpFileError(path, str(n), "not UTF-8 text (compressed? only gzip is read)") from err


def _records(path: Path, lines: Iterator[tuple[int, bytes]]) -> list[Record]:
    records: list[Record] = []
    for n, raw in lines:
        text = _text(path, n, raw)
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            if not records:  # perhaps one pretty-printed document: that needs the whole file
                rest = "".join(_text(path, m, more) for m, more in lines)
                try:
                    whole = json.loads(text + rest)
                except json.JSONDecodeError:
                    whole = None
                if isinstance(whole, dict) and rest.strip():
                    return [parse_record(whole, path, "record 1")]
            # the file exporter ends every record with a newline: a line without one was cut
            cut = not raw.endswith(b"\n")
            cause = "truncated JSON (the file ends mid-record)" if cut else f"not JSON ({err.msg} at column {err.colno})"
            raise OtlpFileError(path, str(n), cause) from err
        records.append(parse_record(data, path, str(n)))
    if not records:
        raise OtlpFileError(path, "1", "empty file")
    return records


def load(path: Path) -> list[Record]:
    """All records of one file, or OtlpFileError for the first bad one. A gzip file (known by
    its first bytes, whatever its name) is decompressed line by line as it is read."""
    files.check_input(path)
    try:
        raw = path.open("rb")
    except OSError as err:
        raise files.TraceFileError(path, f"{path}: cannot read: {err.strerror or err}") from err
    with raw:
        gzipped = raw.peek(2)[:2] == _GZIP_MAGIC  # peek, not seek: a pipe can be read too
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        with stream:
            return _records(path, _lines(path, stream))


def parse_lines(path: Path, lines: Iterable[str]) -> list[Record]:
    """Records from lines held in memory (a recording before it is written), named as `path`."""
    return _records(path, ((n, (line + "\n").encode()) for n, line in enumerate(lines, 1)))


def load_all(paths: list[Path]) -> list[Record]:
    records: list[Record] = []
    for p in paths:
        records += load(p)
    return records


def to_json_line(request: ExportTraceServiceRequest) -> str:
    """One request as an OTLP/JSON line (hex ids, camelCase), like the collector's file exporter."""
    data = json_format.MessageToDict(request, preserving_proto_field_name=False, use_integers_for_enums=True)
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for field in _ID_FIELDS:
                    if field in span:
                        span[field] = base64.b64decode(span[field]).hex()
                for link in span.get("links", []):
                    for field in ("traceId", "spanId"):
                        if field in link:
                            link[field] = base64.b64decode(link[field]).hex()
    return json.dumps(data, separators=(",", ":"))

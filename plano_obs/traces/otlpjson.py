"""OTLP/JSON files (the collector's file exporter format) into protobuf requests.

OTLP/JSON differs from protobuf's default JSON mapping: trace and span ids are hex strings
(not base64), enums may be integers or names, 64-bit integers may be strings or numbers,
and field names are lowerCamelCase. A file is either one ExportTraceServiceRequest per line
or one whole JSON document; every record is validated before anything is sent."""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..errors import PlanoError

_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


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
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{at}.{field} is not hex: {value!r}") from None
    if len(raw) != size:
        raise ValueError(f"{at}.{field} must be {size * 2} hex digits, got {len(value)}: {value!r}")
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


def parse_record(data: object, path: Path, where: str) -> Record:
    try:
        _convert_ids(data, "request")
        request = json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=False)
    except (ValueError, json_format.ParseError) as err:
        raise OtlpFileError(path, where, _tidy(str(err).splitlines()[0])) from err
    return Record(path, where, request)


def load(path: Path) -> list[Record]:
    """All records of one file, or OtlpFileError for the first bad one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise OtlpFileError(path, "0", f"cannot read: {err}") from err
    if not text.strip():
        raise OtlpFileError(path, "1", "empty file")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict) and len(text.strip().splitlines()) > 1:  # one pretty-printed document
        return [parse_record(whole, path, "record 1")]
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            # the file exporter ends every record with a newline: a last line without one was cut
            cut = n == len(text.splitlines()) and not text.endswith("\n")
            cause = "truncated JSON (the file ends mid-record)" if cut else f"not JSON ({err.msg} at column {err.colno})"
            raise OtlpFileError(path, str(n), cause) from err
        records.append(parse_record(data, path, str(n)))
    return records


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

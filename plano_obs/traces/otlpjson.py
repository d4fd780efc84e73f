"""OTLP/JSON files (the collector's file exporter format) into protobuf requests.

OTLP/JSON differs from protobuf's default JSON mapping: trace and span ids are hex strings
(not base64), enums may be integers or names, 64-bit integers may be strings or numbers,
and field names are lowerCamelCase. A file is either one ExportTraceServiceRequest per line
or one whole JSON document, plain or gzip-compressed, read as a stream of records. The usual
shapes are encoded by encoder.Encoder; the rest, and every error message, by `exact`."""
from __future__ import annotations

import base64
import gzip
import io
import json
import re
import string
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Protocol

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.errors import PlanoError
from plano_obs.traces import files, wire
from plano_obs.traces.encoder import Encoder

_ID_FIELDS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_GZIP_MAGIC = b"\x1f\x8b"


class OtlpFileError(PlanoError):
    """A file that is not valid OTLP/JSON traces; names the file and line or record."""

    def __init__(self, path: Path, where: str, cause: str) -> None:
        super().__init__(f"{path}:{where}: {cause}", "nothing was sent; fix or remove that record")
        self.path, self.where, self.reason = path, where, cause


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


def exact(data: object, path: Path, where: str) -> ExportTraceServiceRequest:
    """protobuf's own JSON parser, after hex ids are turned into its base64: slow (~120 µs a
    span) but exact, and its errors name the field. For what encoder.Encoder does not handle."""
    try:
        _convert_ids(data, "request")
        return json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=False)
    except (ValueError, json_format.ParseError) as err:
        raise OtlpFileError(path, where, _tidy(str(err).splitlines()[0])) from err


def parse_record(data: object, path: Path, where: str) -> Record:
    """One record as a protobuf request (for records held in memory: tests, `traces.record`)."""
    try:
        chunks = Encoder().chunks(data)
    except wire.Unusual:
        return Record(path, where, exact(data, path, where))
    return Record(path, where, ExportTraceServiceRequest.FromString(b"".join(c.data for c in chunks)))


class _Lines:
    """(line number, line with its newline); gzip and read errors name the line they hit. An
    iterator object, not a generator: it keeps no line once given (a huge one is let go as soon
    as its reader has decoded it)."""

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path, self.stream, self.n = path, stream, 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> tuple[int, bytes]:
        try:
            line = self.stream.readline()
        except EOFError as err:
            raise OtlpFileError(self.path, str(self.n + 1), "the gzip data ends early (the file was cut)") from err
        except (OSError, zlib.error) as err:
            raise OtlpFileError(self.path, str(self.n + 1), f"cannot read: {err}") from err
        if not line:
            raise StopIteration
        self.n += 1
        return self.n, line


def _text(path: Path, n: int, line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise OtlpFileError(path, str(n), "not UTF-8 text (compressed? only gzip is read)") from err


def parse_line(path: Path, where: str, raw: bytes) -> object:
    """One line's JSON value, or OtlpFileError naming the line. The file exporter ends every
    record with a newline: a line without one was cut short."""
    text = _text(path, int(where), raw)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        cut = not raw.endswith(b"\n")
        cause = "truncated JSON (the file ends mid-record)" if cut else f"not JSON ({err.msg} at column {err.colno})"
        raise OtlpFileError(path, where, cause) from err


BIG_RECORD = 8 << 20  # a record this large is parsed as it is encoded (Big)
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"\s*")
_BIG_START = re.compile(r'\s*\{\s*"resourceSpans"\s*:\s*\[')


class NotSplittable(Exception):
    """A big record not shaped {"resourceSpans": [...]}: it is parsed whole."""


class Big:
    """A record too large to parse whole (a single line, or a whole document, holding one big
    ExportTraceServiceRequest): its resourceSpans are parsed from the text one at a time, as
    they are encoded, so only the text and one ResourceSpans are in memory. `parse` is the
    fallback for anything unusual: the whole record at once, with the usual error wording."""

    def __init__(self, path: Path, where: str, raw: bytes | str) -> None:
        self.path, self.where = path, where
        self.cut = isinstance(raw, bytes) and not raw.endswith(b"\n")
        self.text = raw if isinstance(raw, str) else _text(path, int(where), raw)

    def resource_spans(self) -> Iterator[object]:
        text, space = self.text, _SPACE.match
        start = _BIG_START.match(text)
        if not start:
            raise NotSplittable
        i = space(text, start.end()).end()
        try:
            while not text.startswith("]", i):
                value, i = _DECODER.raw_decode(text, i)
                yield value
                i = space(text, i).end()
                if text.startswith(",", i):
                    i = space(text, i + 1).end()
                elif not text.startswith("]", i):
                    raise NotSplittable
        except json.JSONDecodeError:
            raise NotSplittable from None
        i = space(text, i + 1).end()
        if not text.startswith("}", i) or space(text, i + 1).end() != len(text):
            raise NotSplittable

    def parse(self) -> object:
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as err:
            if self.where.startswith("record"):
                raise OtlpFileError(self.path, self.where, f"not JSON ({err.msg} at line {err.lineno})") from err
            cause = "truncated JSON (the file ends mid-record)" if self.cut else f"not JSON ({err.msg} at column {err.colno})"
            raise OtlpFileError(self.path, self.where, cause) from err


def _raw_records(path: Path, lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, str, object]]:
    """(record number, where, the line's bytes — or the JSON value of the first record, which is
    parsed here to tell a file of lines from one pretty-printed document — or, for a record of
    BIG_RECORD bytes or more, a Big)."""
    number = 0
    for n, raw in lines:
        if not raw.strip():
            continue
        if len(raw) >= BIG_RECORD:
            number += 1
            big = Big(path, str(n), raw)
            del raw  # the text is all the record needs now
            yield number, str(n), big
            continue
        if number:
            number += 1
            yield number, str(n), raw
            continue
        text = _text(path, n, raw)
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            # perhaps one pretty-printed document: that needs the whole file
            rest = "".join(_text(path, m, more) for m, more in lines)
            if rest.strip() and len(text) + len(rest) >= BIG_RECORD:
                yield 1, "record 1", Big(path, "record 1", text + rest)
                return
            try:
                whole = json.loads(text + rest)
            except json.JSONDecodeError:
                whole = None
            if isinstance(whole, dict) and rest.strip():
                yield 1, "record 1", whole
                return
            parse_line(path, str(n), raw)  # raises the error for this line
            raise
        number = 1
        yield number, str(n), data
    if number == 0:
        raise OtlpFileError(path, "1", "empty file")


class Digest(Protocol):
    def update(self, data: bytes) -> None: ...


class _Hashing(io.RawIOBase):
    """A file read through `digest`: the hash of exactly the bytes the reader consumed."""

    def __init__(self, raw: io.FileIO, digest: Digest) -> None:
        self.raw, self.digest = raw, digest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = self.raw.readinto(b)
        if n:
            self.digest.update(memoryview(b)[:n])
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def raw_records(path: Path, digest: Digest | None = None) -> Iterator[tuple[int, str, object]]:
    """Each record of one file as (record number from 1, where, the line's bytes to parse with
    `parse_line` — or, for the first record, its JSON value), read as a stream: one line at a
    time (a pretty-printed document is read whole, and comes parsed). A gzip file (known by its
    first bytes, whatever its name) is decompressed line by line. `digest` is fed the file's
    bytes as they are read (the spool cache's key)."""
    files.check_input(path)
    try:
        raw: BinaryIO = path.open("rb") if digest is None else \
            io.BufferedReader(_Hashing(io.FileIO(path, "rb"), digest), 1 << 20)  # type: ignore[assignment]
    except OSError as err:
        raise files.TraceFileError(path, f"{path}: cannot read: {err.strerror or err}") from err
    with raw:
        gzipped = raw.peek(2)[:2] == _GZIP_MAGIC  # peek, not seek: a pipe can be read too
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        with stream:
            yield from _raw_records(path, _Lines(path, stream))


def records(path: Path) -> Iterator[tuple[int, str, object]]:
    """Each record of one file as (record number from 1, where, JSON value), streamed."""
    for number, where, payload in raw_records(path):
        if isinstance(payload, Big):
            payload = payload.parse()
        yield number, where, parse_line(path, where, payload) if isinstance(payload, bytes) else payload


def parse_lines(path: Path, lines: Iterable[str]) -> list[Record]:
    """Records from lines held in memory (a recording before it is written), named as `path`."""
    numbered = ((n, (line + "\n").encode()) for n, line in enumerate(lines, 1))
    return [parse_record(payload if not isinstance(payload, bytes) else parse_line(path, where, payload), path, where)
            for _, where, payload in _raw_records(path, numbered)]


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

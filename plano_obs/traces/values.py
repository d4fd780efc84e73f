"""OTLP/JSON's scalar values and attributes, checked and written as protobuf bytes for encoder.py.

Only the shapes the collector's file exporter writes are taken (scalar attribute values, hex ids,
64-bit integers as numbers or digit strings); anything else raises wire.Unusual, and protobuf's
exact parser decides (and words the error).

Attributes are most of a span's bytes and of the encoder's time. Each key's encoding is kept, and
so are the encodings of its string values — up to VALUES_PER_KEY of them: a key with few values
(a model, a status, a method) is then written from the cache, one with a new value in every span
(a request id) is written afresh without pushing the others out."""
from __future__ import annotations

import struct

from plano_obs.traces.wire import U64, Unusual, field, varint

_I64 = 1 << 63
KEYS = 4096  # attribute keys remembered (each with its values); all are forgotten past this
VALUES_PER_KEY = 64  # values and prefixes remembered for one key
_double = struct.Struct("<d").pack


def uint(v: object, limit: int) -> int:
    if v.__class__ is int:
        n = v
    elif v.__class__ is str and v.isascii() and v.isdigit():  # type: ignore[union-attr]
        n = int(v)  # type: ignore[arg-type]
    else:
        raise Unusual
    if not 0 <= n < limit:  # type: ignore[operator]
        raise Unusual
    return n  # type: ignore[return-value]


def digits(v: object) -> int:
    """A 64-bit integer written as a string of digits (OTLP/JSON's usual form)."""
    if v.__class__ is not str or not (v.isascii() and v.isdigit()):  # type: ignore[union-attr]
        raise Unusual
    return int(v)  # type: ignore[arg-type]


def hex_id(v: object, size: int) -> bytes:
    if v.__class__ is not str or len(v) != 2 * size:  # type: ignore[arg-type]
        raise Unusual
    try:
        raw = bytes.fromhex(v)  # type: ignore[arg-type]
    except ValueError:
        raise Unusual from None
    if len(raw) != size or not any(raw):  # whitespace inside, or the reserved all-zero id
        raise Unusual
    return raw


def text(v: object) -> bytes:
    if v.__class__ is not str:
        raise Unusual
    try:
        return v.encode()  # type: ignore[union-attr]
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
        raise Unusual from None


def _int64(raw: object) -> bytes:
    """intValue's varint (a number, or a string of digits with an optional minus)."""
    if raw.__class__ is int:
        n = raw
    elif raw.__class__ is str and raw.lstrip("-").isascii() and raw.lstrip("-").isdigit() and raw.count("-") <= 1 \
            and not raw.startswith("-", 1):  # type: ignore[union-attr]
        n = int(raw)  # type: ignore[arg-type]
    else:
        raise Unusual
    if not -_I64 <= n < _I64:  # type: ignore[operator]
        raise Unusual
    return varint(n % U64)  # type: ignore[operator]


def _any_value(kind: str, raw: object) -> bytes:
    """AnyValue's bytes (a oneof: written even when it holds the default)."""
    if kind == "stringValue":
        return field(0x0A, text(raw))
    if kind == "intValue":
        return b"\x18" + _int64(raw)
    if kind == "boolValue" and raw.__class__ is bool:
        return b"\x10\x01" if raw else b"\x10\x00"
    if kind == "doubleValue" and raw.__class__ in (int, float):
        return b"\x21" + _double(raw)  # type: ignore[arg-type]
    raise Unusual  # arrays, maps, bytes, an empty value, or a wrong type: the exact parser decides


def _key(k: object, cache: dict) -> dict:
    """What is remembered for key `k`: under None its encoding, under a string value the whole
    field, under a length n the field's bytes before a string value of n bytes (-n: an integer's
    varint of n bytes; float: a double's), under (digits,) an integer's whole field."""
    if len(cache) >= KEYS:
        cache.clear()
    values = cache[k] = {None: field(0x0A, text(k))}
    return values


def _prefix(values: dict, n: int, tag: int, inner: bytes, name: object) -> bytes:
    """The field's bytes before a value of n bytes, `inner` its AnyValue head; kept as `name`."""
    value_head = b"\x12" + varint(len(inner) + n) + inner
    p = bytes((tag,)) + varint(len(values[None]) + len(value_head) + n) + values[None] + value_head
    if len(values) <= VALUES_PER_KEY:
        values[name] = p
    return p


def _other(values: dict, value: dict, tag: int) -> bytes:
    """An attribute of another kind: an integer, a double, a bool, or something unusual."""
    (kind, raw), = value.items()
    if kind == "intValue" and raw.__class__ is str:
        if raw.isdigit() and raw.isascii() and len(raw) < 19:  # the usual form: digits, below 2^63
            v = varint(int(raw))
            b = (values.get(-len(v)) or _prefix(values, len(v), tag, b"\x18", -len(v))) + v
            if len(values) <= VALUES_PER_KEY:
                values[(raw,)] = b
            return b
    elif kind == "doubleValue" and raw.__class__ is float:
        return (values.get(float) or _prefix(values, 8, tag, b"\x21", float)) + _double(raw)
    body = values[None] + field(0x12, _any_value(kind, raw))
    n = len(body)
    return (bytes((tag, n)) if n < 0x80 else bytes((tag,)) + varint(n)) + body


def attributes(items: object, tag: int, cache: dict) -> list[bytes]:
    """Each KeyValue as a field with `tag` (KeyError, TypeError… on a wrong shape: the caller's
    Unusual). `cache` maps a key to what _key says."""
    if items.__class__ is not list:
        raise Unusual
    out = []
    append = out.append
    for kv in items:  # type: ignore[attr-defined]
        value = kv["value"]
        if len(kv) != 2 or len(value) != 1:
            raise Unusual
        k = kv["key"]
        values = cache.get(k)
        if values is None:
            values = _key(k, cache)
        s = value.get("stringValue")
        if s.__class__ is str:
            b = values.get(s)
            if b is None:
                v = s.encode()  # UnicodeEncodeError (a ValueError): a lone surrogate
                n = len(v)
                b = (values.get(n) or _prefix(values, n, tag, b"\x0a" + varint(n), n)) + v
                if len(values) <= VALUES_PER_KEY:
                    values[s] = b
            append(b)
        else:
            b = values.get((value.get("intValue"),))  # an integer remembered (in digits)
            append(b if b is not None else _other(values, value, tag))
    return out

"""The second pass's byte patching (patch.py) against the protobuf rewrite it replaces: the same
requests, span for span, for every shape the encoder writes — and the exact path wherever a
patch cannot be used."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.traces import encoder, otlpjson, patch, replay, spool, values, wire
from tests.fixtures.counts import FIXTURES
from tests.test_replay import MIXED, MIXED_SPANS, _Capture, _Clock, _every_field, _spans
from tests import traceplan


def _records() -> list[object]:
    """Every record of every fixture, and the request that uses every field."""
    return [_every_field()] + [data for path in FIXTURES.values() for _, _, data in otlpjson.records(path)]


def _exact(chunk: wire.Chunk, shift: int, ids: patch.Ids | None) -> tuple[ExportTraceServiceRequest, dict, int]:
    req = ExportTraceServiceRequest.FromString(chunk.data)
    traces: dict[bytes, None] = {}
    _, due = patch.rewrite(req, shift, None, None, ids, traces)
    return req, traces, due


@pytest.mark.parametrize("shift", [0, 1, 10**18, -5])  # -5: the lowest time here is 5
@pytest.mark.parametrize("fresh", [True, False])
def test_a_patched_chunk_is_what_the_protobuf_rewrite_makes(shift, fresh):
    ids = patch.Ids() if fresh else None
    enc, checked = encoder.Encoder(max_spans=3), 0
    for data in _records():
        for chunk in enc.chunks(data):
            fast = patch.patched(chunk, shift, ids)
            assert fast is not None
            data_, traces, due = fast
            req, expected_traces, expected_due = _exact(chunk, shift, ids)
            assert ExportTraceServiceRequest.FromString(data_) == req
            assert (list(traces), due) == (list(expected_traces), expected_due)
            checked += chunk.spans
    assert checked == 2 + sum(_count(p) for p in FIXTURES.values())


def _count(path: Path) -> int:
    return len(_spans([r.request for r in traceplan.load(path)]))


def test_links_within_the_trace_move_with_it_and_others_keep_their_ids():
    doc = _every_field()
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["links"].append(dict(span["links"][0], traceId="1" * 32, spanId="2" * 16))
    ids = patch.Ids()
    (chunk,) = encoder.Encoder().chunks(doc)
    data, _, _ = patch.patched(chunk, 0, ids)
    links = ExportTraceServiceRequest.FromString(data).resource_spans[0].scope_spans[0].spans[0].links
    assert [(link.trace_id.hex(), link.span_id.hex()) for link in links] == [
        (ids.trace(bytes.fromhex(span["traceId"])).hex(), ids.span(bytes.fromhex(span["links"][0]["spanId"])).hex()),
        ("1" * 32, "2" * 16)]


def test_a_shift_that_would_take_a_time_out_of_range_is_left_to_the_exact_path():
    doc = _every_field()  # its lowest time is 5 (a start), its highest 7 (an end)
    (chunk,) = encoder.Encoder().chunks(doc)
    assert (chunk.patch.low, chunk.patch.high, chunk.start, chunk.end) == (5, 7, 5, 7)
    assert patch.patched(chunk, -5, None) is not None
    assert patch.patched(chunk, -6, None) is None  # the exact path clamps that start at 0
    assert patch.patched(chunk, (1 << 64) - 8, None) is not None
    assert patch.patched(chunk, (1 << 64) - 7, None) is None
    exact = wire.message_chunks(otlpjson.exact(_every_field(), Path("x"), "1"))
    assert [c.patch for c in exact] == [None]


def test_an_event_time_and_an_end_before_the_start_bound_the_patch():
    doc = _every_field()
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    span["endTimeUnixNano"], span["events"][0]["timeUnixNano"] = "3", "900"  # it ends before it starts
    (chunk,) = encoder.Encoder().chunks(doc)
    assert (chunk.patch.low, chunk.patch.high, chunk.start, chunk.end) == (3, 900, 5, 7)


def _replayed(sp: spool.MemorySpool, scan: spool.Scan, speed: float, loops: int, monkeypatch) -> list:
    keys = iter(bytes([k]) * 16 for k in range(1, 100))
    monkeypatch.setattr(patch.os, "urandom", lambda n: next(keys)[:n])  # the same fresh ids on both paths
    clock, cap = _Clock(2_000_000_000_000_000_000), _Capture()
    replay.replay(sp, scan, cap, speed=speed, loops=loops, clock=clock.time_ns, sleep=clock.sleep)
    return [(s.trace_id, s.span_id, s.parent_span_id, s.start_time_unix_nano, s.end_time_unix_nano,
             [e.time_unix_nano for e in s.events]) for s in _spans(cap.requests)]


@pytest.mark.parametrize("speed", [0, 1])
@pytest.mark.parametrize("patch_bytes", [patch.PATCH_BYTES, 1000])  # 1000: a request patched in many runs
def test_the_replay_sends_the_same_spans_patched_or_rewritten(speed, patch_bytes, monkeypatch):
    monkeypatch.setattr(patch, "PATCH_BYTES", patch_bytes)
    sp = spool.MemorySpool()
    scan = spool.first_pass([MIXED], sp, max_spans=7)
    unpatched, mixed = spool.MemorySpool(), spool.MemorySpool()  # mixed: every other chunk without its patch
    for k, e in enumerate(sp):
        bare = wire.Chunk(e.chunk.data, e.chunk.spans, e.chunk.first, e.chunk.start, e.chunk.end)
        unpatched.add(e.file, e.record, bare)
        mixed.add(e.file, e.record, bare if k % 2 else e.chunk)
    fast, exact = _replayed(sp, scan, speed, 2, monkeypatch), _replayed(unpatched, scan, speed, 2, monkeypatch)
    assert len(fast) == 2 * MIXED_SPANS and fast == exact == _replayed(mixed, scan, speed, 2, monkeypatch)


def test_the_encoder_keeps_few_values_per_key():
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": f"{i + 1:016x}",
         "attributes": [{"key": "id", "value": {"stringValue": f"request-{i}"}},
                        {"key": "method", "value": {"stringValue": "POST"}}]} for i in range(200)]}]}]}
    enc = encoder.Encoder()
    chunks = enc.chunks(json.loads(json.dumps(doc)))
    assert _spans([ExportTraceServiceRequest.FromString(chunks[0].data)])[199].attributes[0].value.string_value == \
        "request-199"
    remembered = enc._span_attrs  # a key's entry: its encoding, prefixes by length, and values
    assert len(remembered["id"]) == values.VALUES_PER_KEY + 1 and "request-199" not in remembered["id"]
    assert [v for v in remembered["method"] if isinstance(v, str)] == ["POST"]

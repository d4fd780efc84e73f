"""Replay logic: parsing rules, the encoder, timing, ids, and what reaches the wire — with
failures: an in-process gRPC (or HTTP) server stands in for the collector and fails on cue, and
every test counts exactly what it accepted. tests/live replays into the real collector."""
from __future__ import annotations

import gzip
import http.server
import json
import socket
import subprocess
import sys
import threading
import tracemalloc
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from plano_obs.config import paths
from plano_obs.traces import account, encoder, firstpass, otlpjson, replay, resume, sender as otlp, spool, wire
from tests.fixtures.counts import FIXTURES, counts
from tests import traceplan

MIXED = FIXTURES["plano-mixed.jsonl"]
MIXED_SPANS = counts(MIXED)["spans"]["spans"]
MIXED_TRACES = counts(MIXED)["traces"]["traces"]
MIXED_RECORDS = len(MIXED.read_text().splitlines())
UNAVAILABLE, INVALID = grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INVALID_ARGUMENT


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Takes requests like the collector; `fail(call)` (calls counted from 1, retries included)
    returns a status code to refuse that call with, or None to take it."""

    def __init__(self, reject: int = 0, fail=None) -> None:
        self.requests, self.reject, self.fail, self.calls = [], reject, fail or (lambda call: None), 0
        self.lock = threading.Lock()

    def Export(self, request, context):
        with self.lock:
            self.calls += 1
            code = self.fail(self.calls)
            if code is None:
                self.requests.append(request)
        if code is not None:
            context.abort(code, "the test collector says no")
        resp = ExportTraceServiceResponse()
        if self.reject:
            resp.partial_success.rejected_spans = self.reject
            resp.partial_success.error_message = "test rejects"
        return resp


def after(n: int, code=UNAVAILABLE):
    """Takes the first `n` calls, refuses every later one (a collector gone mid-replay)."""
    return lambda call: code if call > n else None


def first(k: int, code=UNAVAILABLE):
    """Refuses the first `k` calls, then takes every one (a collector coming back)."""
    return lambda call: code if call <= k else None


@pytest.fixture(autouse=True)
def _no_spool_cache(monkeypatch):
    """Replays here (and the commands they start) keep no spool between runs: each test parses
    what it replays (tests/test_replay_cache.py tests the cache)."""
    monkeypatch.setenv("PLANO_REPLAY_CACHE", "off")


@pytest.fixture(autouse=True)
def _own_state(tmp_path, monkeypatch):
    """A state folder per test (the replays it starts inherit it): stopped replays note their
    state there, never beside the input."""
    monkeypatch.setenv("PLANO_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def collector():
    servers = []

    def start(reject: int = 0, fail=None):
        svc = _Collector(reject, fail)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(svc, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        svc.server = server
        return svc, f"127.0.0.1:{port}"
    yield start
    for s in servers:
        s.stop(0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoke(*args):
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=60)


def _spans(requests):
    return [span for r in requests for rs in r.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _ids(requests) -> list[tuple[bytes, bytes]]:
    return [(s.trace_id, s.span_id) for s in _spans(requests)]


def _file_ids(*paths: Path) -> list[tuple[bytes, bytes]]:
    return [(s.trace_id, s.span_id) for p in paths for rec in traceplan.load(p) for s in _spans([rec.request])]


def _copies(path: Path, out: Path, k: int) -> Path:
    """`k` copies of a fixture, each with its own trace ids (so k times the traces)."""
    lines = []
    for i in range(k):
        for line in path.read_text().splitlines():
            doc = json.loads(line)
            for rs in doc["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        span["traceId"] = f"{i:08x}" + span["traceId"][8:]
            lines.append(json.dumps(doc))
    out.write_text("\n".join(lines) + "\n")
    return out


# --- reading ------------------------------------------------------------------------------

@pytest.mark.parametrize("content, expected", [
    ("this is not json\n", "bad.jsonl:1: not JSON"),
    ('{"foo": 1}\n', "bad.jsonl:1: not an OTLP traces request: no resourceSpans"),
    ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", '
     '"startTimeUnixNano": "yesterday"}]}]}]}\n', "bad.jsonl:1: resourceSpans.scopeSpans.spans.startTimeUnixNano: invalid literal"),
    ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0af76519", "spanId": "b7ad6b7169203331"}]}]}]}\n',
     "traceId must be 32 hex digits"),
    ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", '
     '"kind": "SPAN_KIND_SIDEWAYS"}]}]}]}\n', "bad.jsonl:1: resourceSpans.scopeSpans.spans.kind: Invalid enum value"),
    ("", "bad.jsonl:1: empty file"),
])
def test_bad_files_name_file_and_line(tmp_path, content, expected):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(otlpjson.OtlpFileError) as err:
        traceplan.load(bad)
    assert expected in err.value.line()


def test_truncated_file_names_the_last_line(tmp_path):
    lines = MIXED.read_text().splitlines()
    bad = tmp_path / "cut.jsonl"
    bad.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
    with pytest.raises(otlpjson.OtlpFileError, match=r"cut.jsonl:4: truncated JSON"):
        traceplan.load(bad)


def test_enums_as_names_and_ints_as_numbers_are_accepted(tmp_path):
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "parentSpanId": "",
        "kind": "SPAN_KIND_INTERNAL", "startTimeUnixNano": 1000, "endTimeUnixNano": "2000",
        "attributes": [{"key": "http.status_code", "value": {"intValue": 429}}]}]}]}]}
    f = tmp_path / "ok.json"
    f.write_text(json.dumps(doc, indent=1))
    (rec,) = traceplan.load(f)
    span = rec.request.resource_spans[0].scope_spans[0].spans[0]
    assert (span.kind, span.start_time_unix_nano, span.attributes[0].value.int_value) == (1, 1000, 429)
    assert span.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"


def test_json_line_round_trip_keeps_hex_ids():
    (rec, *_) = traceplan.load(MIXED)
    line = otlpjson.to_json_line(rec.request)
    assert json.loads(line) == json.loads(MIXED.read_text().splitlines()[0])


# --- the encoder ----------------------------------------------------------------------------

_T, _S, _P = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "00f067aa0ba902b7"


def _every_field() -> dict:
    """A request using every field OTLP/JSON traces have, in both spellings of enums and integers."""
    span = {"traceId": _T, "spanId": _S, "parentSpanId": _P, "traceState": "k=v", "name": "n", "kind": "SPAN_KIND_CLIENT",
            "startTimeUnixNano": "5", "endTimeUnixNano": 7,
            "attributes": [{"key": "s", "value": {"stringValue": "é"}}, {"key": "i", "value": {"intValue": "-3"}},
                           {"key": "b", "value": {"boolValue": False}}, {"key": "d", "value": {"doubleValue": 1.5}}],
            "droppedAttributesCount": 2,
            "events": [{"timeUnixNano": "6", "name": "ev", "attributes": [{"key": "x", "value": {"intValue": 1}}],
                        "droppedAttributesCount": 1}],
            "droppedEventsCount": 3,
            "links": [{"traceId": _T, "spanId": _P, "traceState": "a=b", "attributes": [{"key": "l", "value": {"stringValue": ""}}],
                       "droppedAttributesCount": 4, "flags": 257}],
            "droppedLinksCount": 5, "status": {"code": "STATUS_CODE_ERROR", "message": "boom"}, "flags": 769}
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}], "droppedAttributesCount": 1},
        "schemaUrl": "https://r",
        "scopeSpans": [{"scope": {"name": "sc", "version": "1", "attributes": [{"key": "q", "value": {"boolValue": True}}],
                                  "droppedAttributesCount": 2},
                        "schemaUrl": "https://s", "spans": [span, _clone(span, spanId="1111111111111111", kind=3)]}]}]}


def _clone(span: dict, **fields) -> dict:
    """A deep copy (the exact parser rewrites ids in place) with some fields changed."""
    return dict(json.loads(json.dumps(span)), **fields)


def _decoded(chunks: list[wire.Chunk]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(b"".join(c.data for c in chunks))


def test_the_encoder_writes_what_the_exact_parser_reads():
    exact = otlpjson.exact(_every_field(), Path("x.jsonl"), "1")
    assert _decoded(encoder.Encoder().chunks(_every_field())) == exact
    assert len(_spans([exact])) == 2


def test_values_of_every_size_and_kind_are_written_as_the_exact_parser_reads_them():
    """Lengths around each varint boundary, remembered and not, under a short and a long key."""
    values = [{"stringValue": "x" * n} for n in (0, 1, 125, 126, 127, 128, 200, 255, 256, 300, 16383, 16384, 20000)]
    values += [{"stringValue": "é" * 100}, {"intValue": 3}, {"intValue": "-3"}, {"intValue": "007"}]
    values += [{"intValue": str(n)} for n in (0, 127, 128, 16383, 16384, 2**35, 2**63 - 1)]
    values += [{"doubleValue": d} for d in (1.5, 1, -0.0, 1e300)] + [{"boolValue": True}, {"boolValue": False}]
    attrs = [{"key": key, "value": v} for key in ("k", "k" * 200) for v in values]
    doc = {"resourceSpans": [{"resource": {"attributes": attrs}, "scopeSpans": [{"scope": {"name": "s"}, "spans": [
        {"traceId": _T, "spanId": f"{i + 1:016x}", "attributes": attrs} for i in range(3)]}]}]}
    enc = encoder.Encoder()
    for _ in range(2):  # the second time from what the first remembered
        assert _decoded(enc.chunks(json.loads(json.dumps(doc)))) == otlpjson.exact(json.loads(json.dumps(doc)), Path("x"), "1")


def test_a_big_record_is_cut_into_chunks_that_repeat_resource_and_scope():
    doc = _every_field()
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans += [_clone(spans[0], spanId=f"{i:016x}") for i in range(2, 5)]  # 5 spans
    chunks = encoder.Encoder(max_spans=2).chunks(doc)
    assert [(c.first, c.spans) for c in chunks] == [(0, 2), (2, 2), (4, 1)]
    for c in chunks:
        (rs,) = _decoded([c]).resource_spans
        assert (rs.resource.attributes[0].value.string_value, rs.scope_spans[0].scope.name) == ("svc", "sc")
    assert _decoded(chunks).resource_spans[2].scope_spans[0].spans[0].span_id.hex() == f"{4:016x}"


def test_unusual_shapes_take_the_exact_parser_and_are_spooled_the_same(tmp_path):
    doc = _every_field()
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(
        {"key": "a", "value": {"arrayValue": {"values": [{"intValue": "1"}]}}})
    with pytest.raises(wire.Unusual):
        encoder.Encoder().chunks(json.loads(json.dumps(doc)))
    (tmp_path / "a.jsonl").write_text(json.dumps(doc) + "\n")
    sp = spool.MemorySpool()
    scan = spool.first_pass([tmp_path / "a.jsonl"], sp)
    (entry,) = list(sp)
    assert (scan.records, scan.spans, entry.chunk.spans) == (1, 2, 2)
    assert _decoded([entry.chunk]) == otlpjson.exact(doc, tmp_path / "a.jsonl", "1")


# --- timing and ids -------------------------------------------------------------------------

class _Clock:
    def __init__(self, now: int) -> None:
        self.now = now
        self.slept: list[float] = []

    def time_ns(self) -> int:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += round(s * 1e9)  # sleep takes float seconds: back to whole ns

    def monotonic(self) -> float:
        return self.now / 1e9

    def pause(self, s: float) -> bool:
        self.sleep(s)
        return False  # never stopped


class _Capture:
    def __init__(self):
        self.requests = []

    def send(self, data: bytes) -> int:
        self.requests.append(ExportTraceServiceRequest.FromString(data))
        return 0


def _scanned(*paths: Path, trace_starts: bool = False, max_spans: int = wire.MAX_SPANS, start=None):
    sp = spool.MemorySpool()
    return sp, spool.first_pass(list(paths), sp, start=start, trace_starts=trace_starts, max_spans=max_spans)


def _replay(speed, fresh=True, loops=1):
    """Replays the mixed fixture on a fake clock; returns the fixture's plan, the clock, what was sent."""
    sp, scan = _scanned(MIXED, trace_starts=speed not in (0, 1))
    clock, cap = _Clock(2_000_000_000_000_000_000), _Capture()
    summary = replay.replay(sp, scan, cap, speed=speed, loops=loops, fresh_ids=fresh, clock=clock.time_ns, sleep=clock.sleep)
    return traceplan.plan(traceplan.load(MIXED)), clock, cap, summary


def _bounds(trace: traceplan.Trace) -> tuple[int, int]:
    return (min(s.start_time_unix_nano for s in trace.spans),
            max(max(s.end_time_unix_nano, s.start_time_unix_nano) for s in trace.spans))


def test_speed_zero_sends_at_once_and_the_recording_ends_now():
    plan, clock, cap, summary = _replay(0)
    spans = _spans(cap.requests)
    assert clock.slept == [] and len(spans) == summary.spans == MIXED_SPANS
    assert max(s.end_time_unix_nano for s in spans) == clock.now
    # relative timing kept: the shift is the same for every span
    original = sorted(s.start_time_unix_nano for t in plan.traces for s in t.spans)
    shifted = sorted(s.start_time_unix_nano for s in spans)
    assert {b - a for a, b in zip(original, shifted)} == {shifted[0] - original[0]}


def test_keep_times_sends_the_recorded_timestamps_and_ids_at_once():
    """A re-send of what a backend lost (traces/guard.py): every span exactly as recorded."""
    sp, scan = _scanned(MIXED)
    clock, cap = _Clock(2_000_000_000_000_000_000), _Capture()
    summary = replay.replay(sp, scan, cap, speed=1, fresh_ids=False, keep_times=True, clock=clock.time_ns, sleep=clock.sleep)
    recorded = sorted((s.trace_id, s.span_id, s.start_time_unix_nano, s.end_time_unix_nano)
                      for r in traceplan.load(MIXED) for s in _spans([r.request]))
    sent = sorted((s.trace_id, s.span_id, s.start_time_unix_nano, s.end_time_unix_nano) for s in _spans(cap.requests))
    assert clock.slept == [] and summary.spans == MIXED_SPANS
    assert sent == recorded


def test_speed_compresses_gaps_but_not_durations():
    plan, clock, cap, _ = _replay(4)
    start_ns = 2_000_000_000_000_000_000
    rec_start = min(_bounds(t)[0] for t in plan.traces)
    rec_end_offsets = max(int((_bounds(t)[0] - rec_start) / 4) + (_bounds(t)[1] - _bounds(t)[0]) for t in plan.traces)
    assert clock.now == start_ns + rec_end_offsets  # the replay lasts the compressed recording
    spans = _spans(cap.requests)
    assert max(s.end_time_unix_nano for s in spans) <= clock.now  # nothing in the future
    durations = sorted(s.end_time_unix_nano - s.start_time_unix_nano for t in plan.traces for s in t.spans)
    assert sorted(s.end_time_unix_nano - s.start_time_unix_nano for s in spans) == durations
    # offsets inside each trace kept: one shift per trace
    new_tid = {}
    for s in spans:
        new_tid.setdefault(s.trace_id, []).append(s.start_time_unix_nano)
    assert sorted(max(v) - min(v) for v in new_tid.values()) == \
        sorted(max(s.start_time_unix_nano for s in t.spans) - min(s.start_time_unix_nano for s in t.spans) for t in plan.traces)


def test_speed_one_keeps_the_recordings_pace():
    plan, clock, cap, _ = _replay(1)
    rec_start = min(_bounds(t)[0] for t in plan.traces)
    rec_end = max(_bounds(t)[1] for t in plan.traces)
    assert clock.now - 2_000_000_000_000_000_000 == rec_end - rec_start
    assert max(s.end_time_unix_nano for s in _spans(cap.requests)) == clock.now


def test_fresh_ids_keep_parent_links_and_differ_per_loop():
    plan, _, cap, summary = _replay(0, loops=2)
    spans = _spans(cap.requests)
    assert summary.traces == 2 * MIXED_TRACES and len(set(summary.trace_ids)) == 2 * MIXED_TRACES
    old_ids = {t.trace_id.hex() for t in plan.traces}
    assert not old_ids & set(summary.trace_ids)
    by_trace: dict[bytes, set] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, set()).add(s.span_id)
    for s in spans:
        assert not s.parent_span_id or s.parent_span_id in by_trace[s.trace_id]
    roots = sum(1 for s in spans if not s.parent_span_id)
    assert roots == 2 * MIXED_TRACES  # one root per trace, as recorded


def test_fresh_ids_are_the_same_for_a_trace_split_over_records(tmp_path):
    """A trace whose spans lie in two records (and files) gets one new id, its parent links kept."""
    lines = (FIXTURES["plano-brightstaff.jsonl"]).read_text().splitlines()
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:4]) + "\n")
    (tmp_path / "b.jsonl").write_text("\n".join(lines[4:]) + "\n")
    sp, scan = _scanned(tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    cap = _Capture()
    summary = replay.replay(sp, scan, cap, speed=0, batch_spans=1)
    original = traceplan.plan(traceplan.load(FIXTURES["plano-brightstaff.jsonl"]))
    assert summary.traces == len(original.traces) and len(cap.requests) == 9  # one request a record
    sent = traceplan.plan([otlpjson.Record(Path("x"), "1", r) for r in cap.requests])
    assert sorted(len(t.spans) for t in sent.traces) == sorted(len(t.spans) for t in original.traces)
    ids = {s.span_id for s in _spans(cap.requests)}
    assert all(not s.parent_span_id or s.parent_span_id in ids for s in _spans(cap.requests))


def test_keep_ids_sends_ids_unchanged():
    plan, _, cap, summary = _replay(0, fresh=False)
    assert set(summary.trace_ids) == {t.trace_id.hex() for t in plan.traces}
    assert {s.span_id for s in _spans(cap.requests)} == {s.span_id for t in plan.traces for s in t.spans}


def test_rate_limits_spans_per_second():
    sp, scan = _scanned(MIXED)
    slept = []
    summary = replay.replay(sp, scan, _Capture(), speed=0, rate=100, batch_spans=50, sleep=slept.append)
    assert summary.spans == MIXED_SPANS and sum(slept) > 1.2  # ~200 spans at 100/s: the last batch waits ~2 s


# --- failures: retried, counted, resumed ----------------------------------------------------

def _send(paths, endpoint, *, protocol="grpc", retry_for=0.0, start=None, loops=1, batch_spans=50,
          max_spans=wire.MAX_SPANS, progress=None):
    """Replays `paths` (ids kept) into `endpoint` on a fake clock; returns (summary, retry waits)."""
    sp, scan = _scanned(*paths, max_spans=max_spans, start=start)
    clock = _Clock(0)
    retry = otlp.Retry(retry_for=retry_for, clock=clock.monotonic, pause=clock.pause)
    client = otlp.Sender(endpoint, protocol)
    try:
        summary = replay.replay(sp, scan, client, speed=0, loops=loops, fresh_ids=False, retry=retry, start=start,
                                batch_spans=batch_spans, progress=progress)
    finally:
        client.close()
    if summary.next is not None:
        summary.unsent_traces = account.unsent_traces(sp, summary.next, loops)
    return summary, clock.slept


# The mixed fixture's 40 records hold 3, 6, 10, 3, … spans (one trace each): in requests of at
# least 50 spans they go out as 58, 50, 50, 51 and 22 spans (records 1–9, 10–19, 20–27, 28–36, 37–40).
FIRST_TWO = (58, 50)


def test_unavailable_three_times_then_accepted_is_retried_without_duplicates(collector):
    svc, endpoint = collector(fail=first(3))
    summary, waits = _send([MIXED], endpoint, retry_for=30)
    assert waits == [0.5, 1.0, 2.0] and summary.retries == 3 and svc.calls == len(svc.requests) + 3
    assert sorted(_ids(svc.requests)) == sorted(_file_ids(MIXED))  # each span exactly once
    assert (summary.accepted, summary.rejected, summary.unsent, summary.next) == (MIXED_SPANS, 0, 0, None)


def test_retries_stop_after_retry_for_and_the_rest_is_unsent(collector):
    svc, endpoint = collector(fail=after(2))
    summary, waits = _send([MIXED], endpoint, retry_for=5)
    assert waits == [0.5, 1.0, 2.0, 1.5]  # doubling, the last wait cut to end at 5 s
    assert [len(_spans([r])) for r in svc.requests] == list(FIRST_TWO)
    assert summary.failure.transient and "UNAVAILABLE" in summary.failure.cause
    assert (summary.accepted, summary.rejected, summary.unsent) == (sum(FIRST_TWO), 0, MIXED_SPANS - sum(FIRST_TWO))
    assert summary.next == spool.Position(1, 0, 20, 0)  # the first record of the failed request
    unsent_ids = set(_file_ids(MIXED)) - set(_ids(svc.requests))
    assert summary.unsent_traces == len({t for t, _ in unsent_ids})
    assert summary.traces == len({s.trace_id for s in _spans(svc.requests)})


def test_a_permanent_error_is_not_retried(collector):
    svc, endpoint = collector(fail=first(1, INVALID))
    summary, waits = _send([MIXED], endpoint, retry_for=30)
    assert (svc.calls, waits, summary.retries, summary.failure.transient) == (1, [], 0, False)
    assert (summary.accepted, summary.unsent, summary.unsent_traces) == (0, MIXED_SPANS, MIXED_TRACES)
    assert summary.next == spool.Position(1, 0, 1, 0)


def test_partial_success_counts_refused_spans(collector):
    svc, endpoint = collector(reject=3)
    summary, _ = _send([MIXED], endpoint)
    assert (summary.requests, summary.spans, summary.rejected) == (len(svc.requests), MIXED_SPANS, 3 * len(svc.requests))
    assert (summary.accepted, summary.unsent, summary.next) == (MIXED_SPANS - 3 * len(svc.requests), 0, None)


def test_a_collector_stopped_mid_replay_leaves_an_exact_account(collector):
    holder = {}

    def die_at_the_second(call):
        if call == 2:
            holder["svc"].server.stop(0)  # gone, as a SIGKILL leaves it: this call cut, later ones refused
            return UNAVAILABLE
        return None

    svc, endpoint = collector(fail=die_at_the_second)
    holder["svc"] = svc
    acked = []
    summary, _ = _send([MIXED], endpoint, progress=acked.append)
    assert summary.failure and summary.failure.transient and acked == [FIRST_TWO[0]]
    assert (summary.accepted, summary.unsent) == (FIRST_TWO[0], MIXED_SPANS - FIRST_TWO[0])
    assert summary.next == spool.Position(1, 0, 10, 0)
    assert len(_spans(svc.requests)) == FIRST_TWO[0]


def test_resume_sends_exactly_the_rest(collector):
    svc1, endpoint1 = collector(fail=after(2))
    first_run, _ = _send([MIXED], endpoint1)
    svc2, endpoint2 = collector()
    rest, _ = _send([MIXED], endpoint2, start=first_run.next)
    assert (rest.total_spans, rest.accepted, rest.next) == (MIXED_SPANS - sum(FIRST_TWO), MIXED_SPANS - sum(FIRST_TWO), None)
    assert sorted(_ids(svc1.requests) + _ids(svc2.requests)) == sorted(_file_ids(MIXED))  # all, once


@pytest.mark.parametrize("resume_chunks", [2, 3])  # the same chunks as the stopped run, or others
def test_resume_inside_a_record_cut_into_chunks(collector, tmp_path, resume_chunks):
    doc = _every_field()
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans += [_clone(spans[0], spanId=f"{i:016x}") for i in range(2, 7)]  # one record of 7 spans
    path = tmp_path / "one.json"
    path.write_text(json.dumps(doc, indent=1))
    svc1, endpoint1 = collector(fail=after(1))
    first_run, _ = _send([path], endpoint1, max_spans=2, batch_spans=2)
    assert (first_run.accepted, first_run.next) == (2, spool.Position(1, 0, 1, 2))
    svc2, endpoint2 = collector()
    rest, _ = _send([path], endpoint2, start=first_run.next, max_spans=resume_chunks, batch_spans=2)
    assert rest.accepted == 5
    assert _ids(svc1.requests) + _ids(svc2.requests) == _file_ids(path)  # in order, each once


def test_resume_in_a_later_loop_finishes_that_loop_only(collector):
    svc1, endpoint1 = collector(fail=lambda call: UNAVAILABLE if call == 7 else None)  # loop 1: 5 requests
    first_run, _ = _send([MIXED], endpoint1, loops=2)
    assert first_run.next == spool.Position(2, 0, 10, 0) and first_run.accepted == MIXED_SPANS + FIRST_TWO[0]
    assert first_run.unsent_traces == len({t for t, _ in set(_file_ids(MIXED)) - set(_ids(svc1.requests[5:]))})
    svc2, endpoint2 = collector()
    rest, _ = _send([MIXED], endpoint2, loops=2, start=first_run.next)
    assert rest.accepted == MIXED_SPANS - FIRST_TWO[0]
    assert sorted(_ids(svc1.requests[5:]) + _ids(svc2.requests)) == sorted(_file_ids(MIXED))


class _HttpCollector(http.server.BaseHTTPRequestHandler):
    """OTLP/HTTP answering from `script` (statuses, then 200s); 200s keep the request."""
    script: list = []
    requests: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, headers = self.script.pop(0) if self.script else (200, {})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        data = ExportTraceServiceResponse().SerializeToString() if status == 200 else b"no"
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if status == 200:
            self.requests.append(ExportTraceServiceRequest.FromString(body))

    def log_message(self, *args):
        pass


@pytest.fixture
def http_collector():
    servers = []

    def start(script):
        handler = type("H", (_HttpCollector,), {"script": list(script), "requests": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return handler, f"127.0.0.1:{server.server_address[1]}"
    yield start
    for s in servers:
        s.shutdown()


def test_http_503_and_429_are_retried_honouring_retry_after(http_collector):
    handler, endpoint = http_collector([(503, {}), (429, {"Retry-After": "3"})])
    summary, waits = _send([MIXED], endpoint, protocol="http", retry_for=30)
    assert waits == [0.5, 3.0] and summary.retries == 2
    assert sorted(_ids(handler.requests)) == sorted(_file_ids(MIXED))


def test_http_400_is_not_retried(http_collector):
    handler, endpoint = http_collector([(400, {})])
    summary, waits = _send([MIXED], endpoint, protocol="http", retry_for=30)
    assert (waits, summary.accepted, summary.unsent) == ([], 0, MIXED_SPANS)
    assert "answered HTTP 400" in summary.failure.cause and not summary.failure.transient


# --- memory: the first pass holds one record at a time --------------------------------------

def _peak_scan(path: Path, tmp_path: Path, workers: int = 1) -> tuple[int, int]:
    with spool.Spool(str(tmp_path)) as sp:
        tracemalloc.start()
        try:
            scan = spool.first_pass([path], sp, workers=workers)
            return tracemalloc.get_traced_memory()[1], scan.spans
        finally:
            tracemalloc.stop()


def test_validation_memory_does_not_grow_with_the_file(tmp_path, monkeypatch):
    small = _copies(MIXED, tmp_path / "x1.jsonl", 10)
    big = _copies(MIXED, tmp_path / "x4.jsonl", 40)
    gz = tmp_path / "x4.jsonl.gz"
    gz.write_bytes(gzip.compress(big.read_bytes()))
    (peak1, spans1), (peak4, spans4), (peak_gz, spans_gz) = (_peak_scan(p, tmp_path) for p in (small, big, gz))
    assert (spans1, spans4, spans_gz) == (10 * MIXED_SPANS, 40 * MIXED_SPANS, 40 * MIXED_SPANS)
    assert big.stat().st_size > 6 * (1 << 20)  # 6 MiB of JSON held whole would dwarf the bounds below
    assert peak4 < peak1 + (64 << 10) and peak_gz < peak1 + (128 << 10), (peak1, peak4, peak_gz)
    # on worker processes, this process holds the batches in flight: a bounded number
    monkeypatch.setattr(spool, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(firstpass, "BATCH_BYTES", 64 << 10)
    (par1, _), (par4, _) = (_peak_scan(p, tmp_path, workers=2) for p in (small, big))
    assert par4 < par1 + (256 << 10) and par4 < 2 << 20, (par1, par4)


def _merged(path: Path) -> dict:
    """Every record of a fixture as one request (what a one-line dump of a big export looks like)."""
    return {"resourceSpans": [rs for line in path.read_text().splitlines() for rs in json.loads(line)["resourceSpans"]]}


def test_a_huge_record_is_parsed_as_it_is_encoded(tmp_path, monkeypatch):
    monkeypatch.setattr(otlpjson, "BIG_RECORD", 1000)  # every record here is "huge"
    doc = _merged(MIXED)
    one, pretty = tmp_path / "one.jsonl", tmp_path / "doc.json"
    one.write_text(json.dumps(doc) + "\n")
    pretty.write_text(json.dumps(doc, indent=1))
    expected = otlpjson.exact(_merged(MIXED), one, "1")
    for path in (one, pretty):
        sp = spool.MemorySpool()
        scan = spool.first_pass([path], sp, workers=1)
        assert (scan.records, scan.spans) == (1, MIXED_SPANS)
        assert _decoded([e.chunk for e in sp]) == expected
    # anything else is parsed whole, as a small record is, and worded the same
    for content, message in [
        (json.dumps(dict(doc, extra=1)) + "\n", f"{one}:1: Message type \"opentelemetry.proto.collector.trace.v1."
                                                f"ExportTraceServiceRequest\" has no field named \"extra\""),
        (json.dumps(doc)[:-500] + "\n", f"{one}:1: not JSON ("),
        (json.dumps(doc)[:-500], f"{one}:1: truncated JSON (the file ends mid-record)"),
    ]:
        one.write_text(content)
        errors = []
        for limit in (1000, 1 << 40):  # split, and whole
            monkeypatch.setattr(otlpjson, "BIG_RECORD", limit)
            with pytest.raises(otlpjson.OtlpFileError) as err:
                spool.first_pass([one], spool.MemorySpool(), workers=1)
            errors.append(err.value.line())
        assert errors[0] == errors[1] and errors[0].startswith(message), errors
    monkeypatch.setattr(otlpjson, "BIG_RECORD", 1000)
    unusual = _merged(MIXED)
    unusual["resourceSpans"][-1]["scopeSpans"][0]["spans"][0]["attributes"].append(
        {"key": "a", "value": {"arrayValue": {"values": []}}})
    one.write_text(json.dumps(unusual) + "\n")
    assert spool.first_pass([one], spool.MemorySpool(), workers=1).spans == MIXED_SPANS


def test_a_huge_record_found_unusual_late_is_spooled_once_whole(tmp_path, monkeypatch):
    """Its chunks go to the spool as they are cut; an unusual part near its end voids them and
    the record is read again whole (by the exact parser), in a file spool and in memory."""
    monkeypatch.setattr(otlpjson, "BIG_RECORD", 1000)
    doc = _merged(MIXED)
    doc["resourceSpans"][-1]["scopeSpans"][0]["spans"][0]["attributes"].append(
        {"key": "a", "value": {"arrayValue": {"values": []}}})
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(doc) + "\n")
    expected = otlpjson.exact(json.loads(json.dumps(doc)), one, "1")
    for sp in (spool.Spool(str(tmp_path), cache=False), spool.MemorySpool()):
        with sp:
            scan = spool.first_pass([one], sp, workers=1, max_spans=7)
            entries = list(sp)
            assert (scan.records, scan.spans, len(entries)) == (1, MIXED_SPANS, -(-MIXED_SPANS // 7))
            assert [e.chunk.first for e in entries] == list(range(0, MIXED_SPANS, 7))
            assert [e.chunk.patch for e in entries] == [None] * len(entries)  # the exact path's chunks
            assert _spans([ExportTraceServiceRequest.FromString(b"".join(e.chunk.data for e in entries))]) == \
                _spans([expected])


def test_a_huge_record_costs_under_four_times_its_size_not_ten(tmp_path, monkeypatch):
    big = tmp_path / "one.jsonl"
    big.write_text(json.dumps(_merged(_copies(MIXED, tmp_path / "x.jsonl", 10))) + "\n")
    size = big.stat().st_size
    monkeypatch.setattr(otlpjson, "BIG_RECORD", 1 << 20)
    split, _ = _peak_scan(big, tmp_path)
    monkeypatch.setattr(otlpjson, "BIG_RECORD", 1 << 40)  # parsed whole, as json.loads does
    whole, _ = _peak_scan(big, tmp_path)
    assert split < 4 * size < 8 * size < whole, (size, split, whole)


# --- the command line -----------------------------------------------------------------------

def test_replay_task_sends_everything_over_grpc(collector):
    svc, endpoint = collector()
    r = invoke("traces.replay", f"{MIXED},{FIXTURES['plano-direct.json']}", "--endpoint", endpoint, "--speed", "0", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    both = {k: counts(FIXTURES["plano-mixed.jsonl"])[k][k] + counts(FIXTURES["plano-direct.json"])[k][k] for k in ("traces", "spans")}
    assert (out["traces"], out["spans"], out["rejected_spans"], out["unsent_spans"]) == (both["traces"], both["spans"], 0, 0)
    assert (out["error"], out["resume"]) == (None, None)
    assert len(_spans(svc.requests)) == both["spans"]
    assert sorted(out["trace_ids"]) == sorted({s.trace_id.hex() for s in _spans(svc.requests)})


def test_nothing_is_sent_when_any_file_is_invalid(collector, tmp_path):
    svc, endpoint = collector()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(MIXED.read_text().splitlines()[0] + "\n{oops\n")
    r = invoke("traces.replay", f"{MIXED},{bad}", "--endpoint", endpoint, "--speed", "0")
    assert r.returncode == 1
    assert f"error: {bad}:2: not JSON" in r.stderr and "nothing was sent" in r.stderr
    assert svc.requests == []


def test_partial_success_is_reported_and_fails(collector):
    _, endpoint = collector(reject=3)
    r = invoke("traces.replay", str(FIXTURES["plano-direct.json"]), "--endpoint", endpoint, "--speed", "0")
    assert r.returncode == 1
    assert "error: the collector rejected 3 of 12 spans" in r.stderr


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_failed_replay_prints_one_line_and_its_json_summary_then_resumes(collector, tmp_path):
    # 20 copies of the mixed fixture (800 traces, one a record): requests of 2,000 spans or more
    # (the default) go out as 2,006 spans (records 1–347), then 2,614 (348–800)
    rec = _copies(MIXED, tmp_path / "rec.jsonl", 20)
    total, first_request = 20 * MIXED_SPANS, 2006
    state = resume.default_path(rec)  # in the state folder, named after the input's absolute path
    assert state.parent == tmp_path / "state" / "replay"
    svc1, endpoint1 = collector(fail=after(1))
    r = invoke("traces.replay", str(rec), "--endpoint", endpoint1, "--speed", "0", "--keep-ids", "--retry-for", "0", "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert len(_spans(svc1.requests)) == first_request
    assert (out["accepted_spans"], out["rejected_spans"], out["unsent_spans"], out["total_spans"]) == \
        (first_request, 0, total - first_request, total)
    assert (out["traces"], out["unsent_traces"], out["requests"], out["retries"]) == (347, 453, 1, 0)
    assert out["resume"] == {"loop": 1, "file": str(rec), "record": 348, "span": 0, "state": str(state)}
    (line,) = _errors(r.stderr)
    assert line == f"error: {out['error']}" == (
        f"error: OTLP/gRPC export to {endpoint1} failed: UNAVAILABLE: the test collector says no; "
        f"2,006 of 4,620 spans accepted (347 traces), 0 refused, 2,614 not sent (453 traces) from {rec} record 348 — "
        f"is the stack up (`invoke status`)? is the endpoint right (--endpoint)? Then add --resume to send the rest "
        f"(state: {state})")
    assert json.loads(state.read_text())["next"] == {"loop": 1, "file": str(rec), "record": 348, "span": 0}

    svc2, endpoint2 = collector()
    r = invoke("traces.replay", str(rec), "--endpoint", endpoint2, "--speed", "0", "--keep-ids", "--resume", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["accepted_spans"], out["unsent_spans"], out["traces"], out["resume"]) == (total - first_request, 0, 453, None)
    assert sorted(_ids(svc1.requests) + _ids(svc2.requests)) == sorted(_file_ids(rec))  # every span once
    assert not state.exists()  # finished: nothing left to resume
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.jsonl", "state"]  # nothing beside the input


def test_the_default_state_is_in_the_state_folder_whatever_the_inputs_spelling(tmp_path, monkeypatch):
    import hashlib
    rec = tmp_path / "rec.jsonl"
    rec.write_text("")
    (tmp_path / "link.jsonl").symlink_to(rec)
    monkeypatch.chdir(tmp_path)
    state = resume.default_path(rec)
    assert state == tmp_path / "state" / "replay" / f"{hashlib.sha256(str(rec.resolve()).encode()).hexdigest()}.json"
    assert resume.default_path(Path("rec.jsonl")) == resume.default_path(tmp_path / "link.jsonl") == state
    assert resume.default_path(tmp_path / "other.jsonl") != state


def test_resume_needs_a_state_for_the_same_files(tmp_path):
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(MIXED.read_bytes())
    state = resume.default_path(rec)
    r = invoke("traces.replay", str(rec), "--endpoint", "127.0.0.1:1", "--resume")
    assert (r.returncode, _errors(r.stderr)) == (1, [
        f"error: --resume: no replay state at {state} — nothing to resume (the last replay finished, or none stopped "
        "here); run without --resume to send everything, or name the state with --state FILE"])
    resume.save(state, [rec], 1, spool.Position(1, 0, 3, 0))  # makes the state's replay/ folder
    with rec.open("a") as f:
        f.write(MIXED.read_text().splitlines()[0] + "\n")
    r = invoke("traces.replay", str(rec), "--endpoint", "127.0.0.1:1", "--resume")
    assert _errors(r.stderr) == [f"error: --resume: {rec} changed since the replay stopped (its size or modification "
                                 "time differ) — run without --resume to send it all"]
    r = invoke("traces.replay", str(MIXED), "--endpoint", "127.0.0.1:1", "--resume", "--state", str(state))
    assert _errors(r.stderr) == [f"error: --resume: {state} is for {rec}, not {MIXED} — give the same FILE as the "
                                 "stopped replay, or another --state"]


def test_unreachable_endpoint_fails_with_one_line_and_the_counts(tmp_path):
    port = _free_port()
    rec = tmp_path / "direct.json"
    rec.write_bytes(FIXTURES["plano-direct.json"].read_bytes())
    for protocol in ("grpc", "http"):
        r = invoke("traces.replay", str(rec), "--endpoint", f"127.0.0.1:{port}", "--protocol", protocol, "--speed", "0",
                   "--retry-for", "0")
        assert r.returncode == 1, protocol
        (err,) = _errors(r.stderr)
        assert f"127.0.0.1:{port}" in err and "is the stack up" in err, r.stderr
        assert f"0 of 12 spans accepted (0 traces), 0 refused, 12 not sent (6 traces) from {rec} record 1" in err
        assert err.endswith(f"Then add --resume to send the rest (state: {resume.default_path(rec)})")


def test_a_state_that_cannot_be_saved_is_named_in_the_line(tmp_path):
    rec = tmp_path / "direct.json"
    rec.write_bytes(FIXTURES["plano-direct.json"].read_bytes())
    state = tmp_path / "no" / "such" / "state.json"
    r = invoke("traces.replay", str(rec), "--endpoint", f"127.0.0.1:{_free_port()}", "--speed", "0", "--retry-for", "0",
               "--state", str(state), "--json")
    (err,) = _errors(r.stderr)
    assert err.endswith(f"is the endpoint right (--endpoint)? The resume state could not be saved (cannot save the "
                        f"replay state to {state}: No such file or directory): run it again, with --state FILE in a "
                        "writable folder"), err
    assert json.loads(r.stdout)["resume"]["state"] is None and not state.parent.exists()


def test_an_outage_is_announced_once_then_retried_for_retry_for(tmp_path):
    rec = tmp_path / "direct.json"
    rec.write_bytes(FIXTURES["plano-direct.json"].read_bytes())
    r = invoke("traces.replay", str(rec), "--endpoint", f"127.0.0.1:{_free_port()}", "--speed", "0", "--retry-for", "1.5")
    assert r.returncode == 1
    notices = [line for line in r.stderr.splitlines() if "retrying for up to 1.5s (--retry-for)" in line]
    assert len(notices) == 1 and len(_errors(r.stderr)) == 1 and "(retried for 1.5s)" in _errors(r.stderr)[0]


def test_unknown_protocol_and_missing_file():
    r = invoke("traces.replay", str(MIXED), "--protocol", "carrier-pigeon")
    assert r.returncode == 1 and "error: unknown protocol 'carrier-pigeon' — use grpc or http" in r.stderr
    r = invoke("traces.replay", "nope/*.jsonl")
    assert r.returncode == 1 and "no file matches 'nope/*.jsonl'" in r.stderr


def test_the_first_pass_on_worker_processes_spools_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(spool, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(firstpass, "BATCH_BYTES", 10_000)  # many batches
    big = _copies(MIXED, tmp_path / "x.jsonl", 10)
    one, many = spool.MemorySpool(), spool.MemorySpool()
    s1 = spool.first_pass([big], one, workers=1, trace_starts=True)
    s2 = spool.first_pass([big], many, workers=2, trace_starts=True)
    assert [(e.record, e.chunk) for e in one] == [(e.record, e.chunk) for e in many]
    assert (s2.records, s2.spans, s2.full.start, s2.full.end) == (s1.records, s1.spans, s1.full.start, s1.full.end)
    assert s2.full.traces == s1.full.traces and len(s2.full.traces) == 10 * MIXED_TRACES
    lines = big.read_text().splitlines()
    lines[300] = lines[300][:-1]  # a bad record deep inside a batch
    big.write_text("\n".join(lines) + "\n")
    with pytest.raises(otlpjson.OtlpFileError) as err:
        spool.first_pass([big], spool.MemorySpool(), workers=2)
    assert err.value.line().startswith(f"{big}:301: not JSON (Expecting ',' delimiter at column")

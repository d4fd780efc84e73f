"""Replay logic: parsing rules, timing, ids, and what reaches the wire (an in-process gRPC
server stands in for the collector here; tests/live replays into the real one)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from plano_obs import paths
from plano_obs.traces import otlpjson, replay
from tests.fixtures.counts import FIXTURES, counts

MIXED = FIXTURES["plano-mixed.jsonl"]
MIXED_SPANS = counts(MIXED)["spans"]["spans"]


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, reject: int = 0) -> None:
        self.requests, self.reject = [], reject

    def Export(self, request, context):
        self.requests.append(request)
        resp = ExportTraceServiceResponse()
        if self.reject:
            resp.partial_success.rejected_spans = self.reject
            resp.partial_success.error_message = "test rejects"
        return resp


@pytest.fixture
def collector():
    servers = []

    def start(reject: int = 0):
        svc = _Collector(reject)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(svc, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
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
        otlpjson.load(bad)
    assert expected in err.value.line()


def test_truncated_file_names_the_last_line(tmp_path):
    lines = MIXED.read_text().splitlines()
    bad = tmp_path / "cut.jsonl"
    bad.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
    with pytest.raises(otlpjson.OtlpFileError, match=r"cut.jsonl:4: truncated JSON"):
        otlpjson.load(bad)


def test_enums_as_names_and_ints_as_numbers_are_accepted(tmp_path):
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "parentSpanId": "",
        "kind": "SPAN_KIND_INTERNAL", "startTimeUnixNano": 1000, "endTimeUnixNano": "2000",
        "attributes": [{"key": "http.status_code", "value": {"intValue": 429}}]}]}]}]}
    f = tmp_path / "ok.json"
    f.write_text(json.dumps(doc, indent=1))
    (rec,) = otlpjson.load(f)
    span = rec.request.resource_spans[0].scope_spans[0].spans[0]
    assert (span.kind, span.start_time_unix_nano, span.attributes[0].value.int_value) == (1, 1000, 429)
    assert span.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"


def test_json_line_round_trip_keeps_hex_ids():
    (rec, *_) = otlpjson.load(MIXED)
    line = otlpjson.to_json_line(rec.request)
    assert json.loads(line) == json.loads(MIXED.read_text().splitlines()[0])


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


class _Capture:
    def __init__(self):
        self.requests = []

    def send(self, req):
        self.requests.append(req)
        return 0


def _replay(speed, fresh=True, loops=1):
    """Replays the mixed fixture on a fake clock; returns a copy of the plan as it was before
    (a single replay edits the loaded spans in place)."""
    plan = replay.plan(otlpjson.load(MIXED))
    before = replay.plan(otlpjson.load(MIXED))
    clock, cap = _Clock(2_000_000_000_000_000_000), _Capture()
    summary = replay.replay(plan, cap, speed=speed, loops=loops, fresh_ids=fresh, clock=clock.time_ns, sleep=clock.sleep)
    return before, clock, cap, summary


def test_speed_zero_sends_at_once_and_the_recording_ends_now():
    plan, clock, cap, summary = _replay(0)
    spans = _spans(cap.requests)
    assert clock.slept == [] and len(spans) == summary.spans == MIXED_SPANS
    assert max(s.end_time_unix_nano for s in spans) == clock.now
    # relative timing kept: the shift is the same for every span
    original = sorted(i.span.start_time_unix_nano for t in plan.traces for i in t.items)
    shifted = sorted(s.start_time_unix_nano for s in spans)
    assert {b - a for a, b in zip(original, shifted)} == {shifted[0] - original[0]}


def test_speed_compresses_gaps_but_not_durations():
    plan, clock, cap, _ = _replay(4)
    start_ns = 2_000_000_000_000_000_000
    rec_start = min(t.start for t in plan.traces)
    rec_end_offsets = max(int((t.start - rec_start) / 4) + (t.end - t.start) for t in plan.traces)
    assert clock.now == start_ns + rec_end_offsets  # the replay lasts the compressed recording
    spans = _spans(cap.requests)
    assert max(s.end_time_unix_nano for s in spans) <= clock.now  # nothing in the future
    durations = sorted(i.span.end_time_unix_nano - i.span.start_time_unix_nano for t in plan.traces for i in t.items)
    assert sorted(s.end_time_unix_nano - s.start_time_unix_nano for s in spans) == durations


def test_fresh_ids_keep_parent_links_and_differ_per_loop():
    plan, _, cap, summary = _replay(0, loops=2)
    spans = _spans(cap.requests)
    assert summary.traces == 80 and len(set(summary.trace_ids)) == 80
    old_ids = {i.span.trace_id.hex() for t in plan.traces for i in t.items}
    assert not old_ids & set(summary.trace_ids)
    by_trace: dict[bytes, set] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, set()).add(s.span_id)
    for s in spans:
        assert not s.parent_span_id or s.parent_span_id in by_trace[s.trace_id]
    roots = sum(1 for s in spans if not s.parent_span_id)
    assert roots == 80  # one root per trace, as recorded


def test_keep_ids_sends_ids_unchanged():
    plan, _, cap, summary = _replay(0, fresh=False)
    assert set(summary.trace_ids) == {t.trace_id.hex() for t in plan.traces}
    assert {s.span_id for s in _spans(cap.requests)} == {i.span.span_id for t in plan.traces for i in t.items}


def test_rate_limits_spans_per_second():
    plan = replay.plan(otlpjson.load(MIXED))
    slept = []
    summary = replay.replay(plan, _Capture(), speed=0, rate=100, batch_spans=50, sleep=slept.append)
    assert summary.spans == MIXED_SPANS and sum(slept) > 1.2  # ~200 spans at 100/s: the last batch waits ~2 s


# --- the wire -------------------------------------------------------------------------------

def test_replay_task_sends_everything_over_grpc(collector):
    svc, endpoint = collector()
    r = invoke("traces.replay", f"{MIXED},{FIXTURES['plano-direct.json']}", "--endpoint", endpoint, "--speed", "0", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    both = {k: counts(FIXTURES["plano-mixed.jsonl"])[k][k] + counts(FIXTURES["plano-direct.json"])[k][k] for k in ("traces", "spans")}
    assert (out["traces"], out["spans"], out["rejected_spans"]) == (both["traces"], both["spans"], 0)
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


def test_unreachable_endpoint_fails_with_one_line():
    port = _free_port()
    for protocol in ("grpc", "http"):
        r = invoke("traces.replay", str(FIXTURES["plano-direct.json"]), "--endpoint", f"127.0.0.1:{port}",
                   "--protocol", protocol, "--speed", "0")
        assert r.returncode == 1, protocol
        err = [l for l in r.stderr.splitlines() if l.startswith("error:")]
        assert len(err) == 1 and f"127.0.0.1:{port}" in err[0] and "is the stack up" in err[0], r.stderr


def test_unknown_protocol_and_missing_file():
    r = invoke("traces.replay", str(MIXED), "--protocol", "carrier-pigeon")
    assert r.returncode == 1 and "error: unknown protocol 'carrier-pigeon' — use grpc or http" in r.stderr
    r = invoke("traces.replay", "nope/*.jsonl")
    assert r.returncode == 1 and "no file matches 'nope/*.jsonl'" in r.stderr

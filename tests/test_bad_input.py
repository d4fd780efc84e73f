"""Bad input, row by row: each ends in exactly one line on stderr — `error: cause — remedy` —
and exit status 1, never a traceback. A replay sends nothing (a gRPC collector stub on
127.0.0.1 counts what arrives), an output file is not written, a recording does not wait.

Tasks run in-process through invoke's own Program and parser, as `invoke ARGS` would."""
from __future__ import annotations

import gzip
import json
import time
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import pytest

from tests.menu import invoke
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from plano_obs.config import paths, render, settings
from plano_obs.runtime import native
from plano_obs.traces import files, resume
from tests.fixtures.counts import FIXTURES
from tests import traceplan

MIXED = FIXTURES["plano-mixed.jsonl"]


def _spans(requests: list) -> int:
    return sum(len(ss.spans) for r in requests for rs in r.resource_spans for ss in rs.scope_spans)


MIXED_SPANS = _spans([r.request for r in traceplan.load(MIXED)])
OTLP, PROM_PORT = settings.port("otlpGrpc"), settings.port("prometheus")
TID, SID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
SPAN0 = "resourceSpans[0].scopeSpans[0].spans[0]"
NOTHING_SENT = " — nothing was sent; fix or remove that record"



def _line(text: str, **span: object) -> str:
    """One OTLP/JSON request line with one span (valid unless `span` spoils it)."""
    fields = {"traceId": TID, "spanId": SID, "name": "x", "startTimeUnixNano": "1", "endTimeUnixNano": "2", **span}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [fields]}]}]}) + text


@dataclass
class Row:
    """`invoke *args` with `{d}` the row's folder and `{stub}` the collector stub, after writing
    `files` there; `expected` is the one line on stderr (same placeholders, and `{state}` the
    default replay state of `{d}/t.jsonl`)."""
    id: str
    args: list[str]
    expected: str
    files: dict[str, str | bytes] = field(default_factory=dict)


REPLAY = ["traces.replay", "--endpoint", "{stub}", "--speed", "0"]

OPTION_ROWS = [
    # --- replay options --------------------------------------------------------------------
    Row("replay-rate-text", REPLAY + [str(MIXED), "--rate", "abc"],
        "error: --rate must be a number above 0, got 'abc' — spans per second; leave it out for no limit"),
    Row("replay-rate-zero", REPLAY + [str(MIXED), "--rate", "0"],
        "error: --rate must be a number above 0, got 0 — spans per second; leave it out for no limit"),
    Row("replay-rate-negative", REPLAY + [str(MIXED), "--rate", "-5"],
        "error: --rate must be a number above 0, got -5 — spans per second; leave it out for no limit"),
    Row("replay-speed-text", ["traces.replay", str(MIXED), "--endpoint", "{stub}", "--speed", "abc"],
        "error: --speed must be a number, 0 or more, got 'abc' — 0 sends everything at once"),
    Row("replay-speed-negative", ["traces.replay", str(MIXED), "--endpoint", "{stub}", "--speed", "-1"],
        "error: --speed must be a number, 0 or more, got -1 — 0 sends everything at once"),
    Row("replay-speed-nan", ["traces.replay", str(MIXED), "--endpoint", "{stub}", "--speed", "nan"],
        "error: --speed must be a number, 0 or more, got nan — 0 sends everything at once"),
    Row("replay-loop-text", REPLAY + [str(MIXED), "--loop", "abc"], "error: --loop must be a whole number, 1 or more, got 'abc'"),
    Row("replay-loop-zero", REPLAY + [str(MIXED), "--loop", "0"], "error: --loop must be a whole number, 1 or more, got 0"),
    Row("replay-loop-fraction", REPLAY + [str(MIXED), "--loop", "1.5"], "error: --loop must be a whole number, 1 or more, got 1.5"),
    Row("replay-protocol", REPLAY + [str(MIXED), "--protocol", "carrier-pigeon"],
        "error: unknown protocol 'carrier-pigeon' — use grpc or http"),
    Row("replay-retry-for-text", REPLAY + [str(MIXED), "--retry-for", "forever"],
        "error: --retry-for must be a number, 0 or more, got 'forever' — seconds; 0 turns retries off"),
    Row("replay-retry-for-negative", REPLAY + [str(MIXED), "--retry-for", "-1"],
        "error: --retry-for must be a number, 0 or more, got -1 — seconds; 0 turns retries off"),
    Row("replay-endpoint-port", ["traces.replay", str(MIXED), "--endpoint", "127.0.0.1:99999"],  # gRPC would try 34463
        f"error: --endpoint '127.0.0.1:99999' has no port from 1 to 65535 — e.g. --endpoint 127.0.0.1:{OTLP}"),
    Row("replay-endpoint-no-port", ["traces.replay", str(MIXED), "--endpoint", "localhost"],
        f"error: --endpoint 'localhost' has no port from 1 to 65535 — e.g. --endpoint 127.0.0.1:{OTLP}"),
    # --- synth and record options ----------------------------------------------------------
    Row("synth-rps-zero", ["traces.synth", "--rps", "0", "--out", "{d}/s.jsonl"], "error: --rps must be a number above 0, got 0"),
    Row("synth-rps-text", ["traces.synth", "--rps", "lots", "--out", "{d}/s.jsonl"], "error: --rps must be a number above 0, got 'lots'"),
    Row("synth-duration-negative", ["traces.synth", "--duration", "-1", "--out", "{d}/s.jsonl"],
        "error: --duration must be a number above 0, got -1"),
    Row("synth-error-share", ["traces.synth", "--error-share", "2", "--out", "{d}/s.jsonl"],
        "error: --error-share must be a number from 0 to 1, got 2"),
    Row("synth-ratelimit-share-text", ["traces.synth", "--ratelimit-share", "half", "--out", "{d}/s.jsonl"],
        "error: --ratelimit-share must be a number from 0 to 1, got 'half'"),
    Row("record-duration-text", ["traces.record", "--out", "{d}/x.jsonl", "--duration", "10m"],
        "error: --duration must be a number above 0, got '10m'"),
    Row("record-duration-zero", ["traces.record", "--out", "{d}/x.jsonl", "--duration", "0"],
        "error: --duration must be a number above 0, got 0"),
    # --- logs: SERVICE is positional ----------------------------------------------------------
    Row("logs-service-then-bad-tail", ["logs", "--service", "prometheus", "--tail", "abc"], "error: --tail must be a whole number, 0 or more, got 'abc'"),
    Row("logs-collector-bad-mode", ["logs", "--service", "collector", "--mode", "podman"],
        "error: unknown mode 'podman' — use one of auto, compose, native"),
    Row("logs-unknown-service", ["logs", "--service", "nonsense", "--mode", "native"],
        f"error: unknown component 'nonsense' — use one of {', '.join(native.start_order())}"),
]

FILE_ROWS = [
    # --- trace files -----------------------------------------------------------------------
    Row("trace-id-31-digits", REPLAY + ["{d}/t.jsonl"],
        f"error: {{d}}/t.jsonl:1: {SPAN0}.traceId must be 32 hex digits, got 31: '{TID[:31]}'{NOTHING_SENT}",
        {"t.jsonl": _line("\n", traceId=TID[:31])}),
    Row("span-id-15-digits", REPLAY + ["{d}/t.jsonl"],
        f"error: {{d}}/t.jsonl:1: {SPAN0}.spanId must be 16 hex digits, got 15: '{SID[:15]}'{NOTHING_SENT}",
        {"t.jsonl": _line("\n", spanId=SID[:15])}),
    Row("trace-id-not-hex", REPLAY + ["{d}/t.jsonl"],
        f"error: {{d}}/t.jsonl:1: {SPAN0}.traceId is not hex: '{'z' * 32}'{NOTHING_SENT}",
        {"t.jsonl": _line("\n", traceId="z" * 32)}),
    Row("trace-id-all-zeros", REPLAY + ["{d}/t.jsonl"],
        f"error: {{d}}/t.jsonl:2: {SPAN0}.traceId is all zeros, which OTLP reserves for 'no id': '{'0' * 32}'{NOTHING_SENT}",
        {"t.jsonl": _line("\n") + _line("\n", traceId="0" * 32)}),
    Row("span-id-all-zeros", REPLAY + ["{d}/t.jsonl"],
        f"error: {{d}}/t.jsonl:1: {SPAN0}.spanId is all zeros, which OTLP reserves for 'no id': '{'0' * 16}'{NOTHING_SENT}",
        {"t.jsonl": _line("\n", spanId="0" * 16)}),
    Row("link-trace-id-all-zeros", REPLAY + ["{d}/t.jsonl"],
        f"error: {{d}}/t.jsonl:1: {SPAN0}.links[0].traceId is all zeros, which OTLP reserves for 'no id': "
        f"'{'0' * 32}'{NOTHING_SENT}",
        {"t.jsonl": _line("\n", links=[{"traceId": "0" * 32, "spanId": SID}])}),
    Row("directory-as-file", REPLAY + ["{d}/recordings"],
        "error: {d}/recordings: is a directory — name the files in it, e.g. '{d}/recordings/*.jsonl'",
        {"recordings/a.jsonl": _line("\n")}),
    Row("missing-file", REPLAY + ["{d}/nope.jsonl"], "error: {d}/nope.jsonl: no such file"),
    Row("glob-matches-nothing", REPLAY + ["{d}/*.jsonl"], "error: no file matches '{d}/*.jsonl'"),
    Row("second-file-bad", REPLAY + [f"{MIXED},{{d}}/b.jsonl"],
        "error: {d}/b.jsonl:1: not JSON (Expecting value at column 1)" + NOTHING_SENT, {"b.jsonl": "oops\n"}),
    Row("gzip-bad-second-line", REPLAY + ["{d}/t.jsonl.gz"],
        "error: {d}/t.jsonl.gz:2: not JSON (Expecting property name enclosed in double quotes at column 2)" + NOTHING_SENT,
        {"t.jsonl.gz": gzip.compress((_line("\n") + "{oops\n").encode())}),
    Row("gzip-cut", REPLAY + ["{d}/t.jsonl.gz"],
        "error: {d}/t.jsonl.gz:3: the gzip data ends early (the file was cut)" + NOTHING_SENT,
        {"t.jsonl.gz": gzip.compress((_line("\n") * 2).encode())[:-8]}),
    Row("gzip-empty", REPLAY + ["{d}/t.gz"], "error: {d}/t.gz:1: empty file" + NOTHING_SENT, {"t.gz": gzip.compress(b"")}),
    Row("zstd-not-read", REPLAY + ["{d}/t.jsonl.zst"],
        "error: {d}/t.jsonl.zst:1: not UTF-8 text (compressed? only gzip is read)" + NOTHING_SENT,
        {"t.jsonl.zst": b"\x28\xb5\x2f\xfd\x00\x58\x61\x00\x00"}),
    Row("resume-without-state", REPLAY + ["{d}/t.jsonl", "--resume"],
        "error: --resume: no replay state at {state} — nothing to resume (the last replay "
        "finished, or none stopped here); run without --resume to send everything, or name the state with --state FILE",
        {"t.jsonl": _line("\n")}),
    Row("json-cut-mid-record", REPLAY + ["{d}/t.jsonl"],
        "error: {d}/t.jsonl:2: truncated JSON (the file ends mid-record)" + NOTHING_SENT,
        {"t.jsonl": _line("\n") + _line("")[:40]}),
    # --- output files: checked before anything is generated or waited for -------------------
    Row("synth-out-missing-folder", ["traces.synth", "--out", "{d}/missing/dir/s.jsonl"],
        "error: cannot write {d}/missing/dir/s.jsonl: the folder {d}/missing/dir does not exist — create it, or choose another --out"),
    Row("synth-out-directory", ["traces.synth", "--out", "{d}/recordings"],
        "error: cannot write {d}/recordings: it is a directory — give a file name, e.g. --out {d}/recordings/traces.jsonl",
        {"recordings/a.jsonl": ""}),
    Row("record-out-missing-folder", ["traces.record", "--out", "{d}/missing/dir/x.jsonl", "--duration", "600"],
        "error: cannot write {d}/missing/dir/x.jsonl: the folder {d}/missing/dir does not exist — create it, or choose another --out"),
    Row("record-out-under-a-file", ["traces.record", "--out", "{d}/f.jsonl/x.jsonl", "--duration", "600"],
        "error: cannot write {d}/f.jsonl/x.jsonl: {d}/f.jsonl is not a folder — choose another --out", {"f.jsonl": ""}),
]


def _check_line(marker: str) -> str:
    """`stack/check.libsonnet:N`, N being the line that raises the error containing `marker`."""
    lines = (paths.STACK / "check.libsonnet").read_text().splitlines()
    return f"stack/check.libsonnet:{next(i for i, l in enumerate(lines, 1) if marker in l)}"


NEED, DISTINCT, TYPE = (_check_line("local need("), _check_line("are both %s"), _check_line("like its default, got"))
PORT_RANGE = "use a whole number from 1 to 65535"
PROM = "use whole numbers with units y, w, d, h, m, s, ms, largest first: e.g. '15d', '48h', '1h30m', '5s'"
GO = "use numbers with units h, m, s, ms, us, ns (no d: two days is '48h'): e.g. '48h', '5s', '1m30s'"



def _override(text: str) -> dict[str, str]:
    return {"local.libsonnet": "{ _config+:: { %s } }\n" % text}


BUILD = ["build", "--check", "--overrides", "{d}/local.libsonnet"]
OVERRIDE_ROWS = [
    # --- stack overrides (stack/local.libsonnet) ---------------------------------------------
    Row("port-too-big", BUILD, f"error: {NEED}: _config.ports.grafana is 70000, not a port — {PORT_RANGE}",
        _override("ports+: { grafana: 70000 }")),
    Row("port-zero", BUILD, f"error: {NEED}: _config.ports.prometheus is 0, not a port — {PORT_RANGE}",
        _override("ports+: { prometheus: 0 }")),
    Row("port-fraction", BUILD, f"error: {NEED}: _config.containerPorts.grafana is 3000.5, not a port — {PORT_RANGE}",
        _override("containerPorts+: { grafana: 3000.5 }")),
    Row("port-as-string", BUILD,
        f'error: {NEED}: _config.ports.grafana is "3001", not a port — write the number without quotes, from 1 to 65535',
        _override("ports+: { grafana: '3001' }")),
    Row("port-shared", BUILD,
        f"error: {DISTINCT}: _config.ports.grafana and _config.ports.prometheus are both {PROM_PORT} — give each its own port",
        _override("ports+: { grafana: %d }" % PROM_PORT)),
    Row("bind-address-number", BUILD,
        f"error: {NEED}: _config.bindAddress is 42, not an IPv4 address — "
        "use a quoted address: '127.0.0.1' (this machine only) or '0.0.0.0' (every interface)",
        _override("bindAddress: 42")),
    Row("bind-address-octet", BUILD,
        f'error: {NEED}: _config.bindAddress is "10.0.0.256", not an IPv4 address — '
        "use a quoted address: '127.0.0.1' (this machine only) or '0.0.0.0' (every interface)",
        _override("bindAddress: '10.0.0.256'")),
    Row("prometheus-retention-forever", BUILD,
        f'error: {NEED}: _config.prometheus.retention is "forever", not a positive Prometheus duration — {PROM}',
        _override("prometheus+: { retention: 'forever' }")),
    Row("prometheus-units-out-of-order", BUILD,
        f'error: {NEED}: _config.prometheus.scrapeInterval is "30s1m", not a positive Prometheus duration — {PROM}',
        _override("prometheus+: { scrapeInterval: '30s1m' }")),
    Row("prometheus-zero", BUILD,
        f'error: {NEED}: _config.prometheus.spanMetricsScrapeInterval is "0s", not a positive Prometheus duration — {PROM}',
        _override("prometheus+: { spanMetricsScrapeInterval: '0s' }")),
    Row("tempo-retention-days", BUILD,
        f'error: {NEED}: _config.tempo.retention is "2d", not a positive Go duration — {GO}',
        _override("tempo+: { retention: '2d' }")),
    Row("bucket-without-unit", BUILD,
        f'error: {NEED}: _config.spanMetrics.buckets[1] is "50", not a positive Go duration — {GO}',
        _override("spanMetrics+: { buckets: ['5ms', '50'] }")),
    Row("flush-interval-number", BUILD,
        f"error: {NEED}: _config.spanMetrics.flushInterval is 2, not a positive Go duration — {GO}",
        _override("spanMetrics+: { flushInterval: 2 }")),
    Row("disk-ratio-percent", BUILD,
        f"error: {NEED}: _config.stateDisk.warnUsedRatio is 90, not a share between 0 and 1 — e.g. 0.9 for 90 %",
        _override("stateDisk+: { warnUsedRatio: 90 }")),
    Row("switch-as-string", BUILD, f'error: {TYPE}: _config.grafana.anonymous must be a boolean like its default, got "yes"',
        _override("grafana+: { anonymous: 'yes' }")),
    Row("object-replaced-by-number", BUILD,
        f"error: {TYPE}: _config.ports must be an object like its default, got 3001 — to change some of its keys, merge with +:",
        _override("ports: 3001")),
]

ROWS = OPTION_ROWS + FILE_ROWS + OVERRIDE_ROWS


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list = []

    def Export(self, request, context):
        self.requests.append(request)
        return ExportTraceServiceResponse()


@pytest.fixture
def stub():
    svc = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(svc, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield svc, f"127.0.0.1:{port}"
    server.stop(0)




@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_ends_in_one_line(row: Row, stub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLANO_STATE_DIR", str(tmp_path / "state"))
    svc, endpoint = stub
    for name, content in row.files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    before = sorted(tmp_path.rglob("*"))
    started = time.monotonic()
    code, out, err = invoke(capsys, *(a.format(d=tmp_path, stub=endpoint) for a in row.args))
    expected = row.expected.format(d=tmp_path, state=resume.default_path(tmp_path / "t.jsonl"))
    assert (code, err.splitlines()) == (1, [expected]), out
    assert svc.requests == []  # nothing was sent
    assert sorted(tmp_path.rglob("*")) == before  # nothing was written, not even half a file
    assert time.monotonic() - started < 30  # a bad --out is found before a recording waits


def test_the_table_is_broad():
    kinds = {r.args[0] for r in ROWS}
    assert len(ROWS) >= 30 and kinds >= {"traces.replay", "traces.synth", "traces.record", "logs", "build"}


# --- options done right: numbers read, SERVICE positional, --help ---------------------------

def test_rate_from_the_command_line_is_a_number(stub, capsys):
    svc, endpoint = stub
    code, out, err = invoke(capsys, "traces.replay", str(MIXED), "--endpoint", endpoint, "--speed", "0", "--rate", "2000")
    assert code == 0, err
    assert _spans(svc.requests) == MIXED_SPANS


@pytest.mark.parametrize("args", [["traces.replay", "--help"], ["traces.replay", "-h"], ["logs", "--help"]])
def test_help_after_a_task_with_a_positional_prints_help(args, capsys):
    code, out, err = invoke(capsys, *args)
    assert code == 0 and err == ""
    assert out.startswith(f"Usage: invoke [--core-opts] {args[0]} ")


@pytest.mark.parametrize("args, shown", [
    (["logs", "--service", "tempo"], ["tempo"]),
    (["logs", "-s", "prometheus"], ["prometheus"]),
    (["logs", "--tail", "5", "--service", "grafana"], ["grafana"]),
    (["logs"], []),  # every service that has a log: none here
])
def test_logs_takes_one_service_as_an_option(args, shown, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PLANO_STATE_DIR", str(tmp_path))
    code, out, err = invoke(capsys, *args, "--mode", "native")
    headers = [l for l in out.splitlines() if l.startswith("==> ")]
    assert headers == [f"==> {tmp_path / 'logs' / s}.log <==" for s in shown]
    if not shown:
        assert (code, err.splitlines()) == (1, [f"error: no logs in {tmp_path / 'logs'} — start the stack with `invoke up --mode native`"])




# --- trace files done right: gzip streamed, outputs whole or absent -------------------------

@pytest.mark.parametrize("name", ["mixed.jsonl.gz", "mixed-gzipped-without-suffix.jsonl"])
def test_gzip_files_replay_whatever_their_name(name, stub, tmp_path, capsys):
    svc, endpoint = stub
    (tmp_path / name).write_bytes(gzip.compress(MIXED.read_bytes()))
    code, out, err = invoke(capsys, "traces.replay", str(tmp_path / name), "--endpoint", endpoint, "--speed", "0")
    assert code == 0, err
    assert _spans(svc.requests) == MIXED_SPANS


def test_pretty_printed_document_gzipped(stub, tmp_path, capsys):
    svc, endpoint = stub
    doc = json.dumps(json.loads(_line("")), indent=2)
    (tmp_path / "doc.json.gz").write_bytes(gzip.compress(doc.encode()))
    code, out, err = invoke(capsys, "traces.replay", str(tmp_path / "doc.json.gz"), "--endpoint", endpoint, "--speed", "0")
    assert code == 0, err
    assert len(svc.requests) == 1


def test_a_failed_write_leaves_no_file(tmp_path):
    def lines():
        yield "one"
        raise OSError(28, "No space left on device")

    with pytest.raises(files.TraceFileError) as err:
        files.write_lines(tmp_path / "out.jsonl", lines())
    assert err.value.line() == f"cannot write {tmp_path / 'out.jsonl'}: No space left on device — nothing was written"
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "access", lambda p, mode: False)  # tests may run as root
    with pytest.raises(files.TraceFileError) as err:
        files.check_output(tmp_path / "x.jsonl")
    assert err.value.line() == f"cannot write {tmp_path / 'x.jsonl'}: the folder {tmp_path} is not writable — choose another --out"




# --- overrides done right, and Jsonnet errors in one line -----------------------------------

def test_valid_durations_and_addresses_pass(override):
    path = override("{ _config+:: { bindAddress: '0.0.0.0', prometheus+: { retention: '1y2w3d4h5m6s7ms' }, "
                    "tempo+: { retention: '1.5h30m.5s' }, spanMetrics+: { buckets: ['1µs', '2us', '3ns', '250ms'] } } }")
    render.render("native", path)


@pytest.mark.parametrize("text, expected", [
    # an error spanning lines is located at its first line, not in the standard library
    ("RUNTIME ERROR: bad\n\t/x/stack/check.libsonnet:(97:13)-(98:15)\tfunction <f>\n\tstd.jsonnet:1679:19-27\tthunk <e>\n",
     "/x/stack/check.libsonnet:97: bad"),
    ("RUNTIME ERROR: Format required number at 1, got string\n\tstd.jsonnet:765:11-84\tfunction <format_code>\n"
     "\tstack/compose.libsonnet:6:30-90\tthunk <array_element>\n", "stack/compose.libsonnet:6: Format required number at 1, got string"),
    ("RUNTIME ERROR: first\nsecond\n\tstack/config.libsonnet:3:1-2\tobject <anonymous>\n", "stack/config.libsonnet:3: first second"),
])
def test_jsonnet_errors_become_one_line(text, expected):
    assert render.parse_error(text).line() == expected

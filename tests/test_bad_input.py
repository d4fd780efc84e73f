"""Bad input, row by row: each ends in exactly one line on stderr — `error: cause — remedy` —
and exit status 1, never a traceback. A replay sends nothing (a gRPC collector stub on
127.0.0.1 counts what arrives), an output file is not written, a recording does not wait.

Tasks run in-process through invoke's own Program and parser, as `invoke ARGS` would."""
from __future__ import annotations

import importlib.util
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from invoke import Program
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from plano_obs import native, paths
from plano_obs.traces import otlpjson
from tests.fixtures.counts import FIXTURES

MIXED = FIXTURES["plano-mixed.jsonl"]


def _spans(requests: list) -> int:
    return sum(len(ss.spans) for r in requests for rs in r.resource_spans for ss in rs.scope_spans)


MIXED_SPANS = _spans([r.request for r in otlpjson.load(MIXED)])
_spec = importlib.util.spec_from_file_location("plano_obs_task_menu", paths.ROOT / "tasks.py")
_menu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_menu)  # type: ignore[union-attr]


@dataclass
class Row:
    """`invoke *args` with `{d}` the row's folder and `{stub}` the collector stub, after writing
    `files` there; `expected` is the one line on stderr (same placeholders)."""
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
    Row("replay-endpoint-port", ["traces.replay", str(MIXED), "--endpoint", "127.0.0.1:99999"],  # gRPC would try 34463
        "error: --endpoint '127.0.0.1:99999' has no port from 1 to 65535 — e.g. --endpoint 127.0.0.1:9317"),
    Row("replay-endpoint-no-port", ["traces.replay", str(MIXED), "--endpoint", "localhost"],
        "error: --endpoint 'localhost' has no port from 1 to 65535 — e.g. --endpoint 127.0.0.1:9317"),
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
    Row("logs-service-then-bad-tail", ["logs", "prometheus", "--tail", "abc"], "error: --tail must be a whole number, 0 or more, got 'abc'"),
    Row("logs-collector-bad-mode", ["logs", "collector", "--mode", "podman"],
        "error: unknown mode 'podman' — use one of auto, compose, native"),
    Row("logs-unknown-service", ["logs", "nonsense", "--mode", "native"],
        f"error: unknown component 'nonsense' — use one of {', '.join(native.START_ORDER)}"),
]



ROWS = OPTION_ROWS


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


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `invoke ARGS`; an uncaught exception fails the test."""
    code = 0
    try:
        Program(namespace=_menu.ns, binary="invoke").run(["invoke", *args])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


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
    assert (code, err.splitlines()) == (1, [row.expected.format(d=tmp_path)]), out
    assert svc.requests == []  # nothing was sent
    assert sorted(tmp_path.rglob("*")) == before  # nothing was written, not even half a file
    assert time.monotonic() - started < 30  # a bad --out is found before a recording waits


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
    (["logs", "prometheus"], ["prometheus"]),
    (["logs", "--service", "tempo"], ["tempo"]),
    (["logs", "--tail", "5", "grafana"], ["grafana"]),
    (["logs"], []),  # every service that has a log: none here
])
def test_logs_takes_service_as_positional_or_flag(args, shown, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PLANO_STATE_DIR", str(tmp_path))
    code, out, err = invoke(capsys, *args, "--mode", "native")
    headers = [l for l in out.splitlines() if l.startswith("==> ")]
    assert headers == [f"==> {tmp_path / 'logs' / s}.log <==" for s in shown]
    if not shown:
        assert (code, err.splitlines()) == (1, [f"error: no logs in {tmp_path / 'logs'} — start the stack with `invoke up --mode native`"])




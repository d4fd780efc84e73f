"""The dev Envoy (real Envoy 1.40, the WASM filter compiled from envoy/plano-ratelimit.wat)
and `invoke envoy.check` against real admin endpoints and a real Prometheus."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from plano_obs.config import settings
from plano_obs.dev import mockllm
from plano_obs.runtime import native
from tests.live.conftest import DEV_ENVOY, MODE, REQUIRED, delta, invoke, wait_for

# Natively on the host, or on the Compose network (`nox -s smoke -- --mode compose --dev-envoy`).
pytestmark = pytest.mark.skipif(not DEV_ENVOY and "envoy" not in REQUIRED,
                                reason="Compose mode runs the dev Envoy only with --dev-envoy (its profile)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin_metric(live, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{live['ports']['envoyAdmin']}/stats/prometheus", timeout=5).text
    for line in text.splitlines():
        if line.startswith((f"{name} ", f"{name}{{}} ")):
            return float(line.split()[-1])
    return 0.0


def _check(*args: str) -> tuple[int, dict]:
    r = invoke("envoy.check", "--json", *args)
    return r.returncode, json.loads(r.stdout)


def test_429s_received_equal_ratelimited_rq_in_prometheus(live, prom):
    rl = live["metricNames"]["rateLimited"]
    before = _admin_metric(live, rl)
    # Prometheus must hold a sample from before the traffic, or rate() has nothing to compare
    wait_for(f"Prometheus {rl} == {before} (pre-traffic scrape)", lambda: prom.scalar(f"sum({rl})"),
             lambda v: v == before)
    codes = []
    for i in range(12):
        resp = requests.post(f"http://127.0.0.1:{live['ports']['envoyListener']}/v1/chat/completions",
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": f"hi {i}"}]}, timeout=10)
        codes.append(resp.status_code)
        if resp.status_code == 429:
            assert resp.text.startswith("exceeded limit provider=mock, selector=x-plano-observability, tokens_used=")
    limited = codes.count(429)
    assert limited >= 7 and set(codes) <= {200, 429}  # the limit is 5 requests per Envoy start
    assert _admin_metric(live, rl) - before == limited
    total = before + limited
    wait_for(f"Prometheus {rl} == {total}", lambda: prom.scalar(f"sum({rl})"), lambda v: v == total)
    # the dashboard's rate-limit query (with Grafana's $__rate_interval) sees it
    wait_for(f"rate({rl}) > 0", lambda: prom.scalar(f"sum(rate({rl}[1m]))"), lambda v: v is not None and v > 0)
    assert _admin_metric(live, "active_http_calls") == 0


def _admin_buckets(live, name: str) -> Counter:
    """A WASM histogram's cumulative buckets on Envoy's admin, by le."""
    text = requests.get(f"http://127.0.0.1:{live['ports']['envoyAdmin']}/stats/prometheus", timeout=5).text
    return Counter({(float(m.group(1)),): float(m.group(2))
                    for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M)})


def _prom_buckets(prom, name: str) -> Counter:
    """The same from Prometheus, which writes le its own way ("500.0" for Envoy's "500")."""
    return Counter({(float(le),): v for (le,), v in prom.by(f"sum by (le) ({name}_bucket)", ("le",)).items()})


def _buckets(values: list[int], bounds: list[str]) -> Counter:
    """Cumulative bucket counts of values, as Envoy exports them (a value equal to a bound is in it)."""
    return Counter({(le,): n for le in bounds if (n := sum(1 for v in values if v <= le))})


def test_plano_s_llm_histograms_hold_what_the_upstream_answered(live, prom):
    """Calls through the egress listener, as brightstaff makes them: tokens per call from the
    mock's usage, exact in every bucket; times above the mock's delay; Prometheus equal to Envoy."""
    if MODE != "native" or not live["devPlano"]["enabled"]:
        pytest.skip("the egress listener comes with the dev Plano, which runs natively only (and is enabled)")
    histograms = sorted(n for n, kind in live["wasmMetrics"].items() if kind == "histogram")
    # Envoy's admin shows histograms as of its last stats flush (every second): once no call is
    # in flight, one more flush holds every earlier call (server.uptime moves at each flush)
    wait_for("no call in flight through Envoy", lambda: _admin_metric(live, "active_http_calls"), lambda v: v == 0)
    uptime = _admin_metric(live, "envoy_server_uptime")
    wait_for("an Envoy stats flush", lambda: _admin_metric(live, "envoy_server_uptime"), lambda u: u > uptime, deadline_s=10)
    # Prometheus must hold Envoy's current numbers first: deltas are taken from both
    before = {n: _admin_buckets(live, n) for n in histograms}
    for n in histograms:
        wait_for(f"Prometheus's {n} equal to Envoy's", lambda n=n: _prom_buckets(prom, n), lambda v, n=n: v == before[n])

    url = f"http://127.0.0.1:{live['ports']['envoyEgress']}/v1/chat/completions"
    delay_ms = 60
    prompts, streamed = [], 0
    for i, stream in enumerate([False, True, False, True, False, True]):
        messages = [{"role": "user", "content": "tell me " + "more " * (i * 7)}]
        resp = requests.post(url, json={"model": "gpt-4o", "messages": messages, "stream": stream},
                             headers={"x-mock-delay-ms": str(delay_ms)}, timeout=10)
        assert resp.status_code == 200, resp.text
        prompts.append(mockllm.prompt_tokens(messages))
        streamed += stream
    failed = requests.post(url, json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
                           headers={"x-mock-status": "503", "x-mock-delay-ms": str(delay_ms)}, timeout=10)
    limited = requests.post(url, json={"model": "gpt-4o", "messages": []}, headers={"x-plano-ratelimit": "1"}, timeout=10)
    assert (failed.status_code, limited.status_code) == (503, 429)
    completion = mockllm.usage(0, mockllm.ANSWER)["completion_tokens"]
    answered = len(prompts)

    # Envoy's bucket bounds, once the calls are recorded (a fresh Envoy lists none before)
    inf = (float("inf"),)
    after = wait_for("Envoy's request_latency after the calls", lambda: _admin_buckets(live, "request_latency"),
                     lambda b: b.get(inf, 0) - before["request_latency"].get(inf, 0) == answered + 1, deadline_s=15)
    bounds = [le for (le,) in after]
    exact = {"input_sequence_length": _buckets(prompts, bounds),
             "output_sequence_length": _buckets([completion] * answered + [0], bounds)}
    # times: every call took at least the mock's delay, so nothing below it; how far above is
    # the machine's business. A stream's first token, too; time per token is at least delay / tokens.
    counts = {"request_latency": answered + 1, "time_to_first_token": streamed,
              "time_per_output_token": answered, "tokens_per_second": answered}
    floors = {"request_latency": delay_ms, "time_to_first_token": delay_ms, "time_per_output_token": delay_ms // completion}
    grew = {}
    for n in histograms:
        grew[n] = got = wait_for(f"Envoy's {n} after the calls", lambda n=n: delta(_admin_buckets(live, n), before[n]),
                       lambda d, n=n: d == exact[n] if n in exact else d.get(inf) == counts[n], deadline_s=15)
        if n in floors:
            assert all(v == 0 for (le,), v in got.items() if le < floors[n]), (n, got)
        wait_for(f"Prometheus's {n} to grow the same", lambda n=n: delta(_prom_buckets(prom, n), before[n]),
                 lambda d, got=got: d == got)
    # tokens per second = 1000 / whole ms per token: never above 1000 / its floor
    ceiling = 1000 // floors["time_per_output_token"]
    assert all(v == answered for (le,), v in grew["tokens_per_second"].items() if le >= ceiling), grew["tokens_per_second"]
    assert _admin_metric(live, "active_http_calls") == 0


def test_check_passes_against_the_dev_envoy(live, prom):
    wait_for("Prometheus's envoy target up",
             lambda: [t["health"] for t in requests.get(f"{prom.base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
                      if t["labels"]["job"] == "envoy"], lambda h: h == ["up"])
    code, report = _check()
    assert code == 0, report
    assert report["admin"] == f"http://127.0.0.1:{live['ports']['envoyAdmin']}"
    assert report["envoy_version"] == live["versions"]["envoy"] and report["envoy_state"] == "LIVE"
    assert report["naming"] == "plain"
    assert set(report["present"]) == set(live["wasmMetrics"]) and report["missing"] == []  # all eight of Plano's
    r = invoke("envoy.check")
    assert r.returncode == 0 and "✓ Envoy is scraped and exports Plano's metrics" in r.stdout


def test_unreachable_admin_exits_2():
    port = _free_port()
    code, report = _check("--admin", f"127.0.0.1:{port}")
    assert code == 2
    assert report["findings"][0]["cause"] == f"no Envoy admin endpoint answered at http://127.0.0.1:{port}"


class _Html(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"<!doctype html><html><body>Plano UI</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_a_path_serving_html_exits_3():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, report = _check("--admin", f"127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert code == 3
    assert "does not serve Prometheus metrics (HTTP 200, text/html)" in report["findings"][0]["cause"]


def _native_binary(name: str) -> Path:
    """A binary native mode runs (these tests start a second Envoy or Prometheus of their own);
    in a Compose-only setup there may be none."""
    b = native.resolve_binaries(build=False)[name]
    if b.path is None:
        pytest.skip(f"no native {name} binary to start a second one: {b.source}")
    return b.path


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _check_admin_served_by(proc: subprocess.Popen, port: int) -> tuple[int, dict]:
    """Waits until an admin endpoint answers on port, runs the check against it, stops proc."""
    try:
        wait_for(f"admin on {port} ready", lambda: requests.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code,
                 lambda s: s == 200)
        return _check("--admin", f"127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)


def test_an_envoy_without_plano_filter_exits_4(tmp_path):
    port = _free_port()
    cfg = tmp_path / "bare.yaml"
    cfg.write_text(f"admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}\n")
    envoy = _native_binary("envoy")
    proc = _start([str(envoy), "-c", str(cfg), "--use-dynamic-base-id", "--concurrency", "1"], tmp_path / "envoy.log")
    code, report = _check_admin_served_by(proc, port)
    assert code == 4
    assert report["present"] == [] and set(report["missing"]) == set(settings.load("native")["wasmMetrics"])
    assert "exports none of Plano's WASM metrics" in report["findings"][0]["cause"]


def test_a_down_prometheus_target_exits_6_with_its_scrape_error(tmp_path, live):
    """A second, real Prometheus whose envoy job scrapes a wrong path: its target goes down."""
    port = _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\nscrape_configs:\n"
        f"  - job_name: envoy\n    metrics_path: /no-such-path\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{live['ports']['envoyAdmin']}']}}]\n")
    binary = _native_binary("prometheus")
    proc = _start([str(binary), f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prometheus.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for("second Prometheus's envoy target down",
                 lambda: [t["health"] for t in requests.get(f"{base}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]],
                 lambda h: h == ["down"])
        code, report = _check("--prometheus", base)
    finally:
        proc.terminate()
        proc.wait(10)
    assert code == 6, report
    cause = report["findings"][0]["cause"]
    assert "/no-such-path is down" in cause and "404" in cause


def test_a_scrape_address_that_differs_exits_5(live, prom):
    """Envoy answers on 127.0.0.1:<admin>, but Prometheus scrapes another port (Plano in Docker vs native)."""
    port = _free_port()  # the dev Envoy's admin, forwarded to answer on this port too
    proxy = subprocess.Popen([sys.executable, "-c", (
        "import socket,threading,sys\n"
        f"s=socket.create_server(('127.0.0.1',{port}))\n"
        "def pipe(a,b):\n  d=a.recv(65536)\n  while d:\n    b.sendall(d); d=a.recv(65536)\n  b.close()\n"
        "while True:\n  c,_=s.accept(); u=socket.create_connection(('127.0.0.1',%d))\n"
        "  threading.Thread(target=pipe,args=(c,u),daemon=True).start(); threading.Thread(target=pipe,args=(u,c),daemon=True).start()\n"
        % live["ports"]["envoyAdmin"])])
    code, report = _check_admin_served_by(proxy, port)
    assert code == 5, report
    assert f"but Envoy's admin answered at http://127.0.0.1:{port}" in report["findings"][0]["cause"]
    assert f"set _config.plano.envoyAdmin to port {port}" in report["findings"][0]["remedy"]

"""The dev Envoy (real Envoy 1.40, the WASM filter compiled from envoy/plano-ratelimit.wat)
and `invoke envoy.check` against real admin endpoints and a real Prometheus."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from plano_obs import native, settings
from .conftest import MODE, invoke, wait_for

pytestmark = pytest.mark.skipif(MODE != "native", reason="the dev Envoy runs natively (on the host)")


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


def test_check_passes_against_the_dev_envoy(live, prom):
    wait_for("Prometheus's envoy target up",
             lambda: [t["health"] for t in requests.get(f"{prom.base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
                      if t["labels"]["job"] == "envoy"], lambda h: h == ["up"])
    code, report = _check()
    assert code == 0, report
    assert report["admin"] == f"http://127.0.0.1:{live['ports']['envoyAdmin']}"
    assert report["envoy_version"] == live["versions"]["envoy"] and report["envoy_state"] == "LIVE"
    assert report["naming"] == "plain"
    assert set(report["present"]) == {live["metricNames"]["rateLimited"], "active_http_calls", "request_latency"}
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
    envoy = native.resolve_binaries(build=False)["envoy"].path
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
    binary = native.resolve_binaries(build=False)["prometheus"].path
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

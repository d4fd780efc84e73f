"""envoy.check against small local HTTP servers standing in for an Envoy admin: which address
it picks, which of Plano's WASM metrics it finds under which naming, and its exit codes."""
import http.server
import json
import re
import socket
import threading

import pytest

from plano_obs.checks import envoycheck
from plano_obs.config import settings


def _serve(routes: dict[str, tuple[str, str]]):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 — http.server's name
            ctype, body = routes.get(self.path, ("text/plain", None))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", ctype)
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack_settings():
    return dict(settings.load("native"))


INFO = ("application/json", json.dumps({"version": "abc/9.8.7/Clean/RELEASE/BoringSSL", "state": "LIVE"}))


def _envoy(stats: str):
    return _serve({"/server_info": INFO, "/stats/prometheus": ("text/plain; version=0.0.4", stats)})


def test_plain_names_are_found_and_the_rest_reported_missing(stack_settings):
    envoy = _envoy("# TYPE ratelimited_rq counter\nratelimited_rq{} 7\n"
                   "# TYPE request_latency histogram\nrequest_latency_bucket{le=\"5\"} 1\nrequest_latency_bucket{le=\"+Inf\"} 1\n"
                   "request_latency_sum{} 3\nrequest_latency_count{} 1\n")
    dead = f"127.0.0.1:{_free_port()}"
    try:
        r = envoycheck.check(f"127.0.0.1:{envoy.server_port}", f"http://{dead}", stack_settings, first_scrape_s=0)
    finally:
        envoy.shutdown()
    assert r.envoy_version == "9.8.7" and r.envoy_state == "LIVE" and r.naming == "plain"
    assert r.present == ["ratelimited_rq", "request_latency"]
    assert sorted(r.missing) == sorted(set(stack_settings["wasmMetrics"]) - {"ratelimited_rq", "request_latency"})
    assert [f.code for f in r.findings] == [envoycheck.PROMETHEUS_UNREACHABLE]


def test_the_legacy_prefix_is_recognised(stack_settings):
    envoy = _envoy("# TYPE envoy_wasmcustom_ratelimited_rq counter\nenvoy_wasmcustom_ratelimited_rq 2\n")
    try:
        r = envoycheck.check(f"127.0.0.1:{envoy.server_port}", f"http://127.0.0.1:{_free_port()}", stack_settings,
                             first_scrape_s=0)
    finally:
        envoy.shutdown()
    assert r.present == ["ratelimited_rq"] and r.naming == envoycheck.LEGACY_PREFIX


def test_an_envoy_without_plano_metrics_and_a_page_that_is_not_metrics(stack_settings):
    envoy = _envoy("# TYPE server_live gauge\nserver_live 1\n")
    html = _serve({"/server_info": INFO, "/stats/prometheus": ("text/html", "<html>admin</html>")})
    try:
        bare = envoycheck.check(f"127.0.0.1:{envoy.server_port}", "http://127.0.0.1:1", stack_settings, first_scrape_s=0)
        page = envoycheck.check(f"127.0.0.1:{html.server_port}", "http://127.0.0.1:1", stack_settings, first_scrape_s=0)
    finally:
        envoy.shutdown()
        html.shutdown()
    assert bare.findings[0].code == envoycheck.NO_WASM_METRICS and bare.exit_code == envoycheck.NO_WASM_METRICS
    assert page.findings[0].code == envoycheck.NOT_METRICS and page.present == []


def test_the_configured_address_then_the_candidates_are_tried_in_order(stack_settings):
    ports = [_free_port() for _ in range(3)]
    stack_settings.update(envoyAdmin=f"host.docker.internal:{ports[0]}",
                          envoyAdminCandidates=[f"127.0.0.1:{ports[1]}", f"127.0.0.1:{ports[2]}"])
    r = envoycheck.check(None, "http://127.0.0.1:1", stack_settings, timeout=0.5, first_scrape_s=0)
    assert r.exit_code == envoycheck.UNREACHABLE
    assert r.findings[0].cause == "no Envoy admin endpoint answered at " + ", ".join(f"http://127.0.0.1:{p}" for p in ports)


def test_every_exit_code_is_documented_with_its_meaning():
    from plano_obs.config import paths
    table = dict(re.findall(r"^\| (\d+) \| (.+) \|$", (paths.ROOT / "docs" / "envoy.md").read_text(), flags=re.M))
    assert set(table) == {str(c) for c in envoycheck.EXIT_CODES}
    for code, meaning in envoycheck.EXIT_CODES.items():
        assert table[str(code)].replace("`", "").startswith(meaning.replace("`", "").split(" at ")[0]), code

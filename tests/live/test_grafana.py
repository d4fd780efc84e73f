"""Grafana, when the stack has it (native mode needs a `grafana` binary; this project's build
machines have none, so these skip there with the reason), and freshness of the panels."""
from __future__ import annotations

import json
import time

import pytest
import requests

from plano_obs.runtime import secrets
from tests.fixtures.counts import FIXTURES
from tests.live.conftest import component, invoke, wait_for


@pytest.fixture
def grafana_api(live):
    base = component(live, "grafana")
    s = requests.Session()
    s.auth = (live["grafanaUser"], secrets.read(secrets.env_file())[secrets.VARIABLE])
    return base, s


def _replay_ids() -> list[str]:
    r = invoke("traces.replay", str(FIXTURES["plano-mixed.jsonl"]), "--speed", "0", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["trace_ids"]


def test_grafana_serves_the_dashboard_datasources_and_panel_queries(grafana_api, live):
    base, s = grafana_api
    assert s.get(f"{base}/api/health", timeout=5).json()["database"] == "ok"
    dash = s.get(f"{base}/api/dashboards/uid/plano-requests-overview", timeout=5).json()
    assert dash["meta"]["folderTitle"] == "Plano"
    for uid in live["datasources"].values():
        h = s.get(f"{base}/api/datasources/uid/{uid}/health", timeout=10).json()
        assert h.get("status") == "OK", (uid, h)
    _replay_ids()
    now = int(time.time() * 1000)
    for panel in dash["dashboard"]["panels"]:
        queries = [dict(t, intervalMs=5000, maxDataPoints=1000) for t in panel["targets"]]
        body = {"queries": queries, "from": str(now - 15 * 60_000), "to": str(now)}
        wait_for(f"{panel['title']} through Grafana /api/ds/query", lambda: s.post(f"{base}/api/ds/query", json=body, timeout=15).json(),
                          lambda r: all(r["results"][q["refId"]].get("frames") for q in queries
                                        if "ratelimited_rq" not in q["expr"]), deadline_s=60)


def test_freshness_last_span_to_visible_count(live, prom):
    """Seconds from the last span sent to its count in Prometheus (the original promised ~15 s)."""
    import uuid
    from tests.live import otlp_json
    model = f"fresh-{uuid.uuid4().hex[:8]}"
    spans = [otlp_json.span(f"POST /v1/chat/completions {model}", {"llm.model": model, "http.status_code": 200}, 30)
             for _ in range(3)]
    resp = requests.post(f"http://127.0.0.1:{live['ports']['otlpHttp']}/v1/traces",
                         json=otlp_json.request("plano(llm)", spans), timeout=5)
    assert resp.status_code == 200
    sent = time.monotonic()
    calls = live["metricNames"]["calls"]
    wait_for("the new model counted", lambda: prom.scalar(f'sum({calls}{{llm_model="{model}"}})'), lambda v: v == 3)
    seconds = time.monotonic() - sent
    flush, scrape = live["spanMetricsFlushInterval"], live["spanMetricsScrapeInterval"]
    print(f"\nfreshness: {seconds:.1f} s from the last span sent to its count in Prometheus "
          f"(connector flush {flush} + scrape interval {scrape})")
    assert seconds < 15, f"{seconds:.1f} s breaks the 'panels populate within ~15 s' promise"

"""Spans in, exact span-metric counts out: OTLP → collector → span_metrics → Prometheus."""
import time
import uuid

import requests

from tests.live import otlp_json
from tests.live.conftest import wait_for


def test_span_metrics_count_exactly_the_spans_sent(live, prom):
    model = f"smoke-{uuid.uuid4().hex[:8]}"
    sent = 7
    spans = [otlp_json.span(f"POST /v1/chat/completions {model}",
                            {"llm.model": model, "llm.provider": "openai", "http.status_code": 200 if i else 429},
                            duration_ms=40 + i) for i in range(sent)]
    resp = requests.post(f"http://127.0.0.1:{live['ports']['otlpHttp']}/v1/traces",
                         json=otlp_json.request("plano(llm)", spans), timeout=5)
    assert resp.status_code == 200, resp.text
    sent_at = time.monotonic()

    calls = live["metricNames"]["calls"]
    total = f'sum({calls}{{service_name="plano(llm)", llm_model="{model}"}})'
    wait_for(f"{total} == {sent}", lambda: prom.scalar(total), lambda v: v == sent)
    print(f"freshness: span count visible in Prometheus {time.monotonic() - sent_at:.1f}s after sending")

    by_status = {r["metric"]["http_status_code"]: float(r["value"][1]) for r in prom.query(
        f'sum by (http_status_code) ({calls}{{llm_model="{model}"}})')}
    assert by_status == {"200": 6.0, "429": 1.0}
    count = live["metricNames"]["durationCount"]
    assert prom.scalar(f'sum({count}{{llm_model="{model}"}})') == sent
    # every span took 40–46 ms: all in the 50 ms bucket, none in the 25 ms one
    # (Prometheus 3 normalises classic-histogram `le` values to floats: "50.0")
    bucket = live["metricNames"]["durationBucket"]
    assert prom.scalar(f'sum({bucket}{{llm_model="{model}", le="50.0"}})') == sent
    assert prom.scalar(f'sum({bucket}{{llm_model="{model}", le="25.0"}})') == 0

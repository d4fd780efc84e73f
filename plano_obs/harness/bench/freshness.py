"""Freshness benchmark: seconds from a span's export to its count in Prometheus, as a panel
would see it, over N samples against the running native stack (`invoke up` first).

    python -m plano_obs.harness.bench.freshness [--samples 20]

Each sample posts one `plano(llm)` span with a model name of its own over OTLP/HTTP, then
polls Prometheus every 50 ms until the span-metrics counter of that model is 1. Prints each
sample and min / median / max; the bound is the connector's flush interval plus the
span-metrics scrape interval (both in _config)."""
from __future__ import annotations

import argparse
import statistics
import time
import uuid

import requests

from plano_obs.config import settings
from plano_obs.harness.bench.native_stack import machine
from plano_obs.runtime import health


def _span(model: str) -> dict:
    now = time.time_ns()
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": settings.load()["planoServices"]["llm"]}}]},
        "scopeSpans": [{"spans": [{
            "traceId": uuid.uuid4().hex, "spanId": uuid.uuid4().hex[:16], "name": f"POST /v1/chat/completions {model}",
            "kind": 1, "startTimeUnixNano": str(now - 30_000_000), "endTimeUnixNano": str(now),
            "attributes": [{"key": "llm.model", "value": {"stringValue": model}},
                           {"key": "http.status_code", "value": {"intValue": "200"}}]}]}]}]}


def sample(info: dict, timeout_s: float = 30.0) -> float:
    model = f"fresh-{uuid.uuid4().hex[:10]}"
    calls = info["metricNames"]["calls"]
    query = health.url(info, "prometheus", "/api/v1/query")
    r = requests.post(health.url(info, "otlpHttp", "/v1/traces"), json=_span(model), timeout=5)
    r.raise_for_status()
    sent = time.monotonic()
    while time.monotonic() - sent < timeout_s:
        result = requests.get(query, params={"query": f'sum({calls}{{llm_model="{model}"}})'}, timeout=5).json()
        if result["data"]["result"] and float(result["data"]["result"][0]["value"][1]) == 1:
            return time.monotonic() - sent
        time.sleep(0.05)
    raise SystemExit(f"error: the span of {model} was not counted within {timeout_s:.0f} s — is the stack up (`invoke status`)?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="spans to time, one after the other (default 20)")
    args = parser.parse_args()
    info = settings.load("native")
    print(f"machine: {machine()}")
    print(f"bound: flush {info['spanMetricsFlushInterval']} + scrape {info['spanMetricsScrapeInterval']}")
    seconds = []
    for i in range(args.samples):
        seconds.append(sample(info))
        print(f"sample {i + 1:>3}: {seconds[-1]:.2f} s", flush=True)
    print(f"freshness over {len(seconds)} samples: min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s, "
          f"max {max(seconds):.2f} s")


if __name__ == "__main__":
    main()

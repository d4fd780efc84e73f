"""The LLM Usage metrics and dashboard, exactly: after one replay of the mixed fixture (tokens,
cache reads, costs, time to first token, two tenants), every token and cost sum per model,
provider, tenant and kind, every time-to-first-token bucket, and the "in range" panels as
Grafana would query them equal what the file holds (tests/fixtures/counts.py reads it)."""
from __future__ import annotations

import math
import time
from collections import Counter


from plano_obs.checks import grafana, promql
from tests.fixtures.counts import FIXTURES, usage
from tests.live.conftest import delta, invoke, scrape_seconds, wait_for


def _panel_expr(title: str, range_s: int) -> str:
    import json
    from plano_obs.config import generate
    dash = json.loads((generate.rendered() / "dashboards" / "plano-llm-usage.json").read_text())  # what Grafana loads
    (target,) = [t for t in grafana.targets(dash) if t.panel["title"] == title]
    return promql.substitute(target.expr, grafana.variable_values(dash), grafana.macros(range_s, scrape_seconds()))


def test_tokens_cost_and_ttft_equal_the_file(live, prom, settled):
    names, u = live["metricNames"], live["usage"]
    want = usage(FIXTURES["plano-mixed.jsonl"], u, live["modelProviders"])
    key = ("llm_model", "llm_provider", "tenant_id")
    queries = {
        "tokens": (f"sum by (llm_model, llm_provider, tenant_id, token_kind) ({names['usageTokens']})", key + ("token_kind",)),
        "cost": (f"sum by (llm_model, llm_provider, tenant_id, cost_kind) ({names['usageCost']})", key + ("cost_kind",)),
        "ttft_count": (f"sum by (llm_model, llm_provider, tenant_id) ({names['usageTtftBucket']}{{le=\"+Inf\"}})", key),
        "ttft_le": (f"sum by (llm_model, llm_provider, tenant_id, le) ({names['usageTtftBucket']})", key + ("le",)),
    }
    before = {k: prom.by(q, labels) for k, (q, labels) in queries.items()}
    start = time.time()
    # The "in range" panels' baseline: a scrape at `base` after everything earlier was counted,
    # and another over a second later, before the replay. A whole-second range that ends now
    # then starts within [base, base + 1 s): at a baseline sample, never before it.
    def scraped_after(t: float) -> float:
        r = prom.query(f'timestamp(up{{job="otel-collector-spanmetrics"}}) > {t:.3f}')
        return float(r[0]["value"][1]) if r else 0.0
    base = wait_for("a span-metrics scrape after the test started", lambda: scraped_after(start), lambda t: t > 0)
    wait_for("a second scrape a second later", lambda: scraped_after(base + 1.0), lambda t: t > 0)
    r = invoke("traces.replay", str(FIXTURES["plano-mixed.jsonl"]), "--speed", "0")
    assert r.returncode == 0, r.stderr

    total_tokens = sum(want["tokens"].values())
    wait_for(f"{total_tokens} tokens counted", lambda: sum(delta(prom.by(*queries["tokens"]), before["tokens"]).values()),
             lambda v: v == total_tokens)
    wait_for("every time-to-first-token bucket counted",
             lambda: delta(prom.by(*queries["ttft_le"]), before["ttft_le"]),
             lambda d: sum(v for k, v in d.items() if k[3] != "+Inf") == sum(want["ttft_le"].values()))
    now = time.time()

    assert delta(prom.by(*queries["tokens"]), before["tokens"]) == want["tokens"]
    assert delta(prom.by(*queries["ttft_count"]), before["ttft_count"]) == want["ttft_count"]
    ttft_le = delta(prom.by(*queries["ttft_le"]), before["ttft_le"])
    assert {k[:3] + (float(k[3]),): v for k, v in ttft_le.items() if k[3] != "+Inf"} == \
        {k[:3] + (float(k[3]),): v for k, v in want["ttft_le"].items()}
    cost = delta(prom.by(*queries["cost"]), before["cost"])
    assert set(cost) == set(want["cost"])
    assert all(math.isclose(cost[k], want["cost"][k], rel_tol=1e-9) for k in cost), (cost, want["cost"])

    # the panels, as Grafana asks them, over a range that starts just before the replay
    range_s = math.floor(now - base)
    tokens_panel = prom.by(_panel_expr("Tokens in Range", range_s), ("llm_model", "llm_provider", "token_kind"), at=now)
    per_kind = Counter()
    for (model, provider, _, kind), v in want["tokens"].items():
        per_kind[(model, provider, kind)] += v
    assert {k: v for k, v in tokens_panel.items() if v} == per_kind
    cost_panel = prom.by(_panel_expr("Cost in Range by Tenant", range_s), ("tenant_id",), at=now)
    per_tenant = Counter()
    for (_, _, tenant, kind), v in want["cost"].items():
        if kind == "total":
            per_tenant[(tenant,)] += v
    assert set(k for k, v in cost_panel.items() if v) == set(per_tenant)
    assert all(math.isclose(cost_panel[k], per_tenant[k], rel_tol=1e-9) for k in per_tenant)
    print(f"\nLLM usage: {total_tokens} tokens, ${sum(per_tenant.values()):.6f}, "
          f"{sum(want['ttft_count'].values())} calls with a time to first token — all exact")

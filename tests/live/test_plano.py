"""Real Plano in the loop: `invoke traffic` drives the dev Plano's brightstaff, and every
number the stack shows of it — span metrics, brightstaff's own metrics, Envoy's WASM counter,
the Requests Overview panels as Grafana queries them — equals what was sent."""
from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from plano_obs.checks import grafana
from tests.live.conftest import component, delta, invoke, scrape_seconds, wait_for

# What the upstream answers for each fault `invoke traffic` injects (docs/dev-plano.md): the
# mock's status, Envoy's 429 from the rate-limit filter, Envoy's 503 when the mock hangs up.
UPSTREAM_STATUS = {"none": 200, "upstream-429": 429, "upstream-503": 503, "upstream-reset": 503, "envoy-429": 429}
REQUESTS = 24  # two rounds of the mix


@pytest.fixture(scope="module")
def plano(live, prom) -> dict:
    component(live, "brightstaff")
    # a baseline read before Prometheus has scraped this brightstaff would be an earlier one's
    since = time.time()
    wait_for("a scrape of brightstaff after the test started",
             lambda: prom.scalar('timestamp(up{job="brightstaff"} == 1)') or 0, lambda t: t > since, deadline_s=30)
    return live


def _model(live: dict, requested: str) -> tuple[str, str]:
    """(model, provider) as the stack should label a model the client named `requested`."""
    if "/" in requested:
        provider, model = requested.split("/", 1)
        return model, provider
    return requested, live["modelProviders"][requested]


def _expected(live: dict, sent: list[dict]) -> dict[str, Counter]:
    """Upstream LLM calls per (model, provider, status), agent calls per agent, Envoy 429s."""
    agents = {a["id"]: a["model"] for a in live["devPlano"]["agents"]}
    default = live["devPlano"]["agents"][0]["id"]
    calls, per_agent, envoy_429 = Counter(), Counter(), 0
    for r in sent:
        if r["kind"] == "model":
            model, provider = _model(live, r["model"])
            calls[(model, provider, str(UPSTREAM_STATUS[r["fault"]]))] += 1
            envoy_429 += r["fault"] == "envoy-429"
        else:
            for agent in r["agents"] or [default]:  # each agent asks Plano for its model once
                model, provider = _model(live, agents[agent])
                calls[(model, provider, "200")] += 1
                per_agent[agent] += 1
    return {"calls": calls, "agents": per_agent, "envoy_429": Counter({"rateLimited": envoy_429})}


def _status_class(status: str) -> str:
    return f"{status[0]}xx"


def test_every_source_counts_exactly_what_invoke_traffic_sent(plano, prom, settled):
    live = plano
    calls = live["metricNames"]["calls"]
    span_q = f'sum by (llm_model, llm_provider, http_status_code) ({calls}{{service_name="plano(llm)"}})'
    bright_q = "sum by (model, provider, status_class) (brightstaff_llm_upstream_requests_total)"
    agent_q = f'sum by (agent_id) ({calls}{{service_name="plano(agent)"}})'
    env_q = f"sum({live['metricNames']['rateLimited']})"
    # clients reach brightstaff through the dev Envoy's bright_staff cluster, as in Plano
    gateway_q = (f'sum by (envoy_response_code_class) (envoy_cluster_upstream_rq_xx'
                 f'{{envoy_cluster_name="{live["brightstaffCluster"]}"}})')
    # Plano's WASM filter on the egress listener: streamed answers' first tokens, answers without usage
    ttft_q = "sum(time_to_first_token_count)"
    no_usage_q = 'sum(output_sequence_length_bucket{le="0.5"})'
    # every egress call is a plano(outbound) span (Envoy's tracer) and, unless the filter
    # refused it, a request_latency sample; the agent listener's filter adds one per agent call
    # brightstaff's own HTTP, router and prompt-cache families (the Brightstaff dashboard's rows)
    http_q = "sum by (handler, status_class) (brightstaff_http_requests_total)"
    router_q = "sum by (route, fallback) (brightstaff_router_decisions_total)"
    cache_q = "sum by (provider, model, outcome) (brightstaff_prompt_cache_requests_total)"
    outbound_q = f'sum({calls}{{service_name="{live["planoServices"]["outbound"]}"}})'
    latency_q = "sum(request_latency_count)"
    # the Requests Overview's cumulative stat, exactly as Grafana sends it
    (stat,) = [q for q in grafana.queries(900, scrape_seconds()) if q.panel == "Cumulative Request Count"]
    before = {"span": prom.by(span_q, ("llm_model", "llm_provider", "http_status_code")),
              "bright": prom.by(bright_q, ("model", "provider", "status_class")),
              "agents": prom.by(agent_q, ("agent_id",)), "envoy": prom.by(env_q, ()),
              "stat": prom.by(stat.expr, ("llm_model",)), "gateway": prom.by(gateway_q, ("envoy_response_code_class",)),
              "ttft": prom.by(ttft_q, ()), "no_usage": prom.by(no_usage_q, ()),
              "outbound": prom.by(outbound_q, ()), "latency": prom.by(latency_q, ()),
              "http": prom.by(http_q, ("handler", "status_class")), "router": prom.by(router_q, ("route", "fallback")),
              "cache": prom.by(cache_q, ("provider", "model", "outcome"))}

    r = invoke("traffic", "--requests", str(REQUESTS), "--json")
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)
    assert len(sent) == REQUESTS
    # brightstaff answered what the upstream answered (an agent request is 200 whatever its agent did)
    assert [x["status"] for x in sent] == [UPSTREAM_STATUS[x["fault"]] if x["kind"] == "model" else 200 for x in sent]

    want = _expected(live, sent)
    spans = {(mo, p, s): float(n) for (mo, p, s), n in want["calls"].items()}
    bright = Counter()
    for (mo, p, s), n in want["calls"].items():
        bright[(mo, p, _status_class(s))] += float(n)
    per_model = Counter()
    for (mo, _, _), n in want["calls"].items():
        per_model[(mo,)] += float(n)

    # brightstaff serves a client's model request and an agent's LLM call on llm_chat, a client's
    # agent request on agent_chat; every llm_chat request gets a routing decision, which falls
    # back to the requested model (the dev Plano has no routing preferences); every answered
    # call is a prompt-cache miss (the mock reports no cached tokens)
    llm_chat = sum(n for (_, _, st), n in want["calls"].items())
    http = Counter({("agent_chat", "2xx"): float(sum(1 for x in sent if x["kind"] == "agent"))})
    for (_, _, st), n in want["calls"].items():
        http[("llm_chat", _status_class(st))] += float(n)
    cache = {(p, mo, "miss"): float(n) for (mo, p, st), n in want["calls"].items() if st == "200"}
    checks = {
        "span metrics per model, provider and status": (span_q, ("llm_model", "llm_provider", "http_status_code"), "span", spans),
        "brightstaff_llm_upstream_requests_total per model, provider and class": (bright_q, ("model", "provider", "status_class"), "bright", dict(bright)),
        "agent calls per agent": (agent_q, ("agent_id",), "agents", {(a,): float(n) for a, n in want["agents"].items()}),
        "Envoy's rate-limit counter": (env_q, (), "envoy", {(): float(want["envoy_429"]["rateLimited"])}),
        f"panel '{stat.panel}'": (stat.expr, ("llm_model",), "stat", dict(per_model)),
        "Envoy's requests to brightstaff per status class": (gateway_q, ("envoy_response_code_class",), "gateway",
                                                             dict(Counter((str(x["status"])[0],) for x in sent))),
        # the mock agents stream their LLM call when their client streams; Plano's orchestrator does not
        "brightstaff HTTP requests per handler and class": (http_q, ("handler", "status_class"), "http", dict(http)),
        "brightstaff routing decisions": (router_q, ("route", "fallback"), "router", {("llm", "true"): float(llm_chat)}),
        "brightstaff prompt-cache outcomes": (cache_q, ("provider", "model", "outcome"), "cache", cache),
        "WASM time_to_first_token (streamed answers)": (ttft_q, (), "ttft",
                                                        {(): float(sum(1 for x in sent if x["stream"] and x["status"] == 200))}),
        "WASM output_sequence_length 0 (upstream answers without usage)": (
            no_usage_q, (), "no_usage", {(): float(sum(1 for x in sent if x["fault"].startswith("upstream-")))}),
    }
    for what, (expr, labels, key, expected) in checks.items():
        wait_for(f"{what} to grow by {expected}", lambda: dict(delta(prom.by(expr, labels), before[key])),
                 lambda d: d == expected, deadline_s=30)
    refused, agent_calls = want["envoy_429"]["rateLimited"], sum(want["agents"].values())
    wait_for(f"WASM request_latency samples = plano(outbound) spans - {refused} refused + {agent_calls} agent calls",
             lambda: (delta(prom.by(latency_q, ()), before["latency"])[()], delta(prom.by(outbound_q, ()), before["outbound"])[()]),
             lambda d: d[1] > 0 and d[0] == d[1] - refused + agent_calls, deadline_s=30)


def test_one_model_one_series_with_its_provider(plano, prom, settled):
    """brightstaff writes llm.model twice (requested, then the upstream's dated id) and no
    provider for bare names: without the collector's normalization the same model splits."""
    live = plano
    calls = live["metricNames"]["calls"]
    query = f'sum by (llm_model, llm_provider) ({calls}{{service_name="plano(llm)"}})'
    before = prom.by(query, ("llm_model", "llm_provider"))
    r = invoke("traffic", "--requests", "12", "--json")
    assert r.returncode == 0, r.stderr
    want = Counter()
    for (model, provider, _), n in _expected(live, json.loads(r.stdout))["calls"].items():
        want[(model, provider)] += float(n)
    # exactly one series per configured model, with its provider: no `openai/…` series, none
    # without provider, none named after the upstream's dated id
    wait_for(f"the traffic's span metrics as {dict(want)}", lambda: dict(delta(prom.by(query, ("llm_model", "llm_provider")), before)),
             lambda d: d == dict(want), deadline_s=30)
    assert {m for m, _ in want} == {_model(live, m)[0] for m in live["devPlano"]["models"]}


def test_tokens_and_ttft_from_spans_equal_brightstaffs_own(plano, prom, settled):
    """Two independent sources of the same calls: the LLM usage metrics the collector derives
    from real brightstaff's spans, and brightstaff's own counters. Tokens per provider, model and
    kind, and the number of calls with a time to first token, must agree exactly."""
    live = plano
    names = live["metricNames"]
    kinds = {"input": "prompt", "output": "completion"}  # the usage kinds brightstaff names so
    span_q = (f'sum by (llm_provider, llm_model, token_kind) ({names["usageTokens"]}'
              f'{{token_kind=~"{"|".join(kinds)}"}})')
    bright_q = f'sum by (provider, model, kind) (brightstaff_llm_tokens_total{{kind=~"{"|".join(kinds.values())}"}})'
    ttft_span_q = f'sum by (llm_provider, llm_model) ({names["usageTtftBucket"]}{{le="+Inf"}})'
    ttft_bright_q = 'sum by (provider, model) (brightstaff_llm_time_to_first_token_seconds_count)'
    queries = {"span": (span_q, ("llm_provider", "llm_model", "token_kind")), "bright": (bright_q, ("provider", "model", "kind")),
               "ttft_span": (ttft_span_q, ("llm_provider", "llm_model")), "ttft_bright": (ttft_bright_q, ("provider", "model"))}
    before = {k: prom.by(q, labels) for k, (q, labels) in queries.items()}
    r = invoke("traffic", "--requests", "12", "--json")
    assert r.returncode == 0, r.stderr
    ok = sum(1 for x in json.loads(r.stdout) if x["status"] == 200)

    def deltas() -> dict[str, Counter]:
        return {k: delta(prom.by(q, labels), before[k]) for k, (q, labels) in queries.items()}

    def agree(d: dict[str, Counter]) -> bool:
        renamed = Counter({(p, m, kinds[k]): v for (p, m, k), v in d["span"].items()})
        return bool(d["bright"]) and renamed == d["bright"] and d["ttft_span"] == d["ttft_bright"]

    final = wait_for("span-derived tokens and TTFT counts equal brightstaff's", deltas, agree, deadline_s=30)
    assert sum(final["ttft_bright"].values()) >= ok  # every successful call had a first token
    print(f"\nreal brightstaff: {sum(final['bright'].values()):.0f} tokens and "
          f"{sum(final['ttft_bright'].values()):.0f} first tokens, equal from spans and from /metrics")

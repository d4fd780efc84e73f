"""Every request Grafana would send for the provisioned dashboards, sent to the live stack:
variable queries (chained), every panel under All, each single value and two values of each
variable, the values one model shows against the known traffic, and every data link followed to
Tempo. The traffic carries a tenant of its own, so the expected values are exact whatever else
the stack has seen (the fixture is read by tests/fixtures/counts.py, not by the stack's code)."""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from plano_obs.checks import dashcheck, grafana
from tests.fixtures.counts import FIXTURES, counts, providers, usage, with_attribute
from tests.live.conftest import MODE, component, invoke, scrape_seconds, wait_for

RANGE_S = 15 * 60


@dataclass
class Traffic:
    tenant: str
    path: object  # the tagged copy of the fixture
    trace_ids: list[str]
    models: Counter  # calls per model
    providers: dict[str, str]  # model -> provider
    agents: set[str]
    listeners: set[str]


@pytest.fixture(scope="module")
def traffic(live, prom, tmp_path_factory) -> Traffic:
    tenant = f"smoke-{uuid.uuid4().hex[:8]}"
    path = with_attribute(FIXTURES["plano-mixed.jsonl"], tmp_path_factory.mktemp("tenant") / "tenant.jsonl",
                          "tenant.id", tenant)
    c = counts(path)
    r = invoke("traces.replay", str(path), "--speed", "0", "--json")
    assert r.returncode == 0, r.stderr
    ids = json.loads(r.stdout)["trace_ids"]
    calls = live["metricNames"]["calls"]
    want = c["spans"]["spans"]
    wait_for(f"the {want} spans of tenant {tenant} counted",
             lambda: prom.scalar(f'sum({calls}{{tenant_id="{tenant}"}})'), lambda v: v == want)
    return Traffic(tenant, path, ids, c["model"], providers(path, live["modelProviders"], live["usage"]["missing"]),
                   set(c["agent"]), set(c["listener"]))


@pytest.fixture(scope="module")
def backends(live) -> dashcheck.Backends:
    b = dashcheck.default_backends(None, None, MODE)
    dashcheck.reachable(b)
    return b


DASHBOARDS = {d["uid"]: d for d in grafana.load()}


def _options(dash, backends, selection) -> dict[str, list[str]]:
    end = time.time()
    options, verdicts = dashcheck.variable_options(dash, backends, selection, end - RANGE_S, end)
    assert all(v.state != dashcheck.ERROR for v in verdicts.values()), verdicts
    return options


@pytest.mark.parametrize("uid", ["plano-requests-overview", "plano-llm-usage"])
def test_every_variable_lists_exactly_the_values_of_the_traffic(uid, traffic, backends):
    dash = DASHBOARDS[uid]
    assert traffic.tenant in _options(dash, backends, {})["tenant"]
    narrowed = _options(dash, backends, {"tenant": [traffic.tenant]})
    want = {"provider": set(traffic.providers.values()), "model": set(traffic.models),
            "agent": traffic.agents, "listener": traffic.listeners}
    for name, values in narrowed.items():
        if name != "tenant":
            assert set(values) == want[name], (name, values)
            assert len(values) == len(set(values)) and values == sorted(values)  # sort: alphabetical
    # a provider narrows the model list to its own models (chained variables)
    for provider in want["provider"]:
        models = _options(dash, backends, {"tenant": [traffic.tenant], "provider": [provider]})["model"]
        assert set(models) == {m for m, p in traffic.providers.items() if p == provider}, provider


def _selections(dash, backends, tenant: str) -> list[grafana.Selection]:
    """All; each single value of each variable; two values of each variable that has two."""
    out: list[grafana.Selection] = [{}]
    options = _options(dash, backends, {})
    for var in grafana.variables(dash):
        values = options[var.name]
        out += [{var.name: [v]} for v in values]
        if len(values) >= 2:
            out.append({var.name: values[:2]})
    if any(v.name == "tenant" for v in grafana.variables(dash)):
        out.append({"tenant": [tenant]})
    return out


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_panel_answers_without_error_under_every_selection(uid, traffic, backends):
    dash = DASHBOARDS[uid]
    selections = _selections(dash, backends, traffic.tenant)
    assert len(selections) >= 4
    sent, errors = 0, []
    for sel in selections:
        variables, panels = dashcheck.check_dashboard(dash, backends, RANGE_S, scrape_seconds(), sel)
        errors += [f"{sel} variable {n}: {v.detail}" for n, v in variables.items() if v.state == dashcheck.ERROR]
        for p in panels:
            sent += len(p.parts)
            errors += [f"{sel} {p.panel} {ref}: {v.detail}" for ref, v in p.parts if v.state == dashcheck.ERROR]
    assert sent >= len(selections) * len(list(grafana.panels(dash)))
    assert not errors, "\n".join(errors)


def _stat(uid: str, title: str, backends, selection) -> list[dict]:
    """An instant panel's series, queried as Grafana would with this selection."""
    dash = DASHBOARDS[uid]
    end = time.time()
    options, _ = dashcheck.variable_options(dash, backends, selection, end - RANGE_S, end)
    (t,) = [t for t in grafana.targets(dash) if t.panel["title"] == title]
    expr = grafana.interpolate(t.expr, grafana.variables(dash), selection, options,
                               grafana.macros(RANGE_S, scrape_seconds(), end))
    r = requests.get(f"{backends.prometheus}/api/v1/query", params={"query": expr, "time": end}, timeout=10)
    r.raise_for_status()
    return r.json()["data"]["result"]


def test_one_model_shows_exactly_its_share_of_the_traffic(traffic, backends, live):
    want_tokens = usage(traffic.path, live["usage"], live["modelProviders"])["tokens"]
    for model, calls in traffic.models.items():
        sel = {"tenant": [traffic.tenant], "model": [model]}
        got = {s["metric"]["llm_model"]: float(s["value"][1])
               for s in _stat("plano-requests-overview", "Cumulative Request Count", backends, sel)}
        assert got == {model: float(calls)}, model
        tokens = {(s["metric"]["llm_model"], s["metric"]["llm_provider"], s["metric"]["token_kind"]): float(s["value"][1])
                  for s in _stat("plano-llm-usage", "Tokens in Range", backends, sel)}
        assert tokens == {(m, p, k): float(v) for (m, p, t, k), v in want_tokens.items() if m == model}, model
    # two models at once: each with its own count, nothing else
    two = sorted(traffic.models)[:2]
    got = {s["metric"]["llm_model"]: float(s["value"][1]) for s in _stat(
        "plano-requests-overview", "Cumulative Request Count", backends, {"tenant": [traffic.tenant], "model": two})}
    assert got == {m: float(traffic.models[m]) for m in two}


def test_every_trace_link_opens_traces_of_what_it_names(traffic, backends, live):
    component(live, "tempo")
    dash = DASHBOARDS["plano-requests-overview"]
    want_models = set(traffic.models)

    def followed():
        links = dashcheck.check_links(dash, backends, RANGE_S, scrape_seconds())
        return {lv.title: lv for lv in links}

    links = wait_for("every model's trace link to open traces", followed,
                     lambda ls: all(f"Traces of {m}" in ls and ls[f"Traces of {m}"].verdict.state == dashcheck.DATA
                                    for m in want_models), deadline_s=60)
    for model in want_models:
        lv = links[f"Traces of {model}"]
        assert lv.trace_ids, lv.title
        for tid in lv.trace_ids[:5]:  # each opens a stored trace holding a call to that model
            body = requests.get(f"{backends.tempo}/api/v2/traces/{tid}", timeout=10).json()
            models = {a["value"].get("stringValue") for b in body["trace"]["resourceSpans"] for s in b["scopeSpans"]
                      for sp in s["spans"] for a in sp.get("attributes", []) if a["key"] == "llm.model"}
            assert model in models, (lv.title, tid, models)


def test_dashboards_check_prints_one_verdict_per_panel_and_fails_on_errors(traffic, live):
    r = invoke("dashboards.check", "--var", f"tenant={traffic.tenant}", "--dashboard", "plano-llm-usage")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    dash = DASHBOARDS["plano-llm-usage"]
    for panel in grafana.panels(dash):
        (line,) = [l for l in lines if l.strip()[2:].startswith(panel["title"] + " — ")]
        assert line.strip()[0] in "✔∅", line
    assert [l for l in lines if "Tokens in Range" in l][0].strip().startswith("✔")
    assert lines[-1].endswith("0 ✘ error")
    bad = invoke("dashboards.check", "--prometheus", "http://127.0.0.1:1")
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "does not answer" in bad.stderr


def test_the_other_variable_query_kinds_answer_as_grafana_reads_them(traffic, backends, live):
    """label_values without a metric, label_names(), metrics() and query_result(), as Grafana's
    Prometheus datasource sends them, on the tagged traffic."""
    calls = live["metricNames"]["calls"]
    end = time.time()

    def ask(query: str, var: grafana.Variable | None = None) -> list[str]:
        req = grafana.variable_request(query, end - RANGE_S, end, backends.match_api)
        answer = backends.get(backends.prometheus, req.path, list(req.params))
        assert answer["status"] == "success", (query, answer)
        return grafana.variable_options(req, answer, var)

    assert traffic.tenant in ask("label_values(tenant_id)")
    assert {"llm_model", "tenant_id", "service_name"} <= set(ask("label_names()"))
    assert calls in ask("metrics(^traces_span_metrics_)")
    per_model = ask(f'query_result(sum by (llm_model) ({calls}{{tenant_id="{traffic.tenant}", service_name="plano(llm)"}}))',
                    grafana.Variable("m", "", regex='/llm_model="([^"]+)"/', sort=1))
    assert per_model == sorted(traffic.models)
    series = ask(f'label_values({calls}{{tenant_id="{traffic.tenant}", service_name="plano(agent)"}}, agent_id)')
    fallback = grafana.variable_request(f'label_values({calls}{{tenant_id="{traffic.tenant}", service_name="plano(agent)"}}, agent_id)',
                                        end - RANGE_S, end, match_api=False)
    answer = backends.get(backends.prometheus, fallback.path, list(fallback.params))
    assert sorted(grafana.variable_options(fallback, answer)) == sorted(series) == sorted(traffic.agents)

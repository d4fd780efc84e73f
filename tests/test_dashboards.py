"""The Requests Overview dashboard, and the rules every dashboard must follow."""
import copy

import pytest

from plano_obs.checks import grafana, promql
from plano_obs.checks.lint import dashboard_rules

UIDS = {"plano-prometheus", "plano-tempo"}
SEED = ["LLM Requests/sec by Model", "Agent Requests/sec by Agent", "Total Requests/sec",
       "Rate-Limited Requests/sec", "LLM Latency p50/p95/p99 by Model", "Cumulative Request Count"]


def _panel(d, title):
    return next(p for p in d["panels"] if p["title"] == title)


def test_the_seeds_six_panels_the_listeners_and_the_service_graph_eight_in_all(dashboard):
    assert dashboard["uid"] == "plano-requests-overview"
    assert dashboard["title"] == "Plano - Requests Overview"
    titles = SEED[:2] + ["Orchestrator Requests/sec by Listener"] + SEED[2:] + ["Service Graph"]
    assert len(titles) == 8
    assert [p["title"] for p in dashboard["panels"]] == titles
    units = {p["title"]: p["fieldConfig"]["defaults"]["unit"] for p in dashboard["panels"]}
    assert units == dict(zip(titles, ["reqps", "reqps", "reqps", "reqps", "reqps", "ms", "short", "reqps"]))


def test_service_graph_panel_asks_tempo_for_its_service_map(dashboard):
    from plano_obs.checks import grafana
    panel = _panel(dashboard, "Service Graph")
    assert panel["type"] == "nodeGraph"
    assert panel["datasource"] == {"type": "tempo", "uid": "plano-tempo"}
    assert panel["targets"] == [{"datasource": {"type": "tempo", "uid": "plano-tempo"}, "queryType": "serviceMap", "refId": "A"}]
    # what Grafana then asks Prometheus: one instant query per service-graph metric
    sent = [t.expr for t in grafana.targets({"panels": [panel]})]
    assert sent == [f"sum by (client, server) (rate({m}[$__range]))" for m in (
        "traces_service_graph_request_total", "traces_service_graph_request_failed_total",
        "traces_service_graph_request_server_seconds_sum")]


def test_queries_use_current_metric_names(dashboard):
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"] if "expr" in t]
    text = "\n".join(exprs)
    assert "calls_total{" not in text.replace("traces_span_metrics_calls_total{", "")
    assert "envoy_wasmcustom" not in text
    assert "sum(rate(ratelimited_rq[$__rate_interval]))" in exprs
    latency = _panel(dashboard, "LLM Latency p50/p95/p99 by Model")
    assert [t["expr"].split(",")[0] for t in latency["targets"]] == [
        "histogram_quantile(0.5", "histogram_quantile(0.95", "histogram_quantile(0.99"]
    assert all("traces_span_metrics_duration_milliseconds_bucket" in t["expr"] and t["exemplar"] for t in latency["targets"])


def test_total_requests_regex_matches_the_literal_service_names(dashboard):
    import re
    expr = _panel(dashboard, "Total Requests/sec")["targets"][0]["expr"]
    tree = promql.parse(promql.substitute(expr, grafana.variable_values(dashboard)))
    regex = {m.name: m.value for m in tree.expr.args[0].vector_selector.matchers.matchers}["service_name"]
    pattern = re.compile(f"^(?:{regex})$")  # Prometheus anchors label regexes
    assert pattern.match("plano(llm)") and pattern.match("plano(orchestrator)")
    assert not pattern.match("planollm") and not pattern.match("plano(routing)")


def test_generated_dashboard_passes_the_rules(dashboard):
    assert dashboard_rules.check(dashboard, UIDS) == []


@pytest.mark.parametrize("mutate, expected", [
    (lambda p: p.pop("description"), "panel has no description"),
    (lambda p: p["fieldConfig"]["defaults"].pop("unit"), "panel has no unit"),
    (lambda p: p.update(datasource="Prometheus"), "panel datasource must be referenced by a fixed uid"),
    (lambda p: p["targets"][0].update(datasource={"type": "prometheus", "uid": "abc123"}), "target A datasource must be referenced by a fixed uid"),
    (lambda p: p["targets"][0].update(expr="sum(rate(x_total[5m]))"), "hard-codes a range window"),
    (lambda p: p["targets"][0].update(expr="sum by (llm_model) (traces_span_metrics_calls_total)"), "uses counter traces_span_metrics_calls_total without rate()"),
    (lambda p: p["targets"][0].update(expr="sum(ratelimited_rq)"), "uses counter ratelimited_rq without rate()"),
    (lambda p: p["targets"][0].update(expr="sum(rate(x_total[$__rate_interval])"), "does not parse"),
    (lambda p: p["targets"][0].update(expr="sum(rate(x_total{a=\"$nope\"}[$__rate_interval]))"), "unknown variable $nope"),
])
def test_each_rule_catches_its_mistake(dashboard, mutate, expected):
    broken = copy.deepcopy(dashboard)
    mutate(broken["panels"][0])
    problems = dashboard_rules.check(broken, UIDS)
    assert len(problems) == 1 and expected in problems[0], problems
    assert problems[0].startswith("plano-requests-overview / LLM Requests/sec by Model:")


def test_instant_stat_may_show_a_raw_counter_but_a_range_stat_may_not(dashboard):
    broken = copy.deepcopy(dashboard)
    stat = _panel(broken, "Cumulative Request Count")
    assert dashboard_rules.check(broken, UIDS) == []
    stat["targets"][0]["instant"] = False
    assert any("without rate()" in p for p in dashboard_rules.check(broken, UIDS))


def test_dashboard_level_fields_are_required(dashboard):
    broken = copy.deepcopy(dashboard)
    broken["uid"] = "x1y2"
    del broken["description"]
    problems = dashboard_rules.check(broken, UIDS)
    assert "x1y2: uid must be fixed and start with 'plano-'" in problems
    assert "x1y2: dashboard has no description" in problems


def _problems_without(dashboard: dict, title: str, matcher: str) -> list[str]:
    """The rules' findings once the first query of a panel loses one matcher."""
    broken = copy.deepcopy(dashboard)
    target = _panel(broken, title)["targets"][0]
    target["expr"] = target["expr"].replace(matcher, "")
    return dashboard_rules.check(broken, UIDS)


def test_a_query_that_ignores_a_variable_its_component_carries_is_caught(dashboard):
    assert _problems_without(dashboard, "LLM Requests/sec by Model", ', tenant_id=~"$tenant"') == [
        "plano-requests-overview / LLM Requests/sec by Model: target A ignores the $tenant variable "
        '(tenant_id=~"$tenant" on traces_span_metrics_calls_total)']
    # a selector over several components needs only what all of them carry: no $model on Total
    total = _panel(dashboard, "Total Requests/sec")["targets"][0]["expr"]
    assert "$tenant" in total and "$model" not in total


@pytest.fixture(scope="module")
def usage_dashboard():
    import json
    from plano_obs.config import paths
    return json.loads((paths.GENERATED / "dashboards" / "plano-llm-usage.json").read_text())


def test_llm_usage_panels_units_and_variables(usage_dashboard):
    units = {p["title"]: p["fieldConfig"]["defaults"]["unit"] for p in usage_dashboard["panels"]}
    assert units == {
        "Tokens/sec by Model and Kind": "short", "Tokens in Range": "short",
        "Cost per Hour by Model": "currencyUSD", "Cost in Range by Tenant": "currencyUSD",
        "Time to First Token p50/p95/p99 by Model": "ms", "Output Tokens/sec per Call p50 by Model": "short",
        "Upstream Error Share by Model": "percentunit", "Rate-Limited Share by Model": "percentunit",
        "Slowest LLM Calls": "ms", "Failed LLM Calls": "ms"}
    assert [v["name"] for v in usage_dashboard["templating"]["list"]] == ["tenant", "provider", "model"]
    assert dashboard_rules.check(usage_dashboard, UIDS) == []
    latency = _panel(usage_dashboard, "Time to First Token p50/p95/p99 by Model")
    assert all(t["exemplar"] for t in latency["targets"])


def test_brightstaff_dashboard_covers_upstreams_panels_with_units(usage_dashboard):
    import json
    from plano_obs.config import paths
    dash = json.loads((paths.GENERATED / "dashboards" / "plano-brightstaff.json").read_text())
    assert dashboard_rules.check(dash, UIDS) == []
    units = {p["title"]: p["fieldConfig"]["defaults"]["unit"] for p in dash["panels"]}
    # upstream's rows: HTTP RED, LLM upstream, routing, process; plus Plano's WASM metrics
    assert units["HTTP Requests/sec by Handler"] == "reqps" and units["HTTP 5xx Share by Handler"] == "percentunit"
    assert units["HTTP Latency p50/p95/p99 by Handler"] == "s" and units["Router Fallback Share by Route"] == "percentunit"
    assert units["Envoy Request Latency p50/p95 (WASM)"] == "ms" and units["Router Decision p95 by Route"] == "s"
    families = {s.name for t in grafana.targets(dash)
                for s in promql.analyse(promql.substitute(t.expr, grafana.variable_values(dash))).selectors}
    assert {"brightstaff_http_requests_total", "brightstaff_http_request_duration_seconds_bucket",
            "brightstaff_http_in_flight_requests", "brightstaff_llm_upstream_requests_total",
            "brightstaff_llm_upstream_duration_seconds_bucket", "brightstaff_llm_time_to_first_token_seconds_bucket",
            "brightstaff_llm_tokens_total", "brightstaff_llm_tokens_usage_missing_total",
            "brightstaff_router_decisions_total", "brightstaff_router_decision_duration_seconds_bucket",
            "brightstaff_prompt_cache_requests_total", "request_latency_bucket", "active_http_calls"} <= families
    assert _problems_without(dash, "LLM Upstream Calls/sec by Model and Status", 'model=~"$model", ') == [
        "plano-brightstaff / LLM Upstream Calls/sec by Model and Status: target A ignores the $model variable "
        '(model=~"$model" on brightstaff_llm_upstream_requests_total)']


def test_trace_tables_query_tempo_and_model_rows_link_to_their_traces(dashboard, usage_dashboard):
    import json
    import urllib.parse
    assert dashboard_rules.check(usage_dashboard, UIDS) == []
    tables = grafana.traceql(usage_dashboard)
    assert tables == {
        "Slowest LLM Calls": '{ resource.service.name = "plano(llm)" && span.llm.model =~ ".*" && span.llm.provider =~ ".*" && duration > 2s }',
        "Failed LLM Calls": '{ resource.service.name = "plano(llm)" && span.llm.model =~ ".*" && span.llm.provider =~ ".*" && status = error }'}
    for title in tables:
        (target,) = _panel(usage_dashboard, title)["targets"]
        assert target["datasource"] == {"type": "tempo", "uid": "plano-tempo"} and target["tableType"] == "traces"
    # the link as Grafana follows it for the series gpt-4o-mini, 1000–2000 ms
    (link,) = _panel(dashboard, "LLM Requests/sec by Model")["fieldConfig"]["defaults"]["links"]
    url = link["url"]
    for var, value in (("__field.labels.llm_model", "gpt-4o-mini"), ("__from", "1000"), ("__to", "2000")):
        url = url.replace("${%s:percentencode}" % var, urllib.parse.quote(value, safe=""))
    assert "${" not in url and url.startswith("/explore?")
    (pane,) = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["panes"][0]).values()
    assert pane["range"] == {"from": "1000", "to": "2000"}
    assert pane["queries"] == [{"refId": "A", "datasource": {"type": "tempo", "uid": "plano-tempo"}, "queryType": "traceql",
                                "query": '{ resource.service.name = "plano(llm)" && span.llm.model = "gpt-4o-mini" }'}]

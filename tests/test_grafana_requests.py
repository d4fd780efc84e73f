"""What Grafana sends for each dashboard: variable queries (chained), selections written into
PromQL, macros and data links. The expected strings follow Grafana's documented formatting
(docs: "Formatting multi-value variables", Prometheus "template variables"), written out here."""
from __future__ import annotations

import re

import pytest

from plano_obs.checks import dashcheck, grafana, promql

DASHBOARDS = grafana.load()
MODEL = grafana.Variable("model", "label_values(m{a=~\"$tenant\"}, llm_model)", multi=True, include_all=True, all_value=".*")
PLAIN = grafana.Variable("plain", "label_values(x)", multi=False, include_all=False)
NO_ALL_VALUE = grafana.Variable("model", "q", multi=True, include_all=True, all_value=None)


@pytest.mark.parametrize("selection, want", [
    (["gpt-4o"], 'llm_model=~"gpt-4o"'),
    (["gpt-4.1"], 'llm_model=~"gpt-4\\\\.1"'),  # one value of a multi variable is regex-escaped
    (["gpt-4o", "claude-3.5"], 'llm_model=~"(gpt-4o|claude-3\\\\.5)"'),
    (["a(b)|c"], 'llm_model=~"a\\\\(b\\\\)\\\\|c"'),
    (grafana.ALL, 'llm_model=~".*"'),  # the custom all value, as is
])
def test_a_selection_is_written_into_promql_as_the_prometheus_datasource_does(selection, want):
    got = grafana.interpolate('llm_model=~"$model"', [MODEL], {"model": selection}, {"model": ["x", "y"]})
    assert got == want


def test_all_without_a_custom_all_value_is_every_option_escaped():
    got = grafana.interpolate('m=~"$model"', [NO_ALL_VALUE], {}, {"model": ["gpt-4o", "o1.mini"]})
    assert got == 'm=~"(gpt-4o|o1\\\\.mini)"'


def test_a_single_value_variable_is_not_regex_escaped():
    assert grafana.interpolate('x="$plain"', [PLAIN], {"plain": ["a.b"]}, {}) == 'x="a.b"'


@pytest.mark.parametrize("text, want", [
    ("${model:percentencode}", "a%20b%2Fc"),
    ("${model:regex}", "a b/c".replace("/", "\\/")),
    ("${model:raw}", "a b/c"),
    ("[[model]]", "a b/c"),
])
def test_explicit_formats(text, want):
    assert grafana.interpolate(text, [MODEL], {"model": ["a b/c"]}, {}) == want


def test_macros_follow_the_range_and_the_scrape_interval():
    m = grafana.macros(range_s=3600, scrape_s=0.5, end_s=10_000)
    assert m["__interval"] == "3600ms"  # 3600 s over 1000 points
    assert m["__rate_interval"] == "4100ms"  # __interval + scrape interval (4 × 0.5 s is less)
    assert (m["__range"], m["__range_s"], m["__range_ms"]) == ("3600s", "3600", "3600000")
    assert (m["__from"], m["__to"]) == ("6400000", "10000000")
    assert grafana.macros(900, 0.5)["__rate_interval"] == "2000ms"  # 4 × scrape interval wins


def test_unknown_variable_is_an_error_not_a_silent_blank():
    with pytest.raises(promql.PromQLError, match=r"unknown variable \$nope"):
        grafana.interpolate("x{a=~\"$nope\"}", [MODEL], {}, {})


@pytest.mark.parametrize("query, match_api, path, params, kind", [
    ('label_values(calls{service_name="plano(llm)"}, llm_model)', True, "/api/v1/label/llm_model/values",
     {"match[]": 'calls{service_name="plano(llm)"}'}, "label_values"),
    ('label_values(calls{service_name="plano(llm)"}, llm_model)', False, "/api/v1/series",
     {"match[]": 'calls{service_name="plano(llm)"}'}, "series"),
    ("label_values(llm_model)", True, "/api/v1/label/llm_model/values", {}, "label_values"),
    ("label_values({}, llm_model)", True, "/api/v1/label/llm_model/values", {}, "label_values"),
    ("label_names()", True, "/api/v1/labels", {}, "label_names"),
    ("metrics(traces_.*)", True, "/api/v1/label/__name__/values", {}, "metrics"),
    ("query_result(topk(3, up))", True, "/api/v1/query", {"query": "topk(3, up)", "time": "200"}, "query_result"),
])
def test_variable_queries_become_the_documented_requests(query, match_api, path, params, kind):
    req = grafana.variable_request(query, 100, 200, match_api)
    sent = dict(req.params)
    assert (req.path, req.kind) == (path, kind)
    for k, v in params.items():
        assert sent[k] == v
    if kind != "query_result":
        assert (sent["start"], sent["end"]) == ("100", "200")


def test_variable_answers_become_sorted_unique_options():
    var = grafana.Variable("m", "", multi=True, include_all=True, sort=1)
    series = grafana.variable_request("label_values(x{a=\"b\"}, l)", 0, 1, False)
    answer = {"data": [{"l": "b"}, {"l": "a"}, {"l": "b"}, {"other": "c"}]}
    assert grafana.variable_options(series, answer, var) == ["a", "b"]
    result = grafana.variable_request("query_result(up)", 0, 1)
    answer = {"data": {"resultType": "vector", "result": [{"metric": {"__name__": "up", "job": "p"}, "value": [12.5, "1"]}]}}
    assert grafana.variable_options(result, answer) == ['up{job="p"} 1 12500']
    regexed = grafana.Variable("m", "", regex='/job="([^"]+)"/')
    assert grafana.variable_options(result, answer, regexed) == ["p"]
    metrics = grafana.variable_request("metrics(^traces_)", 0, 1)
    assert grafana.variable_options(metrics, {"data": ["up", "traces_a", "xtraces_b"]}) == ["traces_a"]


def test_the_datasource_tells_grafana_to_use_the_label_values_match_api():
    ds = dashcheck.datasource_json("native")
    assert grafana.labels_match_api(ds)
    assert not grafana.labels_match_api({})  # no version: Grafana falls back to /api/v1/series
    assert not grafana.labels_match_api({"prometheusType": "Prometheus", "prometheusVersion": "2.23.0"})


# Selections of the variables shown before each one, as a user makes them; values with regex
# metacharacters catch any escape Prometheus would refuse.
SELECTIONS = [{}, {"tenant": ["acme.eu"], "provider": ["openai"]},
              {"tenant": ["a(b)", "c|d"], "provider": ["openai", "anthropic"], "model": ["gpt-4.1"]}]


def _regex_matchers(selector: str) -> dict[str, str]:
    tree = promql.parse(selector)
    return {m.name: m.value for m in tree.matchers.matchers if m.op.__class__.__name__ and "Re" in str(m.op)}


@pytest.mark.parametrize("selection", SELECTIONS, ids=["all", "single", "several"])
@pytest.mark.parametrize("dash", DASHBOARDS, ids=[d["uid"] for d in DASHBOARDS])
def test_every_variable_query_is_one_prometheus_accepts(dash, selection):
    """The bug this guards against: `service_name=~"plano\\(llm\\)"` is an invalid escape in a
    PromQL string; Prometheus answered every dropdown with a parse error."""
    vs = grafana.variables(dash)
    options: dict[str, list[str]] = {}
    for var in vs:
        query = grafana.interpolate(var.query, vs, selection, options)
        req = grafana.variable_request(query, 0, 1)
        assert req.kind == "label_values" and req.path == f"/api/v1/label/{req.label}/values", query
        selector = dict(req.params)["match[]"]
        tree = promql.parse(selector)  # raises on what Prometheus would refuse
        matchers = {m.name: m.value for m in tree.matchers.matchers}
        service = matchers["service_name"]
        if "(" in service and "\\(" in service:  # a regex over literal names: it matches them exactly
            assert re.fullmatch(service, "plano(llm)") and not re.fullmatch(service, "planoXllmX")
        for earlier, picked in selection.items():
            label = {"tenant": "tenant_id", "provider": "llm_provider", "model": "llm_model"}[earlier]
            if label in matchers and picked != grafana.ALL:
                assert all(re.fullmatch(matchers[label], v) for v in picked), (query, picked)
                assert not re.fullmatch(matchers[label], "somethingelse")
        options[var.name] = ["x.y", "z"]


@pytest.mark.parametrize("selection", SELECTIONS, ids=["all", "single", "several"])
def test_every_panel_query_parses_under_every_selection(selection):
    qs = grafana.queries(900, 0.5, selection, {d["title"]: {v.name: ["x.y", "z"] for v in grafana.variables(d)}
                                               for d in DASHBOARDS})
    assert len(qs) >= 50
    for q in qs:
        promql.parse(q.expr)


def test_chained_variables_narrow_by_the_ones_shown_before():
    overview = next(d for d in DASHBOARDS if d["uid"] == "plano-requests-overview")
    order = [v.name for v in grafana.variables(overview)]
    assert order == ["tenant", "provider", "model", "agent", "listener"]
    model = next(v for v in grafana.variables(overview) if v.name == "model")
    assert 'tenant_id=~"$tenant"' in model.query and 'llm_provider=~"$provider"' in model.query
    sent = grafana.interpolate(model.query, grafana.variables(overview), {"tenant": ["acme"], "provider": ["openai"]}, {})
    assert sent == ('label_values(traces_span_metrics_calls_total{service_name="plano(llm)", tenant_id=~"acme", '
                    'llm_provider=~"openai"}, llm_model)')
    brightstaff = next(d for d in DASHBOARDS if d["uid"] == "plano-brightstaff")
    # no tenant on that dashboard: its model list is narrowed by the provider only
    assert "tenant" not in next(v for v in grafana.variables(brightstaff) if v.name == "model").query


def test_the_trace_data_link_opens_explore_on_tempo_with_the_series_model():
    overview = next(d for d in DASHBOARDS if d["uid"] == "plano-requests-overview")
    (link,) = grafana.links(overview)
    url = link.resolve({"__field.labels.llm_model": "gpt-4.1 mini"}, 900, 10_000)
    queries, span = grafana.explore(url)
    assert span == {"from": "9100000", "to": "10000000"}
    assert [q["datasource"]["uid"] for q in queries] == ["plano-tempo"]
    assert queries[0]["query"] == '{ resource.service.name = "plano(llm)" && span.llm.model = "gpt-4.1 mini" }'
    assert grafana.interpolate(link.title, [], {}, {}, scoped={"__field.labels.llm_model": "m"}, datasource=None) == "Traces of m"


def test_dashcheck_names_the_selection_and_refuses_bad_ones():
    assert dashcheck.parse_selection(["model=a,b", "tenant=t"]) == {"model": ["a", "b"], "tenant": ["t"]}
    for bad in ("model", "=a", "model="):
        with pytest.raises(dashcheck.CheckError, match="NAME=VALUE"):
            dashcheck.parse_selection([bad])
    with pytest.raises(dashcheck.CheckError, match="no dashboard 'nope'"):
        dashcheck.pick(DASHBOARDS, "nope")
    assert [d["uid"] for d in dashcheck.pick(DASHBOARDS, "Plano - LLM Usage")] == ["plano-llm-usage"]


def test_tempo_joins_several_values_with_a_pipe_and_leaves_one_as_is():
    """Grafana's Tempo datasource formats multi-value variables as pipe in TraceQL (since 10.1):
    the glob default, {a,b}, matched nothing."""
    q = '{ span.llm.model =~ "$model" }'
    assert grafana.interpolate(q, [MODEL], {"model": ["gpt-4o", "o1"]}, {}, datasource="tempo") == '{ span.llm.model =~ "gpt-4o|o1" }'
    assert grafana.interpolate(q, [MODEL], {"model": ["gpt-4o"]}, {}, datasource="tempo") == '{ span.llm.model =~ "gpt-4o" }'
    assert grafana.interpolate(q, [MODEL], {}, {}, datasource="tempo") == '{ span.llm.model =~ ".*" }'

"""The Plano monitoring mixin (mixin/), used as operators use kubernetes-mixin or node-mixin:
imported by path from their own Jsonnet, `_config` overridden, dashboards and rules rendered."""
from __future__ import annotations

import json
from pathlib import Path

import _jsonnet
import pytest

from plano_obs.config import paths

MIXIN = paths.ROOT / "mixin"


def _evaluate(code: str, tmp_path: Path) -> dict:
    """Evaluates an operator's own file, outside this repository, that imports the mixin by path."""
    own = tmp_path / "monitoring.jsonnet"
    own.write_text(code)
    return json.loads(_jsonnet.evaluate_file(str(own)))


def _exprs(rule_file: dict) -> list[str]:
    return [r["expr"] for g in rule_file["groups"] for r in g["rules"]]


def test_the_mixin_has_the_three_public_fields_and_renders_alone(tmp_path):
    out = _evaluate(f"""
        local mixin = import '{MIXIN}/mixin.libsonnet';
        {{ dashboards: mixin.grafanaDashboards, alerts: mixin.prometheusAlerts, rules: mixin.prometheusRules }}""", tmp_path)
    committed = {p.name: json.loads(p.read_text()) for p in (paths.GENERATED / "dashboards").glob("*.json")}
    assert out["dashboards"] == committed  # the stack provisions exactly the mixin's dashboards
    alerts = [r for g in out["alerts"]["groups"] for r in g["rules"]]
    assert alerts and all("alert" in r and "record" not in r for r in alerts)
    records = [r for g in out["rules"]["groups"] for r in g["rules"]]
    assert records and all("record" in r and "alert" not in r for r in records)
    for alert in alerts:  # what an on-call operator needs on every alert
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]


def test_each_part_has_its_own_entry_point():
    for part, field in (("dashboards", "grafanaDashboards"), ("alerts", "prometheusAlerts"), ("rules", "prometheusRules")):
        alone = json.loads(_jsonnet.evaluate_file(str(MIXIN / "lib" / f"{part}.jsonnet")))
        whole = json.loads(_jsonnet.evaluate_snippet("x", f"(import '{MIXIN}/mixin.libsonnet').{field}"))
        assert alone == whole, part


def test_an_operators_override_of_a_selector_and_a_threshold_reaches_dashboards_and_alerts(tmp_path):
    out = _evaluate(f"""
        local mixin = (import '{MIXIN}/mixin.libsonnet') + {{
          _config+:: {{
            plano+: {{ services+: {{ llm: 'acme-llm' }} }},
            alerts+: {{ llmErrorRatio: 0.2, window: '10m' }},
            datasources+: {{ prometheus: 'my-prometheus' }},
          }},
        }};
        {{ dashboards: mixin.grafanaDashboards, alerts: mixin.prometheusAlerts, rules: mixin.prometheusRules }}""", tmp_path)
    from plano_obs.checks import grafana
    queries = [t.expr for d in out["dashboards"].values() for t in grafana.targets(d, traceql_too=True)] + \
              [v.query for d in out["dashboards"].values() for v in grafana.variables(d)]
    assert not [q for q in queries if "plano(llm)" in q or "plano\\\\(llm" in q]
    default = [t.expr for d in grafana.load() for t in grafana.targets(d, traceql_too=True)] + \
              [v.query for d in grafana.load() for v in grafana.variables(d)]
    escaped = lambda name: name.replace("(", "\\\\(").replace(")", "\\\\)")  # noqa: E731  (as in a PromQL regex string)
    selecting = lambda qs, name: sum(f'"{name}"' in q or escaped(name) in q for q in qs)  # noqa: E731
    assert selecting(queries, "acme-llm") == selecting(default, "plano(llm)") >= 16
    text = json.dumps(out["dashboards"])
    assert '"uid": "plano-prometheus"' not in text and '"uid": "my-prometheus"' in text
    usage = out["dashboards"]["plano-llm-usage.json"]
    variables = {v["name"]: v["query"]["query"] for v in usage["templating"]["list"]}
    assert 'service_name="acme-llm"' in variables["model"]
    (ratio,) = [r for g in out["alerts"]["groups"] for r in g["rules"] if r["alert"] == "PlanoLlmHighErrorRatio"]
    assert ratio["expr"] == "llm_model:plano_llm_errors:rate10m / llm_model:plano_llm_requests:rate10m > 0.2"
    assert "More than 20%" in ratio["annotations"]["summary"]
    rules = {r["record"]: r["expr"] for g in out["rules"]["groups"] for r in g["rules"]}
    assert set(rules) == {"llm_model:plano_llm_requests:rate10m", "llm_model:plano_llm_errors:rate10m",
                          "llm_model:plano_llm_ratelimited:rate10m"}
    assert all('service_name="acme-llm"' in e and "[10m]" in e for e in rules.values())


def test_the_config_holds_only_what_dashboards_alerts_and_rules_read():
    keys = json.loads(_jsonnet.evaluate_snippet("x", f"std.objectFieldsAll((import '{MIXIN}/mixin.libsonnet')._config)"))
    assert sorted(keys) == ["alerts", "dashboards", "datasources", "metricNames", "plano", "spanMetrics", "usage"]
    plano = json.loads(_jsonnet.evaluate_snippet("x", f"std.objectFields((import '{MIXIN}/mixin.libsonnet')._config.plano)"))
    assert sorted(plano) == ["brightstaffCluster", "services"]


def test_jsonnet_bundler_can_vendor_it_by_path():
    spec = json.loads((MIXIN / "jsonnetfile.json").read_text())
    assert spec["version"] == 1 and spec["dependencies"] == []


@pytest.mark.parametrize("stack_file", ["compose/rules.yml", "native/rules.yml"])
def test_the_stack_loads_the_mixins_rules_then_its_alerts(stack_file):
    import yaml
    loaded = yaml.safe_load((paths.GENERATED / stack_file).read_text())
    rules = json.loads(_jsonnet.evaluate_file(str(MIXIN / "lib" / "rules.jsonnet")))
    alerts = json.loads(_jsonnet.evaluate_file(str(MIXIN / "lib" / "alerts.jsonnet")))
    names = lambda f: [g["name"] for g in f["groups"]]  # noqa: E731
    assert names(loaded) == names(rules) + names(alerts)
    assert _exprs(loaded) == _exprs(rules) + _exprs(alerts)


def test_panel_ids_are_unique_however_many_panels_a_row_holds(tmp_path):
    """Ids were row * 10 + column + 1: the eleventh panel of a row took the next row's first id."""
    out = _evaluate(f"""
        local mixin = import '{MIXIN}/mixin.libsonnet';
        local p = mixin.panels, q = mixin.queries;
        local stat(n) = p.stat('Panel %d' % n, 'A panel.', [p.target(q.llmRequestsTotal())]);
        (mixin + {{ dashboardPages+:: {{ wide: {{ title: 'Wide', description: 'Twelve in a row.', variables: [],
                                               rows: [[stat(n) for n in std.range(1, 12)], [stat(13)]] }} }} }})
        .grafanaDashboards['plano-wide.json']""", tmp_path)
    assert [p["id"] for p in out["panels"]] == list(range(1, 14))
    assert [p["gridPos"]["y"] for p in out["panels"]] == [0] * 12 + [8]
    for dash in (json.loads(p.read_text()) for p in (paths.GENERATED / "dashboards").glob("*.json")):
        ids = [p["id"] for p in dash["panels"]]
        assert ids == list(range(1, len(ids) + 1)), dash["uid"]

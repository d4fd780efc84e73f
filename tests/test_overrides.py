"""A user's override reaches every file; mistakes fail loudly with file:line."""
import json

import yaml
import pytest

from plano_obs.config import render
from plano_obs.errors import JsonnetError


def test_an_override_reaches_every_consumer(override):
    path = override("{ _config+:: { bindAddress: '0.0.0.0', ports+: { grafana: 3001 } } }")
    files = render.render("compose", path)
    compose = yaml.safe_load(files["compose/docker-compose.yaml"])
    assert "0.0.0.0:3001:3000" in compose["services"]["grafana"]["ports"]
    assert all(p.startswith("0.0.0.0:") for s in compose["services"].values() for p in s.get("ports", []))
    native = render.render("native", path)
    assert json.loads(native["native/processes.json"])["grafana"]["env"]["GF_SERVER_HTTP_PORT"] == "3001"
    jobs = {j["job_name"]: j for j in yaml.safe_load(native["native/prometheus.yml"])["scrape_configs"]}
    assert jobs["grafana"]["static_configs"][0]["targets"] == ["127.0.0.1:3001"]


def test_namespace_override_renames_the_dashboard_queries(override):
    path = override("{ _config+:: { spanMetrics+: { namespace: 'plano.spans' } } }")
    files = render.render("compose", path)
    dash = files["dashboards/plano-requests-overview.json"]
    assert "plano_spans_calls_total" in dash and "traces_span_metrics" not in dash
    assert "plano_spans_calls_total" in files["compose/rules.yml"]


def test_unknown_override_key_names_the_key(override):
    path = override("{ _config+:: { ports+: { grafna: 3001 } } }")
    with pytest.raises(JsonnetError, match=r"unknown override key _config\.ports\.grafna"):
        render.render("compose", path)


def test_override_of_anything_but_config_is_refused(override):
    path = override("{ _config+:: {}, collector+:: {} }")
    with pytest.raises(JsonnetError, match="may only override _config, found: collector"):
        render.render("compose", path)


def test_syntax_error_reports_file_and_line(override):
    path = override("{\n  _config+:: {\n    ports+: { grafana: 3001 \n  }\n")
    with pytest.raises(JsonnetError) as err:
        render.render("compose", path)
    line = err.value.line()
    assert f"{path}:" in line and "\n" not in line


def test_runtime_error_in_sources_reports_file_and_line():
    err = render.parse_error("RUNTIME ERROR: boom\n\tstack/config.libsonnet:12:5-20\tobject <anonymous>\n\tduring manifestation\t\n")
    assert err.line() == "stack/config.libsonnet:12: boom"



def test_the_shipped_example_override_renders():
    from plano_obs.config import paths
    files = render.render("compose", paths.STACK / "local.libsonnet.example")
    assert files == render.render("compose")  # everything in it is commented out

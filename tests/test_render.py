"""The rendered configs say what the design promises, in both modes."""
import json

import pytest
import yaml

from plano_obs.checks import promql
from plano_obs.config import render


def _yaml(rendered, mode, name):
    return yaml.safe_load(rendered[mode][f"{mode}/{name}"])


def _ports(rendered, mode="native"):
    """The host ports the config defines (never retyped here: tests/test_settings.py)."""
    return json.loads(rendered[mode][f"{mode}/stack.json"])["ports"]


def test_every_mode_renders_its_files(rendered):
    common = {"otel-collector.yaml", "tempo.yaml", "prometheus.yml", "rules.yml", "envoy.yaml",
              "grafana/provisioning/datasources/plano.yaml", "grafana/provisioning/dashboards/plano.yaml", "stack.json"}
    assert {p.split("/", 1)[1] for p in rendered["compose"] if p.startswith("compose/")} == common | {
        "docker-compose.yaml", "docker-compose.local-images.yaml", "docker-compose.dev-envoy.yaml", "prometheus.dev-envoy.yml"}
    scale = json.loads(rendered["native"]["native/gateway-tier/tier.json"])
    scale_files = {f"gateway-tier/{f}" for f in ("agent-collector.yaml", "balancer-envoy.yaml", "prometheus.yml", "remote-prometheus.yml",
                                          "tempo.yaml", "tier.json")} | {f"gateway-tier/gateway-{i}.yaml" for i in range(scale["gateways"])} \
        | {f"gateway-tier/{f}" for f in scale["combined"]["gatewayConfigs"]}
    assert {p.split("/", 1)[1] for p in rendered["native"] if p.startswith("native/")} == common | {"processes.json", "plano_config.yaml"} | scale_files
    assert rendered["compose"]["dashboards/plano-requests-overview.json"] == rendered["native"]["dashboards/plano-requests-overview.json"]


def test_span_metrics_connector_fixes_the_seed_defects(rendered):
    cfg = _yaml(rendered, "compose", "otel-collector.yaml")
    sm = cfg["connectors"]["span_metrics"]
    assert sm["namespace"] == "traces.span.metrics"
    assert [d["name"] for d in sm["dimensions"]] == ["llm.model", "llm.provider", "agent_id", "selection.listener",
                                                      "http.status_code", "tenant.id"]
    assert all(b.endswith(("ms", "s")) for b in sm["histogram"]["explicit"]["buckets"])
    assert sm["histogram"]["unit"] == "ms"
    assert sm["exemplars"]["enabled"] is True
    # flush + scrape interval must fit in the "panels populate within ~15 s" promise
    flush = promql.seconds(sm["metrics_flush_interval"])
    prom = _yaml(rendered, "compose", "prometheus.yml")
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "otel-collector-spanmetrics")
    assert flush + promql.seconds(job["scrape_interval"]) <= 10
    # the connector keeps a flush's exemplars only until the next flush: scrape more often
    assert promql.seconds(job["scrape_interval"]) < flush


def test_collector_pipelines_wire_traces_to_tempo_and_metrics_to_prometheus(rendered):
    cfg = _yaml(rendered, "compose", "otel-collector.yaml")
    p = cfg["service"]["pipelines"]
    assert p["traces"]["receivers"] == ["otlp"]
    assert p["traces"]["processors"][0] == "memory_limiter"
    assert set(p["traces"]["exporters"]) == {"otlp_grpc/tempo", "span_metrics", "signal_to_metrics/usage"}
    assert p["metrics/span_metrics"] == {"receivers": ["span_metrics"], "processors": ["memory_limiter", "batch"], "exporters": ["prometheus"]}
    # the usage connector's deltas become monotonic running totals before the Prometheus exporter
    assert p["metrics/usage"] == {"receivers": ["signal_to_metrics/usage"],
                                  "processors": ["memory_limiter", "transform/usage", "delta_to_cumulative"],
                                  "exporters": ["prometheus"]}
    assert cfg["exporters"]["otlp_grpc/tempo"]["endpoint"] == "tempo:4317"
    assert cfg["service"]["extensions"] == ["health_check", "file_storage/queue"]


def test_nothing_acknowledged_waits_in_memory_on_the_way_to_tempo(rendered):
    """No batch processor before Tempo (it would acknowledge and hold spans in memory); the
    exporter queues on disk and retries until Tempo is back (docs/reliability.md)."""
    for mode, queue_dir in (("native", "${env:PLANO_STATE_DIR}/data/collector/queue"), ("compose", "/var/lib/otelcol/queue")):
        cfg = _yaml(rendered, mode, "otel-collector.yaml")
        assert "batch" not in cfg["service"]["pipelines"]["traces"]["processors"]
        tempo = cfg["exporters"]["otlp_grpc/tempo"]
        assert tempo["sending_queue"]["storage"] == "file_storage/queue"
        assert tempo["sending_queue"]["enabled"] is True and tempo["sending_queue"]["batch"]["sizer"] == "items"
        assert tempo["retry_on_failure"]["max_elapsed_time"] == "0s"  # retry until Tempo is back
        assert cfg["extensions"]["file_storage/queue"]["directory"] == queue_dir
    volumes = _yaml(rendered, "compose", "docker-compose.yaml")["services"]["otel-collector"]["volumes"]
    assert "collector-queue:/var/lib/otelcol/queue" in volumes


def test_tempo_writes_traces_to_its_wal_within_a_second(rendered):
    live = _yaml(rendered, "native", "tempo.yaml")["live_store"]
    assert (live["max_trace_idle"], live["flush_check_period"]) == ("1s", "1s")
    assert _yaml(rendered, "native", "tempo.yaml")["backend_worker"]["finish_on_shutdown_timeout"] == "2s"


def test_compose_receivers_listen_on_all_interfaces_inside_containers(rendered):
    col = _yaml(rendered, "compose", "otel-collector.yaml")
    assert col["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert col["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    tempo = _yaml(rendered, "compose", "tempo.yaml")
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"


def test_native_mode_listens_on_loopback_at_the_host_ports(rendered):
    col, p = _yaml(rendered, "native", "otel-collector.yaml"), _ports(rendered)
    assert col["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == f"127.0.0.1:{p['otlpGrpc']}"
    assert col["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == f"127.0.0.1:{p['otlpHttp']}"
    assert col["exporters"]["otlp_grpc/tempo"]["endpoint"] == f"127.0.0.1:{p['tempoOtlpGrpc']}"
    tempo = _yaml(rendered, "native", "tempo.yaml")
    assert (tempo["server"]["http_listen_address"], tempo["server"]["http_listen_port"]) == ("127.0.0.1", p["tempo"])
    assert tempo["storage"]["trace"]["wal"]["path"] == "${PLANO_STATE_DIR}/data/tempo/wal"


def test_compose_publishes_the_original_ports_on_loopback_only(rendered):
    compose = _yaml(rendered, "compose", "docker-compose.yaml")
    published = {s: svc.get("ports", []) for s, svc in compose["services"].items()}
    p = _ports(rendered, "compose")
    assert f"127.0.0.1:{p['grafana']}:3000" in published["grafana"]
    assert f"127.0.0.1:{p['tempo']}:3200" in published["tempo"]
    assert f"127.0.0.1:{p['prometheus']}:9090" in published["prometheus"]
    assert {f"127.0.0.1:{p['otlpGrpc']}:4317", f"127.0.0.1:{p['otlpHttp']}:4318"} <= set(published["otel-collector"])
    assert all(p.startswith("127.0.0.1:") for ports in published.values() for p in ports)


def test_compose_pins_the_configured_versions(rendered):
    compose = _yaml(rendered, "compose", "docker-compose.yaml")
    info = json.loads(rendered["compose"]["compose/stack.json"])
    images = {s: svc["image"] for s, svc in compose["services"].items() if not svc.get("profiles")}
    assert images == {
        "otel-collector": f"otel/opentelemetry-collector-contrib:{info['versions']['collector']}",
        "tempo": f"grafana/tempo:{info['versions']['tempo']}",
        "prometheus": f"prom/prometheus:v{info['versions']['prometheus']}",
        "grafana": f"grafana/grafana:{info['versions']['grafana']}",
    }


def test_grafana_has_no_default_password_and_no_anonymous_access(rendered):
    compose = _yaml(rendered, "compose", "docker-compose.yaml")
    env = compose["services"]["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    native = json.loads(rendered["native"]["native/processes.json"])["grafana"]["env"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in native and native["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_datasources_have_fixed_uids_linked_both_ways(rendered):
    ds = {d["type"]: d for d in _yaml(rendered, "compose", "grafana/provisioning/datasources/plano.yaml")["datasources"]}
    assert ds["prometheus"]["uid"] == "plano-prometheus"
    assert ds["tempo"]["uid"] == "plano-tempo"
    assert ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "plano-tempo"}]
    assert ds["tempo"]["jsonData"]["serviceMap"]["datasourceUid"] == "plano-prometheus"
    assert ds["tempo"]["jsonData"]["tracesToMetrics"]["datasourceUid"] == "plano-prometheus"
    assert ds["prometheus"]["url"] == "http://prometheus:9090"
    native = {d["type"]: d for d in _yaml(rendered, "native", "grafana/provisioning/datasources/plano.yaml")["datasources"]}
    assert native["tempo"]["url"] == f"http://127.0.0.1:{_ports(rendered)['tempo']}"


def test_dashboards_are_filed_in_the_plano_folder(rendered):
    provider = _yaml(rendered, "compose", "grafana/provisioning/dashboards/plano.yaml")["providers"][0]
    assert provider["folder"] == "Plano"
    assert provider["options"]["path"] == "$PLANO_DASHBOARDS_DIR"


def test_prometheus_scrapes_envoy_brightstaff_and_the_stack(rendered):
    prom = _yaml(rendered, "compose", "prometheus.yml")
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus"
    assert jobs["envoy"]["static_configs"][0]["targets"] == [f"host.docker.internal:{_ports(rendered, 'compose')['envoyAdmin']}"]
    assert jobs["brightstaff"]["static_configs"][0]["targets"] == [f"host.docker.internal:{_ports(rendered, 'compose')['brightstaffMetrics']}"]
    assert jobs["otel-collector-spanmetrics"]["static_configs"][0]["targets"] == ["otel-collector:8889"]
    assert set(jobs) >= {"otel-collector", "prometheus", "tempo", "grafana"}
    compose = _yaml(rendered, "compose", "docker-compose.yaml")
    flags = compose["services"]["prometheus"]["command"]
    assert "--web.enable-remote-write-receiver" in flags and "--enable-feature=exemplar-storage" in flags
    # a burst that creates a series must show in rate(): created timestamps, over protobuf
    assert "--enable-feature=created-timestamp-zero-ingestion" in flags
    assert jobs["otel-collector-spanmetrics"]["scrape_protocols"][0] == "PrometheusProto"
    assert compose["services"]["prometheus"]["extra_hosts"] == ["host.docker.internal:host-gateway"]


def test_tempo_config_is_tempo3_shaped(rendered):
    tempo = _yaml(rendered, "compose", "tempo.yaml")
    assert not {"ingester", "compactor", "ingester_client", "metrics_generator_client"} & set(tempo)
    assert tempo["backend_worker"]["compaction"]["block_retention"] == "48h"
    assert tempo["overrides"]["defaults"]["metrics_generator"]["processors"] == ["service-graphs"]
    assert tempo["metrics_generator"]["storage"]["remote_write"][0]["url"] == "http://prometheus:9090/api/v1/write"


def test_unknown_mode_is_refused():
    import pytest
    from plano_obs.errors import JsonnetError
    with pytest.raises(JsonnetError, match="unknown mode 'kubernetes'"):
        render.render("kubernetes")


def test_collector_shapes_plano_spans_for_the_service_graph(rendered):
    """Plano's spans are INTERNAL; the transform gives calls out CLIENT kind and a peer.service,
    roots SERVER kind, and upstream failures ERROR status — before Tempo and span metrics."""
    cfg = _yaml(rendered, "native", "otel-collector.yaml")
    assert cfg["service"]["pipelines"]["traces"]["processors"] == ["memory_limiter", "transform/plano"]
    assert "transform/plano" not in cfg["service"]["pipelines"]["traces/record"]["processors"]  # recordings stay raw
    statements = cfg["processors"]["transform/plano"]["trace_statements"]
    svc = 'resource.attributes["service.name"] == "%s"'
    for service, attr in (("plano(agent)", "agent_id"), ("plano(filter)", "filter_name"), ("plano(outbound)", "upstream_cluster")):
        assert f"set(span.kind, SPAN_KIND_CLIENT) where {svc % service}" in statements
        assert any(s.startswith(f'set(span.attributes["peer.service"], span.attributes["{attr}"]) where {svc % service}') for s in statements)
    for service in ("plano(inbound)", "plano(llm)"):
        assert f"set(span.kind, SPAN_KIND_SERVER) where {svc % service} and IsRootSpan()" in statements
    assert any(s.startswith("set(span.status.code, STATUS_CODE_ERROR)") and ">= 500" in s for s in statements)


def test_collector_normalizes_the_model_before_span_metrics(rendered):
    statements = _yaml(rendered, "native", "otel-collector.yaml")["processors"]["transform/plano"]["trace_statements"]
    model = [s for s in statements if "llm.model" in s or "llm.provider" in s]
    # the requested copy is saved, both copies removed, the requested one restored without prefix
    assert [s.split("(")[0] for s in model[:5]] == ["set", "delete_key", "set", "delete_key", "set"]
    assert any('replace_pattern(span.attributes["llm.model"], "^[^/]+/", "")' in s for s in model)
    # $$ is the collector's escape for a literal $ (the regex group)
    assert any('"$$1"' in s for s in model)
    # a model named without provider gets its provider from the config
    assert any(s.startswith('set(span.attributes["llm.provider"], "anthropic")') and '"claude-sonnet-4"' in s for s in model)


def test_prometheus_fills_brightstaffs_unknown_provider_without_merging_series(rendered):
    jobs = {j["job_name"]: j for j in _yaml(rendered, "native", "prometheus.yml")["scrape_configs"]}
    relabels = jobs["brightstaff"]["metric_relabel_configs"]
    claude = [r for r in relabels if r["regex"] == "unknown;claude-sonnet-4"]
    assert [(r["target_label"], r["replacement"]) for r in claude] == [("provider_source", "config"), ("provider", "anthropic")]
    assert {r["regex"] for r in relabels} == {"unknown;claude-sonnet-4", "unknown;gpt-4o", "unknown;gpt-4o-mini"}


def test_tempo_generator_waits_and_writes_as_configured(rendered):
    cfg = _yaml(rendered, "native", "tempo.yaml")
    gen = cfg["metrics_generator"]
    assert gen["processor"]["service_graphs"]["wait"] == "10s"
    assert gen["registry"]["collection_interval"] == "5s"
    assert gen["storage"]["remote_write"][0]["url"].endswith("/api/v1/write")
    assert cfg["overrides"]["defaults"]["metrics_generator"]["processors"] == ["service-graphs"]


def test_dev_envoy_model_listener_sends_everything_to_bright_staff_without_the_filter(rendered):
    envoy = _yaml(rendered, "native", "envoy.yaml")
    info = json.loads(rendered["native"]["native/stack.json"])
    (lst,) = [x for x in envoy["static_resources"]["listeners"] if x["name"] == "plano_dev_llm"]
    assert lst["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": info["ports"]["llmGateway"]}
    hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
    assert [f["name"] for f in hcm["http_filters"]] == ["envoy.filters.http.router"]  # no WASM, as Plano's 12000
    (route,) = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert route["route"]["cluster"] == info["brightstaffCluster"] == "bright_staff"
    (cluster,) = [c for c in envoy["static_resources"]["clusters"] if c["name"] == "bright_staff"]
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
    assert endpoint == {"address": "127.0.0.1", "port_value": info["ports"]["brightstaff"]}


def test_dev_plano_config_is_plano_format_with_tracing_to_the_collector(rendered):
    cfg = _yaml(rendered, "native", "plano_config.yaml")
    info = json.loads(rendered["native"]["native/stack.json"])
    assert cfg["tracing"]["opentracing_grpc_endpoint"] == f"http://127.0.0.1:{info['ports']['otlpGrpc']}"
    assert cfg["tracing"]["random_sampling"] == 100
    assert [m["model"] for m in cfg["model_providers"]] == info["devPlano"]["models"]
    (agents,) = [lst for lst in cfg["listeners"] if lst["type"] == "agent"]
    assert [a["id"] for a in agents["agents"]] == [a["id"] for a in info["devPlano"]["agents"]]
    assert all(f["type"] == "http" for f in cfg["filters"])


def test_dev_envoy_egress_routes_each_model_to_its_provider_and_traces_it(rendered):
    envoy = _yaml(rendered, "native", "envoy.yaml")
    listeners = {lst["name"]: lst for lst in envoy["static_resources"]["listeners"]}
    assert set(listeners) == {"plano_dev_ingress", "plano_dev_egress", "plano_dev_agents", "plano_dev_llm"}
    hcm = listeners["plano_dev_egress"]["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["tracing"]["provider"]["typed_config"]["service_name"] == "plano(outbound)"
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    hint = {r["match"]["headers"][0]["string_match"]["exact"]: r["route"]["cluster"] for r in routes
            if r["match"].get("headers", [{}])[0].get("name") == "x-arch-llm-provider-hint"}
    assert hint["claude-sonnet-4"] == hint["anthropic/claude-sonnet-4"] == "anthropic"
    assert hint["gpt-4o-mini"] == hint["openai/gpt-4o-mini"] == "openai"
    # Compose has no dev Plano: only the ingress listener
    compose = _yaml(rendered, "compose", "envoy.yaml")
    assert [lst["name"] for lst in compose["static_resources"]["listeners"]] == ["plano_dev_ingress"]


# Cardinality guard (docs/reliability.md#cardinality).
def test_span_metrics_connector_has_a_cardinality_limit_and_expires_stale_series(rendered):
    for mode in render.MODES:
        sm = _yaml(rendered, mode, "otel-collector.yaml")["connectors"]["span_metrics"]
        assert sm["aggregation_cardinality_limit"] == 2000
        assert sm["series_expiration"] == "30m"
        assert sm["metrics_expiration"] == "30m"


def test_memory_limiter_has_an_absolute_cap(rendered):
    for mode in render.MODES:
        ml = _yaml(rendered, mode, "otel-collector.yaml")["processors"]["memory_limiter"]
        assert ml == {"check_interval": "1s", "limit_mib": 512, "spike_limit_mib": 128}


PLANO_SOURCES = 7  # plano(llm), (routing), (orchestrator), (agent), (filter), (inbound), (outbound)


def _span_metrics_samples_per_label_set(connector: dict) -> int:
    """calls + one sample per bucket + +Inf + sum + count."""
    return 1 + len(connector["histogram"]["explicit"]["buckets"]) + 1 + 2


def test_every_scrape_job_has_limits_and_the_span_metrics_job_fits_the_connectors_limit(rendered):
    for mode in render.MODES:
        prom = _yaml(rendered, mode, "prometheus.yml")
        assert prom["global"]["extra_scrape_metrics"] is True  # scrape_sample_limit, for PlanoScrapeSampleLimitHit
        jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
        assert all(j["sample_limit"] > 0 and j["label_limit"] == 64 for j in jobs.values())
        assert "label_value_length_limit" not in str(prom)  # one long model name would fail every scrape
        assert {n: j["sample_limit"] for n, j in jobs.items() if n != "otel-collector-spanmetrics"} == dict.fromkeys(
            set(jobs) - {"otel-collector-spanmetrics"}, 50000)
        sm = _yaml(rendered, mode, "otel-collector.yaml")["connectors"]["span_metrics"]
        most = PLANO_SOURCES * (sm["aggregation_cardinality_limit"] + 1) * _span_metrics_samples_per_label_set(sm)
        assert jobs["otel-collector-spanmetrics"]["sample_limit"] > most


def _usage_metrics(native: dict) -> list[dict]:
    return yaml.safe_load(native["native/otel-collector.yaml"])["connectors"]["signal_to_metrics/usage"]["spans"]


def test_span_metrics_scrape_limit_follows_an_overridden_connector_limit(override):
    path = override("{ _config+:: { spanMetrics+: { cardinalityLimit: 100 } } }")
    native = render.render("native", path)
    sm = yaml.safe_load(native["native/otel-collector.yaml"])["connectors"]["span_metrics"]
    assert sm["aggregation_cardinality_limit"] == 100
    jobs = {j["job_name"]: j for j in yaml.safe_load(native["native/prometheus.yml"])["scrape_configs"]}
    usage = yaml.safe_load(native["native/otel-collector.yaml"])["processors"]["delta_to_cumulative"]["max_streams"]
    usage_samples = usage * (max(len(m["histogram"]["buckets"]) for m in _usage_metrics(native) if "histogram" in m) + 3)
    assert jobs["otel-collector-spanmetrics"]["sample_limit"] == \
        PLANO_SOURCES * 101 * _span_metrics_samples_per_label_set(sm) + usage_samples + 1000
    assert jobs["envoy"]["sample_limit"] == 50000


def test_cardinality_alerts_watch_the_overflow_series_and_the_sample_limit(rendered):
    alerts = {r["alert"]: r for g in _yaml(rendered, "compose", "rules.yml")["groups"] for r in g["rules"] if "alert" in r}
    overflow = alerts["PlanoSpanMetricsCardinalityOverflow"]["expr"]
    assert 'traces_span_metrics_calls_total{otel_metric_overflow="true"}[5m]' in overflow and overflow.endswith("> 0")
    assert alerts["PlanoScrapeSampleLimitHit"]["expr"] == "scrape_samples_scraped > (scrape_sample_limit > 0)"


def test_each_deployment_renders_only_its_own_files_and_reads_only_its_own_settings(override):
    """stack/deploy/: one entry point per deployment. A broken scale-out setting breaks the
    scale-out rendering only; Compose, native and the dashboards never evaluate it."""
    files = {d: set(render.evaluate_deployment(d)) for d in render.DEPLOYMENTS}
    for deployment, paths_ in files.items():
        assert paths_ and all(p.startswith(render.FOLDERS[deployment]) for p in paths_), deployment
    assert set().union(*files.values()) == set(render.render_all())
    bad = override("{ _config+:: { scale+: { components+: [{ name: 'distributor-2', target: 'distributor' }] } } }")
    for deployment in ("compose", "native", "dashboards", "kubernetes"):  # the gateway tier's combined run sends to it
        assert set(render.evaluate_deployment(deployment, bad)) == files[deployment]
    assert render.stack_info("native", bad)["mode"] == "native"
    with pytest.raises(render.JsonnetError, match="must hold exactly one distributor"):
        render.evaluate_deployment("tempo-scaled", bad)


def test_a_folder_build_renders_only_the_deployments_writing_there():
    assert render.writing_into("dashboards/") == ("dashboards",)
    assert render.writing_into("native/") == ("native", "gateway-tier")
    assert render.writing_into("scale/") == ("tempo-scaled",)
    assert render.writing_into("") == tuple(render.DEPLOYMENTS)


def test_tempo_keeps_a_trace_in_memory_at_most_max_trace_live_and_the_loss_window_is_derived_once():
    for mode in render.MODES:
        live = yaml.safe_load(render.render(mode)[f"{mode}/tempo.yaml"])["live_store"]
        assert (live["max_trace_idle"], live["max_trace_live"], live["flush_check_period"]) == ("1s", "5s", "1s")
    rules = render.render("native")["native/rules.yml"]
    assert "traces it acknowledged in the 6s before are lost" in rules
    scaled = yaml.safe_load(render.render("native")["scale/tempo-live-store-0.yaml"])["live_store"]
    assert scaled["max_trace_live"] == "5s"


@pytest.mark.parametrize("knob, why", [
    ("maxTraceLive: '500ms'", "_config.tempo.maxTraceLive is whole seconds (e.g. 5s), got 500ms"),
    ("flushAfter: '3s', maxTraceLive: '2s'", "_config.tempo.maxTraceLive (2s) must be at least flushAfter (3s)"),
])
def test_a_bad_tempo_window_fails_the_build_naming_the_knob(override, knob, why):
    with pytest.raises(render.JsonnetError) as err:
        render.render("native", override("{ _config+:: { tempo+: { %s } } }" % knob))
    assert why in err.value.line()


def test_only_the_stack_s_own_collector_keeps_a_copy_for_the_tempo_guard():
    """The scale-out runs' collectors have no Tempo guard and no PLANO_RUNTIME_DIR: a copy
    there would stop them at start (it did, in CI's scale run)."""
    files = render.render_all()
    with_copy = sorted(p for p, text in files.items() if p.endswith(".yaml") and "file/tempo-window" in text)
    assert with_copy == ["native/otel-collector.yaml"]

"""Remote backends (_config.remote), `invoke up --profile collector-only`, and the gateway
tier's rendering (stack/scale.libsonnet): what the collector is told, and what is refused."""
from __future__ import annotations

import json

import pytest
import yaml

from plano_obs.config import render
from plano_obs.errors import JsonnetError, PlanoError
from plano_obs.runtime import lifecycle

REMOTE = """{ _config+:: { remote+: {
  traces+: { endpoint: 'traces.example.com:443', auth: 'bearer', tls+: { caFile: '/etc/ssl/private-ca.pem' },
             headers: { 'X-Scope-OrgID': '${env:PLANO_TENANT}' } },
  metrics+: { remoteWriteUrl: 'https://mimir.example.com/api/v1/push', auth: 'basic', externalLabels: { region: 'eu' } },
} } }"""


def _collector(files: dict, mode: str = "native") -> dict:
    return yaml.safe_load(files[f"{mode}/otel-collector.yaml"])


def test_by_default_traces_go_to_the_local_tempo_and_nothing_is_pushed(rendered):
    cfg = _collector(rendered["native"])
    assert cfg["service"]["pipelines"]["traces"]["exporters"][0] == "otlp_grpc/tempo"
    assert not [e for e in cfg["exporters"] if e.startswith("prometheus_remote_write")]
    assert not [e for e in cfg["extensions"] if e.startswith("bearertokenauth")]


def test_remote_backends_reach_the_collector_with_credentials_only_as_variables(override):
    files = render.render("native", override(REMOTE))
    cfg = _collector(files)
    traces = cfg["exporters"]["otlp_grpc/traces"]
    assert traces["endpoint"] == "traces.example.com:443"
    assert traces["tls"] == {"insecure": False, "ca_file": "/etc/ssl/private-ca.pem"}
    assert traces["auth"] == {"authenticator": "bearertokenauth/traces"}
    assert traces["headers"] == {"X-Scope-OrgID": "${env:PLANO_TENANT}"}
    assert traces["sending_queue"]["storage"] == "file_storage/queue"  # the same delivery guarantees
    assert cfg["extensions"]["bearertokenauth/traces"] == {"token": "${env:PLANO_TRACES_TOKEN}"}
    push = cfg["exporters"]["prometheus_remote_write/metrics"]
    assert push["http"]["endpoint"] == "https://mimir.example.com/api/v1/push"
    assert push["http"]["headers"] == {"Authorization": "Basic ${env:PLANO_METRICS_BASIC}"}
    assert push["external_labels"] == {"region": "eu"}
    pipes = cfg["service"]["pipelines"]
    assert pipes["traces"]["exporters"][0] == "otlp_grpc/traces"
    assert pipes["metrics/span_metrics"]["exporters"] == pipes["metrics/usage"]["exporters"] == ["prometheus", "prometheus_remote_write/metrics"]
    assert "bearertokenauth/traces" in cfg["service"]["extensions"]


def test_http_protocol_and_a_token_file(override):
    files = render.render("native", override(
        "{ _config+:: { remote+: { traces+: { endpoint: 'https://otlp.example.com', protocol: 'http', auth: 'bearer', tokenFile: '/run/secrets/otlp' } } } }"))
    cfg = _collector(files)
    assert cfg["exporters"]["otlp_http/traces"]["endpoint"] == "https://otlp.example.com"
    assert cfg["extensions"]["bearertokenauth/traces"] == {"filename": "/run/secrets/otlp"}
    assert cfg["service"]["pipelines"]["traces"]["exporters"][0] == "otlp_http/traces"


@pytest.mark.parametrize("text, message", [
    ("{ _config+:: { remote+: { traces+: { endpoint: 'x:1', protocol: 'udp' } } } }",
     r"_config.remote.traces.protocol must be one of grpc, http, not \"udp\""),
    ("{ _config+:: { remote+: { metrics+: { auth: 'oauth' } } } }", r"_config.remote.metrics.auth must be one of none, bearer, basic"),
    ("{ _config+:: { remote+: { traces+: { endpoint: 'x:1', auth: 'bearer', tls+: { insecure: true } } } } }",
     "gRPC sends credentials only over TLS"),
    ("{ _config+:: { remote+: { traces+: { headers: { 'X-Team': 7 } } } } }", r"_config.remote.traces.headers.X-Team is 7, not a string"),
])
def test_bad_remote_settings_fail_the_build_naming_the_knob(override, text, message):
    with pytest.raises(JsonnetError, match=message):
        render.render("native", override(text))


def test_collector_only_refuses_without_remote_backends_and_runs_three_with_them(override, monkeypatch):
    with pytest.raises(PlanoError, match="no remote traces or metrics backend is set") as err:
        lifecycle.profile_components("native", "collector-only")
    assert "_config.remote.traces.endpoint and _config.remote.metrics.remoteWriteUrl" in err.value.remedy
    assert lifecycle.profile_components("native", "full") is None
    with pytest.raises(PlanoError, match="unknown profile 'tiny'"):
        lifecycle.profile_components("native", "tiny")
    monkeypatch.setenv("PLANO_OBS_OVERRIDES", str(override(REMOTE)))
    assert lifecycle.profile_components("native", "collector-only") == ("collector", "mockLlm", "envoy")


def test_the_collector_build_holds_the_remote_components(rendered):
    manifest = yaml.safe_load(rendered["native"]["collector/otelcol-builder.yaml"])
    mods = " ".join(m["gomod"] for kind in ("exporters", "extensions") for m in manifest[kind])
    for module in ("otlphttpexporter", "prometheusremotewriteexporter", "bearertokenauthextension"):
        assert module in mods


# --- the gateway tier ---------------------------------------------------------------------

def test_each_gateway_is_the_stack_s_collector_on_its_own_ports_with_its_own_label(rendered):
    files = rendered["native"]
    scale = json.loads(files["native/gateway-tier/tier.json"])
    ports = scale["ports"]
    gateways = [yaml.safe_load(files[f"native/gateway-tier/gateway-{i}.yaml"]) for i in range(scale["gateways"])]
    single = _collector(files)
    for i, gw in enumerate(gateways):
        assert gw["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == f"127.0.0.1:{ports['gatewayOtlpGrpc'] + i}"
        assert gw["exporters"]["prometheus"]["endpoint"] == f"127.0.0.1:{ports['gatewayMetrics'] + i}"
        assert gw["exporters"]["otlp_grpc/tempo"]["endpoint"] == f"127.0.0.1:{ports['tempoOtlpGrpc']}"
        push = gw["exporters"]["prometheus_remote_write/metrics"]
        assert push["http"]["endpoint"] == f"http://127.0.0.1:{ports['remotePrometheus']}/api/v1/write"
        assert push["external_labels"] == {scale["gatewayLabel"]: scale["gatewayIds"][i]}
        # the same span shaping and span metrics as the one collector
        assert gw["processors"]["transform/plano"] == single["processors"]["transform/plano"]
        assert gw["connectors"] == single["connectors"]
        assert "traces/record" not in gw["service"]["pipelines"]
    assert len({g["exporters"]["prometheus_remote_write/metrics"]["external_labels"][scale["gatewayLabel"]] for g in gateways}) == scale["gateways"]


def test_the_combined_run_s_gateways_differ_only_in_sending_to_the_scaled_distributor(rendered):
    """The combined run (agent → gateways → Tempo over Kafka) reuses the tier's processes and
    ports; its gateways are the tier's, byte for byte, but for where their traces go."""
    files = rendered["native"]
    tier = json.loads(files["native/gateway-tier/tier.json"])
    scaled = json.loads(files["scale/scale.json"])
    (distributor,) = [c for c in scaled["components"].values() if c["target"] == "distributor"]
    assert tier["combined"]["tempoOtlpGrpc"] == distributor["otlp"]
    assert tier["combined"]["gatewayConfigs"] == [f"combined/gateway-{i}.yaml" for i in range(tier["gateways"])]
    for i, name in enumerate(tier["combined"]["gatewayConfigs"]):
        own = yaml.safe_load(files[f"native/gateway-tier/gateway-{i}.yaml"])
        combined = yaml.safe_load(files[f"native/gateway-tier/{name}"])
        assert combined["exporters"]["otlp_grpc/tempo"]["endpoint"] == f"127.0.0.1:{distributor['otlp']}"
        combined["exporters"]["otlp_grpc/tempo"]["endpoint"] = own["exporters"]["otlp_grpc/tempo"]["endpoint"]
        assert combined == own


def test_the_balancer_and_prometheus_know_every_gateway(rendered):
    files = rendered["native"]
    scale = json.loads(files["native/gateway-tier/tier.json"])
    ports, n = scale["ports"], scale["gateways"]
    envoy = yaml.safe_load(files["native/gateway-tier/balancer-envoy.yaml"])
    (cluster,) = envoy["static_resources"]["clusters"]
    endpoints = [e["endpoint"]["address"]["socket_address"]["port_value"] for e in cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]]
    assert endpoints == [ports["gatewayOtlpGrpc"] + i for i in range(n)] and cluster["lb_policy"] == "ROUND_ROBIN"
    hcm = envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["codec_type"] == "HTTP2"  # per request, not per connection
    assert hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["retry_policy"]["num_retries"] == n
    prom = yaml.safe_load(files["native/gateway-tier/prometheus.yml"])
    (spans,) = [j for j in prom["scrape_configs"] if j["job_name"] == "otel-collector-spanmetrics"]
    assert spans["static_configs"][0]["targets"] == [f"127.0.0.1:{ports['gatewayMetrics'] + i}" for i in range(n)]
    agent = yaml.safe_load(files["native/gateway-tier/agent-collector.yaml"])
    assert agent["exporters"]["otlp_grpc/gateways"]["endpoint"] == f"127.0.0.1:{ports['balancer']}"


def test_gateway_count_is_checked_and_drives_every_part(override):
    files = render.render("native", override("{ _config+:: { gatewayTier+: { gateways: 5 } } }"))
    assert sorted(f for f in files if "/gateway-tier/gateway-" in f) == [f"native/gateway-tier/gateway-{i}.yaml" for i in range(5)]
    with pytest.raises(JsonnetError, match="_config.gatewayTier.gateways must be from 1 to 10, not 11"):
        render.render("native", override("{ _config+:: { gatewayTier+: { gateways: 11 } } }"))


def test_the_scale_runs_ignore_the_user_s_remote_backends_and_kubernetes_follows_them(override):
    """The scale-out runs are test topologies with backends of their own: a user's remote
    endpoint or credentials must not leak into them. A Kubernetes gateway is a deployment: it
    sends where the user said."""
    files = render.render("native", override(REMOTE))
    gw = yaml.safe_load(files["native/gateway-tier/gateway-0.yaml"])
    assert gw["service"]["pipelines"]["traces"]["exporters"][0] == "otlp_grpc/tempo"
    assert set(gw["exporters"]["prometheus_remote_write/metrics"]["http"]) == {"endpoint", "tls"}  # no auth, no headers
    assert not [e for e in gw["extensions"] if e.startswith("bearertokenauth")]
    front = yaml.safe_load(files["scale/otel-collector.yaml"])
    assert all("auth" not in e and e["endpoint"].startswith("127.0.0.1:") for e in front["exporters"].values())
    (doc,) = [d for d in yaml.safe_load_all(files["kubernetes/gateway-configmap.yaml"]) if d]
    k8s = yaml.safe_load(next(iter(doc["data"].values())))
    assert k8s["exporters"]["otlp_grpc/traces"]["endpoint"] == "traces.example.com:443"
    assert "otlp_grpc/tempo" not in k8s["exporters"]

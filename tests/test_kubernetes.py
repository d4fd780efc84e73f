"""generated/kubernetes/: the same ports, names and pins as the rest of the stack (read through
plano_obs.config.settings), the agent's loadbalancing exporter by its structure (the contrib exporter
cannot be built or run here), distinct series per gateway, the PrometheusRule's shape, and the
lint check failing on what it must reject."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from plano_obs.checks.lint import kubernetes_check
from plano_obs.config import paths, settings

FOLDER = paths.GENERATED / "kubernetes"


@pytest.fixture(scope="module")
def info() -> dict:
    return settings.load("compose")


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict]:
    return kubernetes_check.load(FOLDER)


def _container(obj: dict) -> dict:
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return container


def _config(manifests: dict, name: str) -> dict:
    return yaml.safe_load(manifests[name]["data"]["config.yaml"])


def test_the_files_are_the_gateway_tier_and_what_grafana_and_prometheus_load(manifests, info):
    dashboards = sorted(p.stem for p in (paths.GENERATED / "dashboards").glob("*.json"))
    assert sorted(manifests) == sorted([
        "namespace.yaml", "agent-serviceaccount.yaml", "agent-configmap.yaml", "agent-daemonset.yaml",
        "agent-service.yaml", "gateway-serviceaccount.yaml", "gateway-configmap.yaml", "gateway-deployment.yaml",
        "gateway-headless-service.yaml", "grafana-datasources-configmap.yaml", "prometheusrule.yaml",
        *[f"grafana-dashboard-{uid}-configmap.yaml" for uid in dashboards]])
    k = info["kubernetes"]
    namespaced = [o for n, o in manifests.items() if n != "namespace.yaml"]
    assert {o["metadata"]["namespace"] for o in namespaced} == {k["namespace"]}
    assert manifests["namespace.yaml"]["metadata"]["name"] == k["namespace"]


def test_both_tiers_run_the_pinned_contrib_image_on_the_stacks_container_ports(manifests, info):
    ports = settings.load("compose")["ports"]  # host ports: none of them may leak into a pod
    for name in ("agent-daemonset.yaml", "gateway-deployment.yaml"):
        container = _container(manifests[name])
        assert container["image"] == info["images"]["collector"]
        assert container["image"].endswith(":" + info["versions"]["collector"])
        assert container["image"].startswith("otel/opentelemetry-collector-contrib:")
        got = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert got["otlpgrpc"] == info_container_port("otlpGrpc") and got["otlphttp"] == info_container_port("otlpHttp")
        assert got["health"] == info_container_port("collectorHealth")
        assert not set(got.values()) & set(ports.values())
    gateway = {p["name"]: p["containerPort"] for p in _container(manifests["gateway-deployment.yaml"])["ports"]}
    assert gateway["metrics"] == info_container_port("collectorMetrics")
    assert manifests["gateway-deployment.yaml"]["spec"]["replicas"] == info["kubernetes"]["gatewayReplicas"]


def info_container_port(name: str) -> int:
    """The port inside the container (the image's own), as the Compose file uses it too."""
    return settings.load("compose")["containerPorts"][name]


def test_pods_are_locked_down_with_resources_and_probes(manifests):
    for name in ("agent-daemonset.yaml", "gateway-deployment.yaml"):
        pod = manifests[name]["spec"]["template"]["spec"]
        container = _container(manifests[name])
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}}
        assert set(container["resources"]) == {"requests", "limits"}
        assert set(container["resources"]["limits"]) == {"cpu", "memory"}
        assert container["readinessProbe"]["httpGet"]["port"] == container["livenessProbe"]["httpGet"]["port"] \
            == info_container_port("collectorHealth")


def test_memory_limits_sit_above_each_tiers_memory_limiter(manifests):
    for name, config in (("agent-daemonset.yaml", "agent-configmap.yaml"), ("gateway-deployment.yaml", "gateway-configmap.yaml")):
        limiter = _config(manifests, config)["processors"]["memory_limiter"]["limit_mib"]
        memory = _container(manifests[name])["resources"]["limits"]["memory"]
        assert memory.endswith("Mi") and int(memory[:-2]) > limiter


def test_the_gateway_runs_the_single_collectors_pipeline(manifests):
    """Same receivers, processors, connectors and pipelines as generated/compose/otel-collector.yaml
    less the local recording; traces to the cluster's Tempo; span metrics labelled per pod."""
    single = yaml.safe_load((paths.GENERATED / "compose" / "otel-collector.yaml").read_text())
    gateway = _config(manifests, "gateway-configmap.yaml")
    k = settings.load("compose")["kubernetes"]
    assert gateway["connectors"] == single["connectors"]
    assert gateway["processors"] == single["processors"]
    assert gateway["receivers"] == single["receivers"]
    pipelines = {n: p for n, p in single["service"]["pipelines"].items() if n != "traces/record"}
    pipelines["traces"] = dict(pipelines["traces"])
    assert gateway["service"]["pipelines"] == pipelines
    assert gateway["exporters"]["otlp_grpc/tempo"]["endpoint"] == k["tempoEndpoint"]
    assert gateway["exporters"]["prometheus"]["const_labels"] == {k["podLabel"]: "${env:POD_NAME}"}
    env = _container(manifests["gateway-deployment.yaml"])["env"]
    assert env == [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]


def test_the_agent_routes_whole_traces_to_the_gateways_headless_service(manifests):
    """The contrib loadbalancing exporter, as its README documents it: routing_key traceID, an
    OTLP protocol block, exactly one resolver (dns, on a headless Service: it returns each pod)."""
    k = settings.load("compose")["kubernetes"]
    agent = _config(manifests, "agent-configmap.yaml")
    lb = agent["exporters"]["loadbalancing"]
    assert set(lb) == {"routing_key", "protocol", "resolver"}
    assert lb["routing_key"] == "traceID"
    assert list(lb["protocol"]) == ["otlp"] and "endpoint" not in lb["protocol"]["otlp"]
    assert lb["resolver"] == {"dns": {
        "hostname": f"{k['names']['gatewayHeadless']}.{k['namespace']}.svc.{k['clusterDomain']}",
        "port": str(info_container_port("otlpGrpc"))}}
    assert agent["service"]["pipelines"] == {
        "traces": {"receivers": ["otlp"], "processors": ["memory_limiter"], "exporters": ["loadbalancing"]}}
    headless = manifests["gateway-headless-service.yaml"]
    assert headless["metadata"]["name"] == k["names"]["gatewayHeadless"] and headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == manifests["gateway-deployment.yaml"]["spec"]["selector"]["matchLabels"]
    assert info_container_port("otlpGrpc") in [p["port"] for p in headless["spec"]["ports"]]
    service = manifests["agent-service.yaml"]["spec"]
    assert service["internalTrafficPolicy"] == "Local"
    assert service["selector"] == manifests["agent-daemonset.yaml"]["spec"]["selector"]["matchLabels"]


def test_dashboards_and_datasources_are_sidecar_configmaps_of_the_generated_files(manifests, info):
    k = info["kubernetes"]
    for path in sorted((paths.GENERATED / "dashboards").glob("*.json")):
        cm = manifests[f"grafana-dashboard-{path.stem}-configmap.yaml"]
        assert cm["metadata"]["labels"][k["dashboardLabel"]] == "1"
        assert cm["metadata"]["annotations"] == {k["folderAnnotation"]: info["grafanaFolder"]["title"]}
        assert cm["data"] == {path.name: path.read_text()}
    ds = manifests["grafana-datasources-configmap.yaml"]
    assert ds["metadata"]["labels"][k["datasourceLabel"]] == "1"
    provisioned = yaml.safe_load(ds["data"]["plano-datasources.yaml"])["datasources"]
    assert {d["uid"]: d["url"] for d in provisioned} == {d["uid"]: d["url"] for d in info["externalDatasources"]}
    assert {d["uid"] for d in provisioned} == set(info["datasources"].values())


def test_the_prometheusrule_holds_the_stacks_rules(manifests, info):
    rule = manifests["prometheusrule.yaml"]
    assert kubernetes_check.rule_shape(rule) == []
    selector = info["kubernetes"]["ruleSelector"]
    assert rule["kind"] == "PrometheusRule" and rule["metadata"]["labels"][selector["label"]] == selector["value"]
    assert rule["spec"] == yaml.safe_load((paths.GENERATED / "compose" / "rules.yml").read_text())


@pytest.mark.parametrize("change, expected", [
    (lambda r: r.update(apiVersion="monitoring.coreos.com/v1beta1"), "apiVersion is 'monitoring.coreos.com/v1beta1', not 'monitoring.coreos.com/v1'"),
    (lambda r: r["metadata"].pop("namespace"), "metadata needs a name and a namespace"),
    (lambda r: r["spec"].update(extra=1), "spec must hold only a non-empty list `groups`"),
    (lambda r: r["spec"].update(groups=[]), "spec must hold only a non-empty list `groups`"),
])
def test_the_rule_shape_check_rejects(manifests, change, expected):
    rule = copy.deepcopy(manifests["prometheusrule.yaml"])
    change(rule)
    assert kubernetes_check.rule_shape(rule) == [expected]


def test_the_schema_check_passes_the_output_and_rejects_a_typo_and_an_unknown_release(manifests, info):
    version = info["versions"]["kubernetes"]
    assert {n: kubernetes_check._validate(o, version) for n, o in manifests.items() if o["kind"] != "PrometheusRule"} == \
        {n: "" for n, o in manifests.items() if o["kind"] != "PrometheusRule"}
    bad = copy.deepcopy(manifests["gateway-deployment.yaml"])
    bad["spec"]["replica"] = bad["spec"].pop("replicas")
    assert kubernetes_check._validate(bad, version) == "spec: Additional properties are not allowed ('replica' was unexpected)"
    bad = copy.deepcopy(manifests["agent-daemonset.yaml"])
    _container(bad)["ports"][0]["containerPort"] = "4317"
    assert kubernetes_check._validate(bad, version).startswith("spec.template.spec.containers.0.ports.0.containerPort: '4317' is not of type 'integer'")
    assert kubernetes_check._validate(manifests["namespace.yaml"], "1.99.0").startswith("kubernetes-validate ")


def test_gateway_series_never_collide_and_every_query_sums_them_away(manifests, info):
    """N gateways' span metrics differ in the pod label only; every dashboard query and rule
    that reads a span or usage metric aggregates (sum by …), so the label is summed across."""
    from plano_obs.checks import grafana
    label = info["kubernetes"]["podLabel"]
    names = {v for k, v in info["metricNames"].items() if not k.startswith(("serviceGraph", "collector", "rateLimited", "walWrites"))}
    exprs = [t.expr for p in sorted((paths.GENERATED / "dashboards").glob("*.json")) for t in grafana.targets(json.loads(p.read_text()))]
    exprs += [r["expr"] for g in manifests["prometheusrule.yaml"]["spec"]["groups"] for r in g["rules"]]
    reading = [e for e in exprs if any(n in e for n in names)]
    assert reading
    assert [e for e in reading if label in e] == []
    assert [e for e in reading if not any(a in e for a in ("sum by", "sum(", "count by", "max by"))] == []


def test_an_override_reaches_the_manifests(tmp_path):
    """Replicas, namespace, the rule selector and a container port set in the user's file."""
    from plano_obs.config import render
    override = tmp_path / "local.libsonnet"
    override.write_text("{ _config+:: { containerPorts+: { otlpGrpc: 14317 }, kubernetes+: { gatewayReplicas: 5, "
                        "namespace: 'obs', ruleSelector+: { value: 'prom' } } } }\n")
    files = {n: yaml.safe_load(t) for n, t in render.render("compose", override).items() if n.startswith("kubernetes/")}
    assert files["kubernetes/gateway-deployment.yaml"]["spec"]["replicas"] == 5
    assert {o["metadata"].get("namespace") for n, o in files.items() if not n.endswith("namespace.yaml")} == {"obs"}
    assert files["kubernetes/prometheusrule.yaml"]["metadata"]["labels"]["release"] == "prom"
    agent = yaml.safe_load(files["kubernetes/agent-configmap.yaml"]["data"]["config.yaml"])
    assert agent["exporters"]["loadbalancing"]["resolver"]["dns"] == {
        "hostname": "otel-gateway-headless.obs.svc.cluster.local", "port": "14317"}
    assert agent["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:14317"

"""Compose mode only: every running service is locked down as docs/compose.md#hardening says,
proven from the engine's record (`docker inspect`) and from the kernel's (/proc of each
container's main process, which the host sees), not from the Compose file."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import requests

from tests.live.conftest import COMPOSE_ENVOY, LOCAL_IMAGES, MODE, wait_for

pytestmark = pytest.mark.skipif(MODE != "compose", reason="hardening is a property of the Compose services")

PROJECT = "plano-observability"


def _inspect() -> dict[str, dict]:
    """{component: docker inspect record} of the project's running containers."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert ids, "no running container of the Compose project"
    records = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout)
    return {r["Config"]["Labels"]["com.docker.compose.service"]: r for r in records}


@pytest.fixture(scope="module")
def containers(live) -> dict[str, dict]:
    """{component name: record}, for every service `invoke up` started."""
    by_service = _inspect()
    component = {svc: comp for comp, svc in live["services"].items()}
    return {component[svc]: rec for svc, rec in by_service.items()}


def _proc(record: dict, name: str) -> str:
    return Path(f"/proc/{record['State']['Pid']}/{name}").read_text()


def _status_field(record: dict, field: str) -> str:
    line = next(l for l in _proc(record, "status").splitlines() if l.startswith(field + ":"))
    return line.split(":", 1)[1].strip()


def test_the_expected_services_run(live, containers):
    expected = {"collector", "tempo", "prometheus"} | ({"envoy", "mockLlm"} if COMPOSE_ENVOY else set())
    assert expected <= set(containers), f"running: {sorted(containers)}"
    if LOCAL_IMAGES:
        for comp in expected:
            assert containers[comp]["Config"]["Image"] == live["localImages"][comp]["tag"]
            assert containers[comp]["Config"]["Image"].endswith("-local")


def test_each_service_runs_as_its_non_root_user(live, containers):
    users = live["composeHardening"]["users"]
    for comp, rec in containers.items():
        assert rec["Config"]["User"] == users[comp], comp
        uid, gid = users[comp].split(":")
        # real, effective, saved and file-system ids of the container's main process
        assert _status_field(rec, "Uid").split() == [uid] * 4, comp
        assert _status_field(rec, "Gid").split() == [gid] * 4, comp
        assert uid != "0", comp


def test_root_file_system_is_read_only_and_only_volumes_and_tmp_are_writable(live, containers):
    for comp, rec in containers.items():
        assert rec["HostConfig"]["ReadonlyRootfs"] is True, comp
        assert list(rec["HostConfig"]["Tmpfs"] or {}) >= ["/tmp"], comp
        mounts = {}
        for line in _proc(rec, "mountinfo").splitlines():
            fields = line.split()
            mounts[fields[4]] = fields[5].split(",")  # mount point -> per-mount options
        assert "ro" in mounts["/"], f"{comp}: / is mounted {mounts['/']}"
        writable = sorted(m for m, opts in mounts.items() if "rw" in opts and m.startswith(("/var", "/prometheus", "/tmp")))
        declared = sorted({m["Destination"] for m in rec["Mounts"] if m["RW"]} | set(rec["HostConfig"]["Tmpfs"]))
        assert writable == declared, f"{comp}: writable {writable}, declared {declared}"


def test_no_capabilities_and_no_privilege_gain(live, containers):
    for comp, rec in containers.items():
        assert rec["HostConfig"]["CapDrop"] == live["composeHardening"]["capDrop"] == ["ALL"], comp
        assert "no-new-privileges:true" in rec["HostConfig"]["SecurityOpt"], comp
        assert rec["HostConfig"]["Privileged"] is False, comp
        for field in ("CapEff", "CapPrm", "CapBnd"):
            assert int(_status_field(rec, field), 16) == 0, f"{comp}: {field} {_status_field(rec, field)}"
        assert _status_field(rec, "NoNewPrivs") == "1", comp


def test_ports_are_published_only_on_the_bind_address(live, containers):
    for comp, rec in containers.items():
        for port, bindings in (rec["HostConfig"]["PortBindings"] or {}).items():
            assert [b["HostIp"] for b in bindings] == [live["bindAddress"]], f"{comp} {port}: {bindings}"


def test_healthchecks_report_healthy_and_gate_the_start(live, containers):
    checked = {"tempo", "prometheus"} | ({"collector"} if LOCAL_IMAGES else set()) | (
        {"envoy", "mockLlm"} if LOCAL_IMAGES and COMPOSE_ENVOY else set())
    have = {comp for comp, rec in containers.items() if rec["Config"].get("Healthcheck")}
    assert checked <= have, f"healthchecks on {sorted(have)}"
    for comp in sorted(have):
        wait_for(f"{comp} healthy", lambda: _inspect()[live["services"][comp]]["State"]["Health"]["Status"],
                 lambda s: s == "healthy", deadline_s=60)
    # Compose records the start order it enforced: the collector waited for a healthy Tempo.
    depends = containers["collector"]["Config"]["Labels"]["com.docker.compose.depends_on"]
    assert f"{live['services']['tempo']}:service_healthy" in depends, depends
    if LOCAL_IMAGES and COMPOSE_ENVOY:  # and the dev Envoy for a healthy upstream
        depends = containers["envoy"]["Config"]["Labels"]["com.docker.compose.depends_on"]
        assert f"{live['services']['mockLlm']}:service_healthy" in depends, depends


@pytest.mark.skipif(not COMPOSE_ENVOY, reason="the dev Envoy runs in Compose only with --dev-envoy")
def test_prometheus_scrapes_the_dev_envoy_on_the_compose_network(live, containers):
    """Container to container by service name, not through the host: the envoy job's one
    target is the service's admin port inside the network, and it is up."""
    base = f"http://127.0.0.1:{live['ports']['prometheus']}"
    want = f"http://{live['devEnvoyAdmin']['scraped']}/stats/prometheus"
    targets = wait_for("Prometheus's envoy target up", lambda: [
        (t["scrapeUrl"], t["health"]) for t in requests.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        if t["labels"]["job"] == "envoy"], lambda ts: ts == [(want, "up")])
    assert targets == [(want, "up")]
    # the mock LLM answers the dev Envoy by its service name too (the listener's upstream)
    resp = requests.post(f"http://127.0.0.1:{live['ports']['envoyListener']}/v1/chat/completions",
                         json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert resp.status_code in (200, 429), resp.text


def test_a_missing_image_is_one_line_naming_it(live):
    """`invoke up` checks the images on the real engine before Compose runs: a local image
    never built is named with its remedy, in one line (here a tag no build made)."""
    from plano_obs.runtime import compose
    from plano_obs.errors import DockerError
    missing = "plano-observability/tempo:0.0.0-never-built-local"
    stack = dict(live, localImages=dict(live["localImages"], tempo=dict(live["localImages"]["tempo"], tag=missing)))
    with pytest.raises(DockerError) as err:
        compose.plan(stack, local_images=True)
    line = err.value.line()
    assert "\n" not in line
    assert line.startswith(f"image {missing} (tempo) is not built — run `invoke images.build`"), line

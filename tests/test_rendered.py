"""generated/ holds the default rendering only; what runs is rendered into the state folder
(<state>/rendered), with the user's overrides: `invoke up` and `invoke build` with an override
leave the committed files as they were, and every runtime reader reads the state's rendering."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from tests.menu import invoke as _invoke
import yaml

from plano_obs.checks import dashcheck, grafana
from plano_obs.config import generate, paths, settings
from plano_obs.runtime import compose, docker, native, supervisor
from plano_obs.ship import ruler

OVERRIDE = "{ _config+:: { ports+: { grafana: 3001 }, spanMetrics+: { namespace: 'plano.spans' } } }\n"



def _digests() -> dict[str, str]:
    return {str(p.relative_to(paths.GENERATED)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(paths.GENERATED.rglob("*")) if p.is_file()}




@pytest.fixture
def state(tmp_path, monkeypatch):
    """A state folder of the test's own, and an override file in $PLANO_OBS_OVERRIDES."""
    monkeypatch.setenv("PLANO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLANO_OBS_SECRETS", str(tmp_path / "secrets"))
    overrides = tmp_path / "local.libsonnet"
    overrides.write_text(OVERRIDE)
    monkeypatch.setenv("PLANO_OBS_OVERRIDES", str(overrides))
    return tmp_path / "state"


def _carries_the_override(root) -> None:
    processes = json.loads((root / "native" / "processes.json").read_text())
    assert processes["grafana"]["env"]["GF_SERVER_HTTP_PORT"] == "3001"
    assert "127.0.0.1:3001:3000" in yaml.safe_load((root / "compose" / "docker-compose.yaml").read_text())["services"]["grafana"]["ports"]
    assert "plano_spans_calls_total" in (root / "dashboards" / "plano-requests-overview.json").read_text()


def test_up_with_an_override_renders_into_the_state_folder_and_leaves_generated_alone(state, monkeypatch, capsys):
    seen = {}

    def fake_up(deadline_s, components=None, build=True):  # what native mode would start from
        seen["config"] = supervisor.native_dir()
        seen["env"] = supervisor.Supervisor().env()
        seen["processes"] = native._processes()
        return {}, {c: "not started by this test" for c in components}

    monkeypatch.setattr(native, "up", fake_up)
    before = _digests()
    code, out, err = _invoke(capsys, "up", "--mode", "native")
    assert code == 0, err
    assert _digests() == before  # git status stays clean
    rendered = state / "rendered"
    assert f"configs: {rendered} (with the overrides from " in out
    _carries_the_override(rendered)
    assert seen["config"] == rendered / "native"
    assert seen["env"]["PLANO_CONFIG_DIR"] == str(rendered / "native")
    assert seen["env"]["PLANO_GENERATED_DIR"] == str(rendered)
    assert seen["processes"]["grafana"]["env"]["GF_SERVER_HTTP_PORT"] == "3001"


def test_without_overrides_the_state_rendering_is_generated_byte_for_byte(state, monkeypatch):
    monkeypatch.setenv("PLANO_OBS_OVERRIDES", str(state.parent / "none.libsonnet"))
    root = generate.rendered()
    assert root == state / "rendered"
    ours = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}
    assert ours == _digests()


def test_build_with_overrides_writes_the_defaults_and_renders_the_override_into_the_state(state, capsys):
    before = _digests()
    code, out, err = _invoke(capsys, "build", "--overrides", str(state.parent / "local.libsonnet"))
    assert code == 0, err
    assert _digests() == before
    assert out.splitlines()[0] == "generated/ is up to date"
    assert out.splitlines()[-1] == (f"overrides from {state.parent / 'local.libsonnet'}: rendered into {state / 'rendered'} "
                                    f"(what `invoke up` runs; generated/ keeps the defaults), 64 file(s) changed")
    _carries_the_override(state / "rendered")


def test_a_bad_override_writes_nothing_anywhere(state, capsys):
    (state.parent / "local.libsonnet").write_text("{ _config+:: { ports+: { grafana: 70000 } } }\n")
    before = _digests()
    code, out, err = _invoke(capsys, "build")
    assert code == 1 and "_config.ports.grafana is 70000, not a port" in err
    assert _digests() == before and not state.exists()


def test_compose_runs_the_state_rendering_with_the_paths_it_mounts(state, monkeypatch):
    monkeypatch.setattr(docker, "compose_command", lambda: ["docker", "compose"])
    args = compose.command(dev_envoy=True)
    files = [args[i + 1] for i, a in enumerate(args) if a == "-f"]
    assert files == [str(state / "rendered" / docker.COMPOSE_FILE), str(state / "rendered" / docker.DEV_ENVOY_FILE)]
    env = docker.compose_env()
    assert (env["PLANO_STATE_DIR"], env["PLANO_CHECKOUT_DIR"]) == (str(state), str(paths.ROOT))
    # every host path the file mounts exists once Compose substitutes that environment
    spec = yaml.safe_load((state / "rendered" / docker.COMPOSE_FILE).read_text())
    expand = re.compile(r"\$\{(\w+):-[^}]*\}")
    volumes = [expand.sub(lambda m: env[m.group(1)], v) for s in spec["services"].values() for v in s.get("volumes", [])]
    hosts = [v.split(":")[0] for v in volumes if v.startswith(("/", "."))]
    assert len(hosts) >= 8
    folder = state / "rendered" / "compose"
    assert [h for h in hosts if "wasm" not in h and not (folder / h).resolve().exists()] == []


def test_what_talks_to_a_running_stack_reads_the_state_rendering(state):
    assert settings.load("native")["ports"]["grafana"] == 3001  # the settings keep the overrides too
    assert any("plano_spans_calls_total" in json.dumps(d) for d in grafana.load())
    assert any("plano_spans" in json.dumps(g) for g in ruler.groups())
    dashcheck.datasource_json("native")
    assert generate.rendered() == state / "rendered"


def test_the_drift_check_ignores_the_users_overrides(state):
    from plano_obs.checks.lint import run
    assert run.check_drift() == []

"""The task layer: one clear line and a non-zero exit for bad input."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from plano_obs.config import paths


def invoke(*args, env=None, cwd=paths.ROOT):
    cmd = [sys.executable, "-m", "invoke", *args]
    return subprocess.run(cmd, cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=120)


def test_list_reads_like_the_product_menu():
    out = invoke("--list").stdout
    for name in ("build", "up", "down", "status", "logs", "dashboards.build", "stack.up"):
        assert f"  {name} " in out or f"  {name}\n" in out


def test_compose_mode_without_docker_says_so(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n")
    (fake / "docker").chmod(0o755)
    r = invoke("up", "--mode", "compose", env={"PATH": f"{fake}:/usr/bin:/bin"})
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines == ["error: the Docker engine is not running (Cannot connect to the Docker daemon at unix:///var/run/docker.sock.)"
                     " — start Docker (e.g. `sudo systemctl start docker`), or use `invoke up --mode native`"]


def test_docker_not_installed(tmp_path):
    r = invoke("up", "--mode", "compose", env={"PATH": str(Path(sys.executable).parent)})
    assert r.returncode == 1
    assert "error: Docker is not installed (no `docker` on PATH)" in r.stderr


def test_unknown_override_key_fails_the_build_with_one_line(tmp_path):
    bad = tmp_path / "local.libsonnet"
    bad.write_text("{ _config+:: { portz: {} } }\n")
    r = invoke("build", "--check", env={"PLANO_OBS_OVERRIDES": str(bad)})
    assert r.returncode == 1
    assert r.stderr.startswith("error: stack/check.libsonnet:")
    assert "unknown override key _config.portz" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_override_file_named_on_the_command_line(tmp_path):
    r = invoke("build", "--overrides", str(tmp_path / "nope.libsonnet"))
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_build_check_passes_on_a_clean_tree():
    r = invoke("build", "--check")
    assert r.returncode == 0, r.stderr
    assert "generated/ is up to date" in r.stdout


def test_status_reports_the_state_disk_and_warns_past_the_ratio(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    usage = shutil.disk_usage(state)
    used = usage.used / usage.total
    (tmp_path / "local.libsonnet").write_text("{ _config+:: { stateDisk+: { warnUsedRatio: %r } } }\n" % (used / 2))
    env = {"PLANO_STATE_DIR": str(state), "PLANO_OBS_OVERRIDES": str(tmp_path / "local.libsonnet")}
    r = invoke("status", "--mode", "native", env=env)
    assert r.returncode == 0, r.stderr
    disk = [line for line in r.stdout.splitlines() if line.startswith(("state disk:", "warning:"))]
    mount = disk[0].split(": ", 1)[1].split(",")[0]
    assert os.path.ismount(mount) and state.resolve().is_relative_to(mount) and disk[0].endswith(" GiB free")
    assert disk[1] == (f"warning: the state disk is more than {used / 2:.0%} full (stateDisk.warnUsedRatio): when it is "
                       "full, Tempo stores no traces until restarted (docs/reliability.md#a-full-disk)")
    (tmp_path / "local.libsonnet").write_text("{ _config+:: { stateDisk+: { warnUsedRatio: 1 } } }\n")
    assert not [l for l in invoke("status", "--mode", "native", env=env).stdout.splitlines() if l.startswith("warning:")]

"""Native mode start/stop behaviour. Runs before the session's shared stack starts."""
import os
import socket
from pathlib import Path

import pytest

from plano_obs.config import settings
from plano_obs.runtime import supervisor
from tests.live.conftest import MODE, REUSE, invoke

pytestmark = pytest.mark.skipif(MODE != "native" or REUSE, reason="native lifecycle needs a stack this suite owns")


def _pids() -> dict:
    return {n: p["pid"] for n, p in supervisor.Supervisor().processes().items() if p["pid"]}


def test_port_in_use_names_component_and_port():
    assert not supervisor.Supervisor().running(), "stack already running: stop it or use PLANO_SMOKE_REUSE=1"
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", settings.port("prometheus")))
        s.listen()
        r = invoke("up", "--mode", "native")
    assert r.returncode == 1
    assert f"error: port 127.0.0.1:{settings.port('prometheus')} (prometheus, ports.prometheus) is already in use by pid {os.getpid()} (" in r.stderr
    assert not supervisor.Supervisor().running()


def test_crash_at_start_names_component_port_and_log(tmp_path):
    fake = tmp_path / "tempo"
    fake.write_text("#!/bin/sh\necho 'tempo: config error: this binary always fails' >&2\nexit 3\n")
    fake.chmod(0o755)
    r = invoke("up", "--mode", "native", env={"PLANO_TEMPO_BIN": str(fake)})
    try:
        assert r.returncode == 1
        assert f"error: tempo (port {settings.port('tempo')}) exited at start" in r.stderr
        assert "logs/tempo.log" in r.stderr
        assert "tempo: config error: this binary always fails" in r.stderr
    finally:
        assert invoke("down", "--mode", "native").returncode == 0
    assert not supervisor.Supervisor().running()


def test_up_status_versions_down():
    r = invoke("up", "--mode", "native")
    assert r.returncode == 0, r.stderr
    assert "mode: native (requested with --mode native)" in r.stdout
    pids = _pids()
    assert {"collector", "prometheus", "envoy", "mockLlm"} <= set(pids)
    conf = supervisor.Supervisor().conf
    assert conf.stat().st_mode & 0o777 == 0o600  # may carry Grafana's password
    assert all(Path(f"/proc/{p}").exists() for p in pids.values())

    # right after `up`, Prometheus may not have scraped Envoy yet: the check waits for it
    r = invoke("envoy.check")
    assert r.returncode == 0, r.stdout + r.stderr

    r = invoke("versions", "--mode", "native")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()[2:]}
    for name in ("collector", "prometheus"):
        assert rows[name] == [settings.version(name)] * 2

    # a second `up` keeps the same processes
    r = invoke("up", "--mode", "native")
    assert r.returncode == 0, r.stderr
    assert _pids() == pids

    r = invoke("down", "--mode", "native")
    assert r.returncode == 0 and "stopped the native stack" in r.stdout
    assert not any(Path(f"/proc/{p}").exists() for p in pids.values())
    data = supervisor.Supervisor().state / "data" / "prometheus"
    assert data.is_dir() and any(data.iterdir()), "data must survive `invoke down`"

    r = invoke("down", "--mode", "native", "--volumes")
    assert r.returncode == 0 and not data.exists()

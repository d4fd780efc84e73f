import os
import socket
import stat
from pathlib import Path

import pytest

from plano_obs.errors import PortInUseError
from plano_obs.runtime import ports, secrets


def test_password_is_generated_once_with_mode_0600(tmp_path):
    path, first = secrets.ensure_grafana_password(tmp_path / "s")
    assert first and len(first) >= 20
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.read(path)["GRAFANA_ADMIN_PASSWORD"] == first
    again_path, again = secrets.ensure_grafana_password(tmp_path / "s")
    assert again_path == path and again is None  # shown once, never regenerated
    assert secrets.read(path)["GRAFANA_ADMIN_PASSWORD"] == first


def test_two_stacks_get_different_passwords(tmp_path):
    _, a = secrets.ensure_grafana_password(tmp_path / "a")
    _, b = secrets.ensure_grafana_password(tmp_path / "b")
    assert a != b


def _info(port):
    return {"bindAddress": "127.0.0.1", "ports": {"grafana": port}, "portOwner": {"grafana": "grafana"},
            "services": {"grafana": "grafana"}}


def test_a_taken_port_is_named_with_its_component_and_knob():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert ports.in_use("127.0.0.1", port)
        with pytest.raises(PortInUseError) as err:
            ports.check_free(_info(port))
    line = err.value.line()
    assert f"port 127.0.0.1:{port} (grafana, ports.grafana) is already in use by pid {os.getpid()} (" in line
    assert "_config.ports.grafana" in line


def test_a_free_port_passes():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ports.check_free(_info(port))
    assert not ports.in_use("127.0.0.1", port)


def test_the_holder_of_a_port_is_this_process_and_nobody_holds_a_closed_one():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        pid, name = ports.holder(port)
    assert pid == os.getpid() and name == Path(f"/proc/{pid}/comm").read_text().strip()
    assert ports.holder(port) is None

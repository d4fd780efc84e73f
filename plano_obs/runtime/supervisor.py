"""supervisord, as native mode uses it: one instance per state folder, writing its config,
starting and stopping it, and asking it about its processes over its Unix socket."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from plano_obs.config import generate, paths
from plano_obs.errors import PlanoError

_VAR = re.compile(r"\$\{(\w+)\}")


class NativeError(PlanoError):
    """A native component could not be started or stopped."""


def native_dir() -> Path:
    """Native mode's configs, from the rendering the stack runs (overrides applied)."""
    return generate.rendered() / "native"


class Supervisor:
    """The supervisord instance of one state folder."""

    def __init__(self, state: Path | None = None) -> None:
        self.state = state or paths.state_dir()
        self.conf = self.state / "supervisord.conf"
        self.sock = self.state / "supervisor.sock"
        self.pidfile = self.state / "supervisord.pid"
        self.logs = self.state / "logs"

    def env(self) -> dict[str, str]:
        return {
            "PLANO_STATE_DIR": str(self.state),
            "PLANO_RUNTIME_DIR": str(paths.runtime_dir(self.state)),
            "PLANO_CONFIG_DIR": str(native_dir()),
            "PLANO_GENERATED_DIR": str(generate.rendered()),  # the rendering's root (its dashboards/)
        }

    def rpc(self):
        from supervisor.xmlrpc import SupervisorTransport
        transport = SupervisorTransport(None, None, f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def pid(self) -> int | None:
        """supervisord's pid, only if that process is really ours (same config file)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            return None
        return pid if "supervisord" in cmdline and str(self.conf) in cmdline else None

    def running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            return self.rpc().getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def processes(self) -> dict[str, dict]:
        if not self.running():
            return {}
        return {p["name"]: p for p in self.rpc().getAllProcessInfo()}

    def write_conf(self, programs: dict[str, tuple[list[str], dict[str, str]]], stop_wait: dict[str, int] | None = None) -> None:
        """stop_wait: seconds supervisord waits after SIGTERM before SIGKILL, per program (15)."""
        for sub in ("logs", "data", "record"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        lines = [
            "; Written by `invoke up --mode native`; regenerated on every start.",
            "[unix_http_server]", f"file={self.sock}", "chmod=0700", "",
            "[supervisord]", f"logfile={self.logs / 'supervisord.log'}", f"pidfile={self.pidfile}",
            f"directory={self.state}", "loglevel=info", "",
            "[rpcinterface:supervisor]", "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", f"serverurl=unix://{self.sock}", "",
        ]
        for name, (argv, env) in programs.items():
            env_line = ",".join(f'{k}="{v}"' for k, v in sorted(env.items()))
            lines += [
                f"[program:{name}]",
                "command=" + " ".join(shlex.quote(a).replace("%", "%%") for a in argv),
                f"environment={env_line.replace('%', '%%')}",
                f"directory={self.state}",
                f"stdout_logfile={self.logs / (name + '.log')}",
                "stdout_logfile_maxbytes=20MB", "stdout_logfile_backups=2",
                "redirect_stderr=true",
                # a crash at start is reported, not hidden behind restarts
                "startsecs=1", "startretries=0", "autorestart=unexpected",
                "stopasgroup=true", "killasgroup=true", f"stopwaitsecs={(stop_wait or {}).get(name, 15)}", "",
            ]
        # 0600: the config carries Grafana's admin password in its environment
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines))
        os.chmod(self.conf, 0o600)

    def start(self) -> None:
        if self.running():
            subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), "update"],
                           capture_output=True, text=True)
            return
        self.sock.unlink(missing_ok=True)
        r = subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise NativeError(f"supervisord did not start: {(r.stderr or r.stdout).strip()}",
                              f"see {self.logs / 'supervisord.log'}")
        end = time.monotonic() + 10
        while not self.running():
            if time.monotonic() > end:
                raise NativeError("supervisord did not answer within 10 s", f"see {self.logs / 'supervisord.log'}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> bool:
        """Stops supervisord and every process it started. False if nothing was running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            self.rpc().shutdown()
        except (OSError, xmlrpc.client.Fault):
            os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists():
            if time.monotonic() > end:
                raise NativeError(f"supervisord (pid {pid}) did not stop within {timeout:.0f}s", f"kill it: kill {pid}")
            time.sleep(0.1)
        return True


def expand(text: str, env: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(1) not in env:
            raise NativeError(f"undefined variable ${{{m.group(1)}}} in native/processes.json of {generate.rendered()}")
        return env[m.group(1)]
    return _VAR.sub(repl, text)


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "".join(path.read_text(errors="replace").splitlines(True)[-lines:])



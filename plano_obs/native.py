"""Native mode: the stack as local processes under supervisord, from generated/native/.

Binaries come from the cache (built once from Go modules) or from PATH for the components
that cannot be built here. State (logs, data, supervisord's socket and pid) lives in the
state folder and survives `invoke down`."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

from . import binaries, health, paths, ports
from .errors import PlanoError

NATIVE = paths.GENERATED / "native"
START_ORDER = ("tempo", "collector", "prometheus", "grafana", "mockLlm", "envoy", "mockAgents", "brightstaff")
DEV_ENVOY = ("mockLlm", "envoy")
DEV_PLANO = ("mockAgents", "brightstaff")
_VAR = re.compile(r"\$\{(\w+)\}")


class NativeError(PlanoError):
    """A native component could not be started or stopped."""


def _processes() -> dict:
    return json.loads((NATIVE / "processes.json").read_text())


def info() -> dict:
    return json.loads((NATIVE / "stack.json").read_text())


def resolve_binaries(build: bool = True) -> dict[str, binaries.Binary]:
    manifest = (paths.GENERATED / "collector" / "otelcol-builder.yaml").read_text()
    return binaries.resolve(info()["versions"], manifest, build)


def mount_point(path: Path) -> str:
    """The mount point of the file system a path is on."""
    path = path.resolve()
    while not os.path.ismount(path):
        path = path.parent
    return str(path)


# --- supervisord --------------------------------------------------------------------------

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
            "PLANO_CONFIG_DIR": str(NATIVE),
            "PLANO_GENERATED_DIR": str(paths.GENERATED),
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
            raise NativeError(f"undefined variable ${{{m.group(1)}}} in generated/native/processes.json")
        return env[m.group(1)]
    return _VAR.sub(repl, text)


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "".join(path.read_text(errors="replace").splitlines(True)[-lines:])


# --- up / down / status -----------------------------------------------------------------

def up(deadline_s: float, components: tuple[str, ...] = START_ORDER, build: bool = True) -> dict[str, health.Probe]:
    sup = Supervisor()
    stack = info()
    found = resolve_binaries(build)
    if "envoy" in components:
        from . import wasm
        wasm.build(sup.state / "wasm")
    if found["brightstaff"].path is None or "envoy" not in components:
        # the dev Plano needs brightstaff and the dev Envoy (its egress); its mocks serve only it
        why = found["brightstaff"].source if found["brightstaff"].path is None else "needs the dev Envoy (--no-envoy given)"
        components = tuple(c for c in components if c not in DEV_PLANO)
        print(f"  dev Plano (brightstaff): skipped — {why}")
    programs: dict[str, tuple[list[str], dict[str, str]]] = {}
    specs = _processes()
    for name in components:
        b = found[name]
        if b.path is None:
            print(f"  {name}: skipped — {b.source}")
            continue
        env = sup.env()
        env["PYTHONPATH"] = str(paths.ROOT)  # the mocks run from this checkout
        if name == "grafana":
            env["GRAFANA_HOME"] = binaries.grafana_home(b.path)
        spec = specs[name]
        for file in spec.get("expandFiles", []):  # for programs that do not expand ${VARS}
            target = sup.state / "config" / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expand((NATIVE / file).read_text(), env))
        if spec.get("renderPlanoConfig"):  # Plano's config, rendered by Plano's planoai
            from . import devplano
            devplano.render(NATIVE / spec["renderPlanoConfig"], sup.state / "plano")
        argv = [str(b.path)] + [expand(a, env) for a in spec["args"]]
        penv = dict(env, **{k: expand(v, env) for k, v in spec["env"].items()})
        if name == "grafana":
            from . import secrets
            penv["GF_SECURITY_ADMIN_PASSWORD"] = secrets.read(secrets.env_file())[secrets.VARIABLE]
        programs[name] = (argv, penv)
    if not programs:
        raise NativeError("no component can run natively here", "build them with `invoke stack.install`")
    already = sup.processes()
    for name in programs:
        if already.get(name, {}).get("statename") != "RUNNING":
            port_name = stack["components"][name]["port"]
            owned = [p for p, owner in stack["portOwner"].items() if owner == name] or [port_name]
            ports.check_free(stack, owned)
    sup.write_conf(programs, {n: specs[n]["stopWaitSecs"] for n in programs if "stopWaitSecs" in specs[n]})
    (sup.state / "data" / "prometheus").mkdir(parents=True, exist_ok=True)
    sup.start()
    return _wait(sup, stack, list(programs), deadline_s)


def _wait(sup: Supervisor, stack: dict, names: list[str], deadline_s: float) -> dict[str, health.Probe]:
    end = time.monotonic() + deadline_s
    probes: dict[str, health.Probe] = {}
    pending = list(names)
    while pending:
        procs = sup.processes()
        for name in list(pending):
            state = procs.get(name, {}).get("statename", "UNKNOWN")
            if state in ("FATAL", "EXITED", "BACKOFF", "STOPPED"):
                port = stack["ports"][stack["components"][name]["port"]]
                log = sup.logs / f"{name}.log"
                raise NativeError(f"{name} (port {port}) exited at start ({state}); log {log}:\n{tail(log)}",
                                  "fix the cause above, then `invoke up` again")
            probes[name] = health.probe(stack, name)
            if probes[name].ok:
                pending.remove(name)
        if pending and time.monotonic() > end:
            lines = []
            for name in pending:
                port = stack["ports"][stack["components"][name]["port"]]
                log = sup.logs / f"{name}.log"
                lines.append(f"{name} (port {port}) not ready after {deadline_s:.0f}s; log {log}:\n{tail(log)}")
            raise NativeError("\n".join(lines), "see the log above; `invoke logs NAME` shows more")
        if pending:
            time.sleep(0.2)
    return probes


def down(volumes: bool) -> None:
    sup = Supervisor()
    stopped = sup.stop()
    print("stopped the native stack" if stopped else "the native stack was not running")
    if volumes:
        data = sup.state / "data"
        shutil.rmtree(data, ignore_errors=True)
        print(f"deleted {data}")


def logs(service: str | None, follow: bool, tail_lines: int) -> None:
    sup = Supervisor()
    names = [service] if service else [n for n in START_ORDER if (sup.logs / f"{n}.log").exists()]
    for name in names:
        if name not in START_ORDER:
            raise NativeError(f"unknown component {name!r}", f"use one of {', '.join(START_ORDER)}")
    if not names:
        raise NativeError(f"no logs in {sup.logs}", "start the stack with `invoke up --mode native`")
    for name in names:
        print(f"==> {sup.logs / (name + '.log')} <==")
        print(tail(sup.logs / f"{name}.log", tail_lines), end="")
    if follow:
        files = {n: (sup.logs / f"{n}.log").open(errors="replace") for n in names}
        for fh in files.values():
            fh.seek(0, os.SEEK_END)
        try:
            while True:
                for name, fh in files.items():
                    for line in fh.readlines():
                        print(f"{name} | {line}", end="")
                time.sleep(0.3)
        except KeyboardInterrupt:
            pass

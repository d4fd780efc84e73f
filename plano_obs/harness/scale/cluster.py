"""The scaled-out Tempo as local processes under one supervisord of its own: Kafka first (its
storage formatted), then each Tempo component with its own generated config and -target, the
single-binary Tempo to compare with, the Prometheus both remote-write to, and the front
collector that feeds both. Everything is read from scale/ of the rendering the stack runs
(generate.rendered(), from stack/tempo-scaled.libsonnet, overrides applied); nothing here names a port."""
from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from plano_obs.config import generate
from plano_obs.errors import PlanoError
from plano_obs.harness.scale import kafka
from plano_obs.runtime import native
from plano_obs.runtime.supervisor import NativeError, Supervisor, expand, tail

KAFKA = "kafka"
SINGLE = "tempo-single"
PROMETHEUS = "prometheus"
COLLECTOR = "collector"


class ScaleError(PlanoError):
    """The scaled-out Tempo could not be started, probed or stopped."""


def _scale() -> Path:
    return generate.rendered() / "scale"


def info() -> dict:
    path = _scale() / "scale.json"
    if not path.exists():
        raise ScaleError(f"{path} is missing", f"the rendering is incomplete: delete {path.parent.parent} and run again")
    return json.loads(path.read_text())


@dataclass
class Cluster:
    state: Path
    settings: dict = field(default_factory=info)
    timings: dict[str, float] = field(default_factory=dict)  # seconds from start to ready, per process
    # the single binary and the front collector that feeds both Tempos; the combined run, fed by
    # the gateway tier instead, leaves them out
    comparison: bool = True

    def __post_init__(self) -> None:
        self.sup = Supervisor(self.state)

    # -- addresses -------------------------------------------------------------------------
    def http(self, name: str) -> str:
        """Base URL of a Tempo component (or of the single binary)."""
        port = self.settings["ports"]["singleHttp"] if name == SINGLE else self.settings["components"][name]["http"]
        return f"http://127.0.0.1:{port}"

    @property
    def query_url(self) -> str:
        return self.http(self._by_target("query-frontend")[0])

    @property
    def single_url(self) -> str:
        return self.http(SINGLE)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['ports']['prometheus']}"

    @property
    def otlp_endpoint(self) -> str:
        return f"127.0.0.1:{self.settings['ports']['collectorOtlp']}"

    @property
    def collector_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['ports']['collectorTelemetry']}/metrics"

    def _by_target(self, target: str) -> list[str]:
        return [c["name"] for c in self.settings["startOrder"] if c["target"] == target]

    def tempo_components(self) -> list[str]:
        return [c["name"] for c in self.settings["startOrder"]]

    # -- processes -------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        return dict(self.sup.env(), PLANO_SCALE_STATE=str(self.state), PLANO_SCALE_CONFIG=str(_scale()))

    def _programs(self, env: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
        found = native.resolve_binaries(build=False)
        for need in ("tempo", "prometheus", "collector"):
            if found[need].path is None:
                raise ScaleError(f"no {need} binary: {found[need].source}",
                                 "install it with `invoke stack.install` (Tempo: `--binary tempo=FILE`, see docs/native.md)")
        tempo = str(found["tempo"].path)
        tenv = dict(env, GOMEMLIMIT=self.settings["goMemLimit"])
        progs: dict[str, tuple[list[str], dict[str, str]]] = {}
        for c in self.settings["startOrder"]:
            progs[c["name"]] = ([tempo, f"-target={c['target']}", f"-config.file={_scale() / ('tempo-' + c['name'] + '.yaml')}",
                                 "-config.expand-env=true"], tenv)
        if self.comparison:
            progs[SINGLE] = ([tempo, f"-config.file={_scale() / 'tempo-single.yaml'}", "-config.expand-env=true"], tenv)
        port = self.settings["ports"]["prometheus"]
        progs[PROMETHEUS] = ([str(found["prometheus"].path), f"--config.file={_scale() / 'prometheus.yml'}",
                              f"--storage.tsdb.path={self.state / 'prometheus'}", f"--web.listen-address=127.0.0.1:{port}",
                              "--web.enable-remote-write-receiver"], env)
        if self.comparison:
            progs[COLLECTOR] = ([str(found["collector"].path), f"--config={_scale() / 'otel-collector.yaml'}"], env)
        return progs

    def _check_ports_free(self) -> None:
        wanted = dict(self.settings["ports"])
        for name, c in self.settings["components"].items():
            wanted.update({f"{name}.{k}": c[k] for k in ("http", "grpc", "memberlist")})
        for name, port in wanted.items():
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    raise ScaleError(f"port 127.0.0.1:{port} ({name}) is already in use",
                                     "stop what holds it, or move _config.scale.ports / tempoBasePort") from None

    def start(self, deadline_s: float = 180) -> None:
        """Starts everything and waits until each process is ready; on failure stops what it started."""
        k = self.settings["kafka"]
        libs = kafka.ensure_jars(k["version"], k["scala"])  # fails before anything starts
        self._check_ports_free()
        env = self._env()
        (self.state / "config").mkdir(parents=True, exist_ok=True)
        props = self.state / "config" / "kafka.properties"  # Kafka does not expand ${VARS}
        props.write_text(expand((_scale() / "kafka.properties").read_text(), env))
        kafka.format_storage(libs, props, self.state / "kafka", k["heapMb"])
        programs = self._programs(env)
        t0 = time.monotonic()
        try:
            self.sup.write_conf({KAFKA: (kafka.broker_argv(libs, props, k["heapMb"]), env)})
            self.sup.start()
            self._wait([KAFKA], t0, deadline_s)
            stop_wait = {n: self.settings["tempoStopWaitSeconds"] for n in [*self.tempo_components(), SINGLE] if n in programs}
            self.sup.write_conf({KAFKA: (kafka.broker_argv(libs, props, k["heapMb"]), env), **programs}, stop_wait)
            self.sup.start()  # running: `supervisorctl update` adds the rest
            self._wait(list(programs), t0, deadline_s)
        except BaseException:
            self.stop()
            raise

    def ready(self, name: str) -> bool:
        ports = self.settings["ports"]
        try:
            if name == KAFKA:
                with socket.create_connection(("127.0.0.1", ports["kafka"]), timeout=1):
                    return True
            url = {PROMETHEUS: f"{self.prometheus_url}/-/ready", COLLECTOR: f"http://127.0.0.1:{ports['collectorHealth']}/",
                   }.get(name) or f"{self.http(name)}/ready"
            return requests.get(url, timeout=2).status_code == 200
        except (OSError, requests.RequestException):
            return False

    def _wait(self, names: list[str], t0: float, deadline_s: float) -> None:
        pending = list(names)
        while pending:
            procs = self.sup.processes()
            for name in list(pending):
                state = procs.get(name, {}).get("statename", "UNKNOWN")
                if state in ("FATAL", "EXITED", "BACKOFF", "STOPPED"):
                    log = self.sup.logs / f"{name}.log"
                    raise ScaleError(f"{name} exited at start ({state}); log {log}:\n{tail(log)}", "fix the cause above")
                if self.ready(name):
                    self.timings[name] = round(time.monotonic() - t0, 1)
                    pending.remove(name)
            if pending and time.monotonic() - t0 > deadline_s:
                logs = "\n".join(f"{n}: {self.sup.logs / (n + '.log')}:\n{tail(self.sup.logs / (n + '.log'), 5)}" for n in pending)
                raise ScaleError(f"not ready after {deadline_s:.0f}s: {', '.join(pending)}\n{logs}", "see the logs above")
            if pending:
                time.sleep(0.2)

    def pid(self, name: str) -> int:
        return int(self.sup.rpc().getProcessInfo(name)["pid"])

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each process now, in MiB."""
        out = {}
        for name, p in self.sup.processes().items():
            try:
                status = Path(f"/proc/{p['pid']}/status").read_text()
            except OSError:
                continue
            kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            out[name] = round(kb / 1024, 1)
        return out

    def kill(self, name: str, deadline_s: float = 120) -> float:
        """SIGKILLs one process; supervisord restarts it (autorestart). Returns the seconds until
        it answered ready again."""
        old = self.pid(name)
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        while True:
            info_ = self.sup.rpc().getProcessInfo(name)
            if info_["statename"] == "RUNNING" and info_["pid"] not in (0, old) and self.ready(name):
                return round(time.monotonic() - t0, 1)
            if info_["statename"] in ("FATAL", "BACKOFF"):
                log = self.sup.logs / f"{name}.log"
                raise ScaleError(f"{name} did not come back after SIGKILL ({info_['statename']}); log {log}:\n{tail(log)}",
                                 "see its log")
            if time.monotonic() - t0 > deadline_s:
                raise ScaleError(f"{name} not ready {deadline_s:.0f}s after SIGKILL", f"see {self.sup.logs / (name + '.log')}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stops every process, Kafka last (the others write to it), the rest at once: supervisord's
        own shutdown stops them one after another, each Tempo waiting out its SIGTERM."""
        try:
            if self.sup.running():
                rpc = self.sup.rpc()
                names = [p["name"] for p in rpc.getAllProcessInfo() if p["name"] != KAFKA and p["statename"] in ("RUNNING", "STARTING")]
                for name in names:
                    rpc.stopProcess(name, False)  # returns at once; supervisord SIGKILLs after stopwaitsecs
                end = time.monotonic() + 60
                while any(self.sup.processes().get(n, {}).get("statename") in ("RUNNING", "STARTING", "STOPPING") for n in names):
                    if time.monotonic() > end:
                        break  # supervisord's own shutdown below kills what is left
                    time.sleep(0.2)
            self.sup.stop(timeout=60)
        except NativeError as err:
            raise ScaleError(err.cause, err.remedy) from err

"""The collector gateway tier as local processes (stack/gateway-tier.libsonnet): a remote-write
Prometheus, the scale run's Prometheus and Tempo, N gateway collectors, the Envoy balancer and
the agent collector, each with its own state folder, started in that order and each waited
for; any of them can be killed and started again, as the scale tests do."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from plano_obs.config import generate
from plano_obs.errors import PlanoError
from plano_obs.runtime import native
from plano_obs.runtime.supervisor import expand

class ScaleError(PlanoError):
    pass


def _config() -> Path:
    """The tier's configs, from the rendering the stack runs (generate.rendered())."""
    return generate.rendered() / "native" / "gateway-tier"


def info() -> dict:
    return json.loads((_config() / "tier.json").read_text())


@dataclass
class Part:
    name: str
    argv: list[str]
    ready: str  # URL that answers 200 once the part serves
    process: subprocess.Popen | None = None


@dataclass
class Tier:
    """The running tier; `root` holds each part's state folder and log."""
    root: Path
    parts: dict[str, Part] = field(default_factory=dict)

    def _env(self, name: str) -> dict[str, str]:
        state = self.root / name
        state.mkdir(parents=True, exist_ok=True)
        return dict(os.environ, PLANO_STATE_DIR=str(state), PLANO_CONFIG_DIR=str(_config()))

    def start(self, name: str, deadline_s: float = 60) -> None:
        part = self.parts[name]
        env = self._env(name)
        argv = [expand(a, env) for a in part.argv]
        log = (self.root / f"{name}.log").open("a")
        part.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + deadline_s
        while True:
            if part.process.poll() is not None:
                raise ScaleError(f"{name} exited with {part.process.returncode} while starting", f"see {self.root / (name + '.log')}")
            try:
                if requests.get(part.ready, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > end:
                raise ScaleError(f"{name} not ready after {deadline_s:g}s ({part.ready})", f"see {self.root / (name + '.log')}")
            time.sleep(0.2)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.parts[name].process
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(30)

    def stop(self) -> None:
        for name in reversed(list(self.parts)):
            proc = self.parts[name].process
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def plan(root: Path, combined: bool = False) -> Tier:
    """Every part of the tier, not started; fails in one line when a binary is missing.
    `combined`: the gateways send to the scaled-out Tempo (cluster.py, started first) instead of
    the tier's own Tempo, which is then not run."""
    scale = info()
    found = native.resolve_binaries(build=False)
    for component in ("collector", "prometheus", "tempo", "envoy"):
        if found[component].path is None:
            raise ScaleError(f"the scale-out run needs {component}: {found[component].source}",
                             "build or install it first: `invoke stack.install` (docs/scale-out.md)")
    bins = {k: str(found[k].path) for k in ("collector", "prometheus", "tempo", "envoy")}
    port = scale["ports"]

    def url(p: int, path: str) -> str:
        return f"http://127.0.0.1:{p}{path}"

    tier = Tier(root)
    gateway_configs = scale["combined"]["gatewayConfigs"] if combined else [f"gateway-{i}.yaml" for i in range(scale["gateways"])]
    own_tempo = [] if combined else [Part("tempo", [bins["tempo"], *scale["tempoArgs"]], url(port["tempo"], "/ready"))]
    parts = [
        Part("remote-prometheus", [bins["prometheus"], *scale["remotePrometheusFlags"]], url(port["remotePrometheus"], "/-/ready")),
        Part("prometheus", [bins["prometheus"], *scale["prometheusFlags"]], url(port["prometheus"], "/-/ready")),
        *own_tempo,
        *(Part(gw, [bins["collector"], f"--config={_config() / cfg}"], url(port["gatewayHealth"] + i, "/"))
          for i, (gw, cfg) in enumerate(zip(scale["gatewayIds"], gateway_configs, strict=True))),
        Part("balancer", [bins["envoy"], "-c", str(_config() / "balancer-envoy.yaml"), "--concurrency", "1",
                          "--use-dynamic-base-id", "--log-level", "warn"], url(port["balancerAdmin"], "/ready")),
        Part("agent", [bins["collector"], f"--config={_config() / 'agent-collector.yaml'}"], url(port["agentHealth"], "/")),
    ]
    tier.parts = {p.name: p for p in parts}
    return tier


def up(root: Path, deadline_s: float = 90, combined: bool = False) -> Tier:
    tier = plan(root, combined)
    try:
        for name in tier.parts:
            tier.start(name, deadline_s)
    except BaseException:
        tier.stop()
        raise
    return tier

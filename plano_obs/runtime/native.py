"""Native mode: the stack as local processes under supervisord, from native/ of the rendering the
stack runs (generate.rendered(): the defaults of generated/native/ plus the user's overrides).

Binaries come from the cache (built once from Go modules) or from PATH for the components
that cannot be built here. State (logs, data, supervisord's socket and pid) lives in the
state folder and survives `invoke down`."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from plano_obs.config import generate, paths, settings
from plano_obs.runtime import binaries, health, ports
from plano_obs.runtime.supervisor import NativeError, Supervisor, expand, native_dir, tail

def start_order() -> tuple[str, ...]:
    """Every component, in the order native mode starts them (_config.startOrder)."""
    return tuple(settings.load("native")["startOrder"])


def dev_envoy() -> tuple[str, ...]:
    return tuple(settings.load("native")["componentGroups"]["devEnvoy"])


def dev_plano() -> tuple[str, ...]:
    return tuple(settings.load("native")["componentGroups"]["devPlano"])


def _processes() -> dict:
    return json.loads((native_dir() / "processes.json").read_text())


def resolve_binaries(build: bool = True) -> dict[str, binaries.Binary]:
    manifest = (generate.rendered() / "collector" / "otelcol-builder.yaml").read_text()
    return binaries.resolve(settings.load("native")["versions"], manifest, build)


def mount_point(path: Path) -> str:
    """The mount point of the file system a path is on."""
    path = path.resolve()
    while not os.path.ismount(path):
        path = path.parent
    return str(path)


def up(deadline_s: float, components: tuple[str, ...] | None = None,
       build: bool = True) -> tuple[dict[str, health.Probe], dict[str, str]]:
    """Starts the components whose binaries are found; returns their probes, and for each
    component left out, why (plano_obs/runtime/report.py tells the user)."""
    sup = Supervisor()
    components = start_order() if components is None else components
    stack = settings.load("native")
    found = resolve_binaries(build)
    if "envoy" in components:
        from plano_obs.dev import wasm
        wasm.build(sup.state / "wasm")
    skipped: dict[str, str] = {}
    if any(c in components for c in dev_plano()) and (found["brightstaff"].path is None or "envoy" not in components):
        # the dev Plano needs brightstaff and the dev Envoy (its egress); its mocks serve only it
        why = found["brightstaff"].source if found["brightstaff"].path is None else "it needs the dev Envoy (--no-envoy given)"
        skipped.update({c: why for c in dev_plano() if c in components})
        components = tuple(c for c in components if c not in dev_plano())
    if "tempoGuard" in components and (found["tempo"].path is None or "tempo" not in components or not stack["tempoGuard"]):
        # the guard watches the local Tempo and the collector's copy of what it sent there
        skipped["tempoGuard"] = (found["tempo"].source if found["tempo"].path is None else
                                 "tempo.resend is off, or traces go to a remote backend" if not stack["tempoGuard"]
                                 else "it guards Tempo, which is not started")
        components = tuple(c for c in components if c != "tempoGuard")
    programs: dict[str, tuple[list[str], dict[str, str]]] = {}
    specs = _processes()
    for name in components:
        b = found[name]
        if b.path is None:
            skipped[name] = b.source
            continue
        env = sup.env()
        env["PYTHONPATH"] = str(paths.ROOT)  # the mocks run from this checkout
        if name == "grafana":
            env["GRAFANA_HOME"] = binaries.grafana_home(b.path)
        spec = specs[name]
        for file in spec.get("expandFiles", []):  # for programs that do not expand ${VARS}
            target = sup.state / "config" / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expand((native_dir() / file).read_text(), env))
        if spec.get("renderPlanoConfig"):  # Plano's config, rendered by Plano's planoai
            from plano_obs.dev import plano
            plano.render(native_dir() / spec["renderPlanoConfig"], sup.state / "plano")
        argv = [str(b.path)] + [expand(a, env) for a in spec["args"]]
        penv = dict(env, **{k: expand(v, env) for k, v in spec["env"].items()})
        if name == "grafana":
            from plano_obs.runtime import secrets
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
    for name in programs:
        for folder in specs[name].get("dirs", []):
            Path(expand(folder, sup.env())).mkdir(parents=True, exist_ok=True)
    sup.start()
    return _wait(sup, stack, list(programs), deadline_s), skipped


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
            raise NativeError("\n".join(lines), "see the log above; `invoke logs -s NAME` shows more")
        if pending:
            time.sleep(0.2)
    return probes


def down(volumes: bool) -> None:
    sup = Supervisor()
    stopped = sup.stop()
    print("stopped the native stack" if stopped else "the native stack was not running")
    shutil.rmtree(paths.runtime_dir(sup.state), ignore_errors=True)  # memory, not data: nothing to keep across a stop
    if volumes:
        data = sup.state / "data"
        shutil.rmtree(data, ignore_errors=True)
        print(f"deleted {data}")


def logs(service: str | None, follow: bool, tail_lines: int) -> None:
    sup = Supervisor()
    order = start_order()
    names = [service] if service else [n for n in order if (sup.logs / f"{n}.log").exists()]
    for name in names:
        if name not in order:
            raise NativeError(f"unknown component {name!r}", f"use one of {', '.join(order)}")
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

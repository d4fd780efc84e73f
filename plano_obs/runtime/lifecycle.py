"""Bringing the stack up and down in the mode chosen once, here, for every task: Compose
(plano_obs/runtime/compose.py) or native processes (plano_obs/runtime/native.py)."""
from __future__ import annotations

import shutil

from plano_obs.config import paths, settings
from plano_obs.errors import PlanoError
from plano_obs.runtime import compose, docker, health, native, ports, report, secrets, supervisor

MODES = ("auto", "compose", "native")


def choose_mode(requested: str) -> tuple[str, str]:
    """(mode, why): compose when a Docker engine answers, else native."""
    if requested not in MODES:
        raise PlanoError(f"unknown mode {requested!r}", f"use one of {', '.join(MODES)}")
    if requested == "compose":
        docker.require_engine()
        return "compose", "requested with --mode compose"
    if requested == "native":
        return "native", "requested with --mode native"
    problem = docker.engine_error()
    if problem is None:
        return "compose", "a Docker engine answers"
    return "native", problem


def announce_password() -> None:
    path, new = secrets.ensure_grafana_password()
    if new:
        print(f"Grafana admin password (shown once; kept in {path}, mode 0600): {new}")


def profile_components(mode: str, profile: str) -> tuple[str, ...] | None:
    """The components a profile runs (None: all), after checking it can run: collector-only
    needs both remote backends, or its collector would export to a Tempo that is not there."""
    stack = settings.load(mode)
    profiles = stack["profiles"]
    if profile not in profiles:
        raise PlanoError(f"unknown profile {profile!r}", f"one of {', '.join(profiles)} (_config.profiles)")
    only = profiles[profile]
    if only is not None and "tempo" not in only:
        knobs = {"traces": "_config.remote.traces.endpoint", "metrics": "_config.remote.metrics.remoteWriteUrl"}
        missing = [k for k in knobs if not stack["remoteBackends"][k]]
        if missing:
            raise PlanoError(f"--profile {profile} runs no local Tempo or Prometheus, but no remote {' or '.join(missing)} backend is set",
                             f"set {' and '.join(knobs[k] for k in missing)} in stack/local.libsonnet (docs/scale-out.md#remote-backends)")
    return None if only is None else tuple(only)


def up(mode: str, deadline_s: float, dev_envoy: bool = True, dev_plano: bool = True,
       profile: str = "full", local_images: bool = False,
       compose_envoy: bool = False) -> tuple[dict[str, health.Probe], dict[str, str]]:
    """Starts the stack; returns the probes of what runs, and why each component of the
    profile that does not run was left out. compose_envoy: in Compose mode, run the dev Envoy
    and mock LLM as Compose services (off by default there: Plano's own Envoy publishes the
    same admin port)."""
    only = profile_components(mode, profile)
    announce_password()
    if mode == "compose":
        probes, skipped = compose.up(deadline_s, local_images, compose_envoy, only)
        if only is None:  # the dev Plano (and the dev Envoy without --dev-envoy) run on the host only
            groups = settings.load(mode)["componentGroups"]
            for comp in compose.host_side(settings.load(mode), compose_envoy):
                skipped.setdefault(comp, "it runs on the host, in native mode only" if comp in native.dev_plano()
                                   else "native mode only (Compose has no Tempo guard yet)" if comp in groups["nativeOnly"]
                                   else "off in Compose unless --dev-envoy (Plano's own Envoy publishes the same port)")
        return probes, skipped
    flags = {**{c: "--no-envoy given" for c in (() if dev_envoy else native.dev_envoy())},
             **{c: "--no-plano given" for c in (() if dev_plano else native.dev_plano())}}
    components = tuple(c for c in native.start_order() if c not in flags and (only is None or c in only))
    probes, skipped = native.up(deadline_s, components)
    return probes, {**{c: why for c, why in flags.items() if only is None or c in only}, **skipped}


def down(mode: str, volumes: bool) -> None:
    if mode == "compose":
        compose.down(volumes)
    else:
        native.down(volumes)


def logs(mode: str, service: str | None, follow: bool, tail: int) -> None:
    if mode == "compose":
        compose.logs(service, follow, tail)
    else:
        native.logs(service, follow, tail)


def status(mode: str) -> list[dict]:
    """One row per component: pid (native), port, health, pinned and running version."""
    stack = settings.load(mode)
    procs = supervisor.Supervisor().processes() if mode == "native" else {}
    in_compose = compose.running() if mode == "compose" else []
    rows = []
    for name in stack["components"]:
        if mode == "compose" and name in compose.host_side(stack, dev_envoy=stack["services"][name] in in_compose):
            continue  # on the host, not in Compose (unless its profile runs it there)
        port_name = stack["components"][name]["port"]
        p = health.probe(stack, name)
        pid = procs.get(name, {}).get("pid") or None
        owned = [stack["ports"][n] for n, owner in stack["portOwner"].items() if owner == name]
        held = None if p.ok or mode != "native" else next(
            ((port, h) for port in owned for h in [ports.holder(port)] if h and h[0] != pid), None)
        rows.append({
            "component": name,
            "pid": pid,
            "state": procs.get(name, {}).get("statename", "-") if mode == "native" else "-",
            "port": stack["ports"][port_name],
            "ready": p.ok,
            "pinned": stack["versions"].get(name),
            "running": health.running_version(stack, name) if p.ok else None,
            # a port taken by something else, named: why the component cannot come back
            "heldBy": f"port {held[0]} held by pid {held[1][0]} ({held[1][1]})" if held else None,
        })
    return rows


def why_not_running(mode: str, components: list[str]) -> dict[str, str]:
    """For `invoke status`: why each of these components is not running: a binary that cannot
    be found (native), a service that runs elsewhere, or simply stopped."""
    found = native.resolve_binaries(build=False) if mode == "native" else {}
    out = {}
    for comp in components:
        b = found.get(comp)
        if b is not None and b.path is None:
            out[comp] = b.source
        elif mode == "native" and comp in native.dev_plano() and found.get("brightstaff") and found["brightstaff"].path is None:
            out[comp] = found["brightstaff"].source
        else:
            out[comp] = report.STOPPED
    return out


def state_disk(mode: str) -> tuple[str, float, int] | None:
    """(mount point, share in use, bytes free) of the disk the native stack keeps its state on."""
    if mode != "native":
        return None
    state = paths.state_dir()
    usage = shutil.disk_usage(state if state.exists() else native.mount_point(state))
    return native.mount_point(state), usage.used / usage.total, usage.free



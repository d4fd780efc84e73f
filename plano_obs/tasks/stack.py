"""`invoke up|down|status|logs|versions` (also as stack.*): run the observability stack."""
from __future__ import annotations

import time
from pathlib import Path

from invoke import Collection, Context, task

from plano_obs.config import paths
from plano_obs.errors import PlanoError
from plano_obs.runtime import binaries  # binaries: its INSTALLABLE names are in --help; the runtime is imported by each task
from plano_obs.tasks import cli_errors, options

MODE_HELP = "auto (Compose when a Docker engine answers, else native), compose or native"


def _mode(mode: str) -> str:
    from plano_obs.runtime import lifecycle
    chosen, why = lifecycle.choose_mode(mode)
    print(f"mode: {chosen} ({why})")
    return chosen


def _render() -> None:
    """Renders what the stack runs into the state folder (generate.rendered()), never into the
    committed generated/, and says so."""
    from plano_obs.config import generate
    overrides = paths.overrides_file()
    out = generate.rendered()
    print(f"configs: {out}" + (f" (with the overrides from {overrides})" if overrides.exists() else " (the defaults)"))


def _table(rows: list[dict], columns: list[str]) -> None:
    cells = [[("-" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


@task(help={"mode": MODE_HELP, "timeout": "seconds to wait for every component to be ready",
            "envoy": "native mode: also run the development Envoy and its mock LLM (--no-envoy when Plano's Envoy is up)",
            "plano": "native mode: also run the development Plano (Plano's brightstaff, when its binary is found, "
                     "with mock agents); --no-plano when your own Plano runs here",
            "profile": "full (default), or collector-only: just the collector (and the dev Envoy) against the remote "
                       "backends of _config.remote",
            "local-images": "Compose mode: use the images `invoke images.build` made (FROM scratch, tagged …-local) "
                            "instead of the official ones; Grafana only if its official image is present",
            "dev-envoy": "Compose mode: also run the development Envoy and its mock LLM as Compose services "
                         "(profile dev-envoy), scraped on the Compose network; off by default because Plano's own "
                         "Envoy publishes the same admin port"})
@cli_errors
def up(c: Context, mode: str = "auto", timeout: float = 120, envoy: bool = True, plano: bool = True,
       profile: str = "full", local_images: bool = False, dev_envoy: bool = False) -> None:
    """Render the configs (into .state/rendered) and start the stack (Compose or native), then wait until ready."""
    from plano_obs.config import settings
    from plano_obs.runtime import lifecycle, report
    start = time.monotonic()
    chosen = _mode(mode)
    for flag, given in (("--local-images", local_images), ("--dev-envoy", dev_envoy)):
        if given and chosen != "compose":
            raise PlanoError(f"{flag} is for Compose mode",
                             "add --mode compose (native mode runs the binaries themselves, the dev Envoy by default)")
    _render()
    probes, skipped = lifecycle.up(chosen, timeout, dev_envoy=envoy, dev_plano=plano, profile=profile,
                               local_images=local_images, compose_envoy=dev_envoy)
    info = settings.load(chosen)
    print(report.block(info, [n for n, p in probes.items() if p.ok], skipped, chosen,
                       f"stack ready in {time.monotonic() - start:.1f}s ({chosen} mode):"))


@task(help={"volumes": "also delete the stored data (traces, metrics, Grafana state)", "mode": MODE_HELP})
@cli_errors
def down(c: Context, volumes: bool = False, mode: str = "auto") -> None:
    """Stop the stack; data is kept unless --volumes."""
    from plano_obs.runtime import lifecycle
    lifecycle.down(_mode(mode), volumes)


@task(help={"mode": MODE_HELP})
@cli_errors
def status(c: Context, mode: str = "auto") -> None:
    """Show each component's pid, port, readiness and version."""
    from plano_obs.config import settings
    from plano_obs.runtime import lifecycle, report
    chosen = _mode(mode)
    rows = lifecycle.status(chosen)
    for r in rows:
        r["ready"] = "ready" if r["ready"] else "down" + (f", {r['heldBy']}" if r["heldBy"] else "")
    _table(rows, ["component", "pid", "state", "port", "ready", "pinned", "running"])
    up_now = [r["component"] for r in rows if r["ready"] == "ready"]
    missing = lifecycle.why_not_running(chosen, [r["component"] for r in rows if r["ready"] != "ready"])
    print(report.block(settings.load(chosen), up_now, missing, chosen, "running:" if up_now else "nothing is running"))
    disk = lifecycle.state_disk(chosen)
    if disk:
        mount, used, free = disk
        warn = settings.load("native")["stateDisk"]["warnUsedRatio"]
        print(f"state disk: {mount}, {used:.0%} used, {free / 2**30:.1f} GiB free")
        if used > warn:
            print(f"warning: the state disk is more than {warn:.0%} full (stateDisk.warnUsedRatio): when it is full, "
                  "Tempo stores no traces until restarted (docs/reliability.md#a-full-disk)")


@task(help={"mode": MODE_HELP})
@cli_errors
def versions(c: Context, mode: str = "auto") -> None:
    """Print the pinned and the running version of each component."""
    from plano_obs.runtime import lifecycle
    rows = lifecycle.status(_mode(mode))
    _table(rows, ["component", "pinned", "running"])
    wrong = [r["component"] for r in rows if r["running"] and r["pinned"] and r["running"] != r["pinned"]]
    if wrong:
        raise PlanoError(f"running versions differ from the pins: {', '.join(wrong)}",
                         "rebuild (`invoke stack.install`) or update versions in stack/config.libsonnet")


@task(klass=options.Task, help={
    "service": "one component (collector, tempo, prometheus, grafana; Compose also otel-collector); all when omitted",
    "follow": "keep streaming", "tail": "lines per service (default 200)", "mode": MODE_HELP})
@cli_errors
def logs(c: Context, service: str = "", follow: bool = False, tail: int | str = 200, mode: str = "auto") -> None:
    """Show the stack's logs, of every service or of one: invoke logs [--service NAME]."""
    from plano_obs.runtime import lifecycle
    lines = options.number("--tail", tail, integer=True, minimum=0)
    chosen, _ = lifecycle.choose_mode(mode)
    if chosen == "compose" and service == "collector":
        service = "otel-collector"  # one name in both modes (the Compose service is otel-collector)
    lifecycle.logs(chosen, service or None, follow, lines)


@task(iterable=["binary"], help={
    "binary": "NAME=FILE: install a binary you have (plain, .xz or .gz) as the pinned version of "
              f"NAME ({', '.join(binaries.INSTALLABLE)}); repeatable",
    "sha256": "with one --binary: the checksum the unpacked binary must have"})
@cli_errors
def install(c: Context, binary: list[str] | None = None, sha256: str | None = None) -> None:
    """Build or install (once, cached) the binaries native mode runs, then list them."""
    from plano_obs.config import settings
    from plano_obs.runtime import native
    _render()
    versions = settings.load("native")["versions"]
    if sha256 and len(binary or []) != 1:
        raise PlanoError("--sha256 needs exactly one --binary")
    for spec in binary or []:
        name, sep, file = spec.partition("=")
        if not sep or not file:
            raise PlanoError(f"--binary {spec!r} is not NAME=FILE", "e.g. --binary tempo=./tempo-linux-amd64.xz")
        if name not in versions:
            raise PlanoError(f"--binary {spec!r}: unknown component {name!r}", f"one of {', '.join(binaries.INSTALLABLE)}")
        path = binaries.install(name, Path(file).expanduser(), versions[name], sha256)
        print(f"installed {name} {versions[name]} → {path}")
    for b in native.resolve_binaries(build=True).values():
        print(f"  {b.component:<11} {b.path or 'unavailable'}  ({b.source})")


ns = Collection("stack", up, down, status, logs, versions, install)

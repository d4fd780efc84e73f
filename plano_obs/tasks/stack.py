"""`invoke up|down|status|logs` (also as stack.*): run the observability stack."""
from __future__ import annotations

from invoke import Collection, Context, task

from .. import health, stack
from ..errors import PlanoError
from . import cli_errors
from .build import run_build

MODE_HELP = "auto (Compose when a Docker engine answers, else native), compose or native"


def _report(probes: dict[str, health.Probe]) -> None:
    width = max(len(n) for n in probes) if probes else 0
    for name, p in probes.items():
        print(f"  {name:<{width}}  {'ready' if p.ok else 'NOT READY':<9}  {p.url}  ({p.detail})")


@task(help={"mode": MODE_HELP, "timeout": "seconds to wait for every component to be ready"})
@cli_errors
def up(c: Context, mode: str = "auto", timeout: float = 120) -> None:
    """Build the configs and start the stack (Compose or native), then wait until ready."""
    chosen, why = stack.choose_mode(mode)
    print(f"mode: {chosen} ({why})")
    if chosen == "native":
        raise PlanoError(f"no Docker engine: {why}",
                         "start Docker, or use native mode (local processes) once it is available")
    run_build(None)
    probes = stack.up_compose(timeout)
    _report(probes)
    failed = [n for n, p in probes.items() if not p.ok]
    if failed:
        raise PlanoError(f"not ready after {timeout:.0f}s: {', '.join(failed)}", "`invoke logs SERVICE` shows why")
    info = stack.info("compose")
    print(f"Grafana: {health.url(info, 'grafana')}  (user {'admin'}, password in .secrets/grafana.env)")


@task(help={"volumes": "also delete the stored data (traces, metrics, Grafana state)", "mode": MODE_HELP})
@cli_errors
def down(c: Context, volumes: bool = False, mode: str = "auto") -> None:
    """Stop the stack; data is kept unless --volumes."""
    chosen, why = stack.choose_mode(mode)
    if chosen == "native":
        raise PlanoError(f"no Docker engine: {why}", "nothing to stop in Compose mode")
    stack.down_compose(volumes)


@task(help={"mode": MODE_HELP})
@cli_errors
def status(c: Context, mode: str = "auto") -> None:
    """Show each component's port and readiness."""
    chosen, why = stack.choose_mode(mode)
    print(f"mode: {chosen} ({why})")
    info = stack.info(chosen)
    probes = {name: health.probe(info, name) for name in stack.COMPONENTS}
    _report(probes)


@task(help={"service": "one service (otel-collector, tempo, prometheus, grafana); all when omitted",
            "follow": "keep streaming", "tail": "lines per service", "mode": MODE_HELP})
@cli_errors
def logs(c: Context, service: str | None = None, follow: bool = False, tail: int = 200, mode: str = "auto") -> None:
    """Show the stack's logs."""
    chosen, why = stack.choose_mode(mode)
    if chosen == "native":
        raise PlanoError(f"no Docker engine: {why}", "logs of the Compose stack need Docker")
    stack.logs_compose(service, follow, tail)


ns = Collection("stack", up, down, status, logs)

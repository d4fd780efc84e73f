"""`invoke dashboards.*`: the Grafana dashboards."""
from __future__ import annotations

from invoke import Collection, Context, task

from . import cli_errors
from .build import run_build


@task(default=True, help={"overrides": "override file (default: stack/local.libsonnet)"})
@cli_errors
def build(c: Context, overrides: str | None = None) -> None:
    """Render the dashboards from Jsonnet into generated/dashboards/."""
    run_build(overrides, only="dashboards/")


ns = Collection("dashboards", build)

"""`invoke rules.*`: the alert and recording rules for rulers outside the stack."""
from __future__ import annotations

from pathlib import Path

from invoke import Collection, Context, task

from plano_obs.tasks import cli_errors


@task(default=True, help={
    "out": "folder to write into (default: rules-export/)",
    "namespace": "Mimir ruler namespace (default: _config.ruler.namespace)",
})
@cli_errors
def export(c: Context, out: str = "rules-export", namespace: str = "") -> None:
    """Write the rules for Mimir's ruler (mimirtool) and for Prometheus's rule_files."""
    from plano_obs.ship import ruler
    from plano_obs.config import settings
    name = namespace or settings.load("compose")["ruler"]["namespace"]
    mimir, prometheus = ruler.write(Path(out), ruler.groups(), name)
    print(f"wrote {mimir}: load with `mimirtool rules load {mimir}` (namespace {name})")
    print(f"wrote {prometheus}: list it under Prometheus's rule_files")


ns = Collection("rules", export)

"""`invoke images.build`: local container images for Compose, the air-gapped path (docs/compose.md#local-images)."""
from __future__ import annotations

from invoke import Collection, Context, task

from plano_obs.tasks import cli_errors


@task(default=True, iterable=["only"], help={
    "force": "rebuild even when an image with the same inputs digest exists",
    "only": "COMPONENT: build only this one (collector, tempo, prometheus); repeatable"})
@cli_errors
def build(c: Context, force: bool = False, only: list[str] | None = None) -> None:
    """Build the local collector, Tempo and Prometheus images FROM scratch (cached by digest)."""
    from plano_obs.runtime import localimages
    for img in localimages.build(force=force, only=only or None):
        print(f"  {img.component:<11} {img.status:<6} {img.tag}  {img.size / 1e6:.0f} MB  {img.seconds:.1f}s")


ns = Collection("images", build)

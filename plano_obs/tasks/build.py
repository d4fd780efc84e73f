"""`invoke build`: render every config and dashboard from the Jsonnet sources."""
from __future__ import annotations

from invoke import Context, task

from .. import generate, paths
from . import cli_errors

HELP = {
    "overrides": "override file (default: $PLANO_OBS_OVERRIDES, else stack/local.libsonnet)",
    "check": "only check that generated/ matches a fresh build; write nothing",
}


def run_build(overrides: str | None, only: str = "", check: bool = False) -> None:
    local = paths.overrides_file(overrides)
    if overrides and not local.exists():
        from ..errors import JsonnetError
        raise JsonnetError(f"override file {local} does not exist", remedy="check the --overrides path")
    if check:
        generate.check_drift(overrides=local)
        print("generated/ is up to date")
        return
    changed = generate.build(overrides=local, only=only)
    if local.exists():
        print(f"using overrides from {local}")
    for rel in changed:
        print(f"wrote generated/{rel}")
    print(f"{len(changed)} file(s) changed" if changed else "generated/ is up to date")


@task(help=HELP)
@cli_errors
def build(c: Context, overrides: str | None = None, check: bool = False) -> None:
    """Render every stack config and dashboard from Jsonnet into generated/."""
    run_build(overrides, check=check)

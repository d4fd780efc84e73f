"""`invoke build`: render every config and dashboard from the Jsonnet sources.

generated/ holds the defaults only (committed, what a user without Python runs). With an
override file, the overridden rendering goes into the state folder (paths.rendered_dir(), what
`invoke up` runs) and generated/ still gets the defaults: an override never dirties the tree."""
from __future__ import annotations

from invoke import Context, task

from plano_obs.config import generate, paths, render
from plano_obs.tasks import cli_errors

HELP = {
    "overrides": "override file (default: $PLANO_OBS_OVERRIDES, else stack/local.libsonnet), rendered into the "
                 "state folder's rendered/ (what `invoke up` runs); generated/ always gets the defaults",
    "check": "only check that generated/ matches a fresh build of the defaults, and that the overrides render; "
             "write nothing",
}


def run_build(overrides: str | None, only: str = "", check: bool = False) -> None:
    local = paths.overrides_file(overrides)
    if overrides and not local.exists():
        from plano_obs.errors import JsonnetError
        raise JsonnetError(f"override file {local} does not exist", remedy="check the --overrides path")
    given = local if local.exists() else None
    if check:
        if given:
            render.render_all(given)  # a bad override fails here, as `invoke up` would
        generate.check_drift()
        print("generated/ is up to date" + (f"; the overrides from {local} render" if given else ""))
        return
    # the overridden rendering first: a bad override fails before anything is written
    state_changed = generate.build(paths.rendered_dir(), given, only) if given else []
    changed = generate.build(only=only)
    for rel in changed:
        print(f"wrote generated/{rel}")
    print(f"{len(changed)} file(s) changed" if changed else "generated/ is up to date")
    if given:
        print(f"overrides from {local}: rendered into {paths.rendered_dir()} (what `invoke up` runs; "
              f"generated/ keeps the defaults), {len(state_changed)} file(s) changed")


@task(help=HELP)
@cli_errors
def build(c: Context, overrides: str | None = None, check: bool = False) -> None:
    """Render every stack config and dashboard from Jsonnet into generated/ (defaults; overrides into .state/rendered)."""
    run_build(overrides, check=check)

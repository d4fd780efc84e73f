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


PUSH_HELP = {
    "url": "Grafana's base URL, e.g. https://grafana.example.com (a path prefix is kept)",
    "token": "a service account token; prefer --token-file or $PLANO_GRAFANA_TOKEN (a flag shows in `ps`)",
    "token-file": "file holding the token (else $PLANO_GRAFANA_TOKEN, then $PLANO_GRAFANA_TOKEN_FILE)",
    "datasource": "NAME=UID: use Grafana's existing datasource UID for ours (prometheus or tempo) instead of "
                  "creating it; repeatable",
    "dry-run": "read Grafana and say what would change; write nothing",
}


@task(help=PUSH_HELP, iterable=["datasource"])
@cli_errors
def push(c: Context, url: str = "", token: str = "", token_file: str = "", datasource: list[str] | None = None,
         dry_run: bool = False) -> None:
    """Create or update the folder, datasources and dashboards in an existing Grafana."""
    from .. import grafana_push, settings
    if not url:
        raise grafana_push.PushError("no --url given", "pass Grafana's base URL: --url https://grafana.example.com")
    secret = grafana_push.resolve_token(token, token_file)
    info = settings.load("compose")
    mapping = grafana_push.parse_mappings(datasource or [], info["datasources"])
    want = grafana_push.desired(info, grafana_push.load_dashboards(), mapping)
    actions = grafana_push.push(url, secret, want, dry_run=dry_run)
    for action in actions:
        line = action.line()
        print(f"would be {line.rsplit(': ', 1)[1]}: {line.rsplit(': ', 1)[0]}" if dry_run and action.send else line)
    print(grafana_push.summary(actions, url, dry_run))


ns = Collection("dashboards", build, push)

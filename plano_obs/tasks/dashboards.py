"""`invoke dashboards.*`: the Grafana dashboards."""
from __future__ import annotations

from invoke import Collection, Context, task

from plano_obs.checks import promql
from plano_obs.errors import PlanoError
from plano_obs.tasks import cli_errors
from plano_obs.tasks.build import run_build


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
    from plano_obs.ship import grafana_push
    from plano_obs.config import settings
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


CHECK_HELP = {
    "prometheus": "Prometheus base URL (default: the local stack's); your own backend, e.g. http://prometheus:9090",
    "tempo": "Tempo base URL (default: the local stack's, unless --prometheus is given)",
    "range": "the dashboards' time range to query, a duration (default: the dashboards' own, 1h)",
    "var": "NAME=VALUE[,VALUE…]: pick variable values instead of All; repeatable",
    "dashboard": "only this dashboard (uid, e.g. plano-llm-usage, or its title)",
    "links": "also follow every data link for each series it would be offered on (needs Tempo)",
}


@task(help=CHECK_HELP, iterable=["var"])
@cli_errors
def check(c: Context, prometheus: str = "", tempo: str = "", range: str = "", var: list[str] | None = None,
          dashboard: str = "", links: bool = False) -> None:
    """Send every dashboard's queries as Grafana would; one line per panel: ✔ data, ∅ empty (why), ✘ error."""
    from plano_obs.checks import dashcheck, grafana
    from plano_obs.config import settings
    backends = dashcheck.default_backends(prometheus or None, tempo or None)
    dashcheck.reachable(backends)
    info = settings.load("native")
    window = range or info["dashboards"]["timeFrom"].removeprefix("now-")
    try:
        range_s = promql.seconds(window)
    except ValueError as err:
        raise PlanoError(f"--range {window!r} is not a duration", "e.g. 15m, 1h or 6h") from err
    selection = dashcheck.parse_selection(var or [])
    boards = dashcheck.pick(grafana.load(), dashboard)
    scrape_s = promql.seconds(info["spanMetricsScrapeInterval"])
    print(f"Prometheus {backends.prometheus}, Tempo {backends.tempo or 'not running (TraceQL panels cannot show traces)'}; "
          f"last {window}" + (f"; {', '.join(f'{k}={v}' for k, v in selection.items())}" if selection else "; every variable at All"))
    totals = {dashcheck.DATA: 0, dashcheck.EMPTY: 0, dashcheck.ERROR: 0}
    for board in boards:
        variables, panels = dashcheck.check_dashboard(board, backends, range_s, scrape_s, selection)
        print(f"{board['title']} ({board['uid']})")
        for name, v in variables.items():
            print(f"  variable {name}: {v.line}")
        for p in panels:
            totals[p.verdict.state] += 1
            print(f"  {dashcheck.MARK[p.verdict.state]} {p.panel} — {p.verdict.detail}")
        if links:
            for lv in dashcheck.check_links(board, backends, range_s, scrape_s):
                totals[lv.verdict.state] += 1
                print(f"  {dashcheck.MARK[lv.verdict.state]} link {lv.title!r} ({lv.panel}) — {lv.verdict.detail}")
    print(f"{totals[dashcheck.DATA]} ✔ data, {totals[dashcheck.EMPTY]} ∅ empty, {totals[dashcheck.ERROR]} ✘ error")
    if totals[dashcheck.ERROR]:
        raise PlanoError(f"{totals[dashcheck.ERROR]} quer{'y' if totals[dashcheck.ERROR] == 1 else 'ies'} failed "
                         "as Grafana would send them", "see the ✘ lines above")


ns = Collection("dashboards", build, push, check)

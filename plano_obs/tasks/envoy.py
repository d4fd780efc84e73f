"""`invoke envoy.*`: Plano's Envoy as the stack sees it."""
from __future__ import annotations

import json as _json

from invoke import Collection, Context, task
from invoke.exceptions import Exit

from plano_obs.tasks import cli_errors


@task(default=True, help={
    "admin": "Envoy admin address (default: the stack's configured one, then plano.envoyAdminCandidates)",
    "prometheus": "the stack's Prometheus (default http://127.0.0.1:<ports.prometheus>)",
    "json": "print the report as JSON (exit codes as documented in docs/envoy.md)"})
@cli_errors
def check(c: Context, admin: str | None = None, prometheus: str | None = None, json: bool = False) -> None:
    """Check Envoy's admin endpoint, Plano's WASM metrics and Prometheus's envoy target."""
    from plano_obs.checks import envoycheck
    from plano_obs.config import settings
    from plano_obs.runtime import health, lifecycle
    chosen, _ = lifecycle.choose_mode("auto")
    info = settings.load(chosen)
    prom = prometheus or health.url(info, "prometheus")
    report = envoycheck.check(admin, prom, info)
    if json:
        print(_json.dumps(report.as_dict(), indent=2))
    else:
        if report.admin:
            print(f"admin: {report.admin} (from {report.admin_source}) — Envoy {report.envoy_version or '?'}, {report.envoy_state or '?'}")
        if report.present or report.missing:
            print(f"Plano WASM metrics ({'no prefix' if report.naming == 'plain' else (report.naming or '-') + ' prefix'}): "
                  f"present {', '.join(report.present) or 'none'}; missing {', '.join(report.missing) or 'none'}")
        if report.target:
            print(f"Prometheus target: {report.target['scrapeUrl']} {report.target['health']}")
        for f in report.findings:
            print(f"✗ {f.cause}\n  → {f.remedy}")
        if not report.findings:
            print("✓ Envoy is scraped and exports Plano's metrics")
    if report.exit_code:
        raise Exit(code=report.exit_code)


ns = Collection("envoy", check)

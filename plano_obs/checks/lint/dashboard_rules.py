"""Dashboard rules in the spirit of grafana/dashboard-linter: every panel explains
itself, has a unit, queries a datasource by its fixed uid, and uses counters correctly."""
from __future__ import annotations

import re

from plano_obs.checks import grafana, promql
from plano_obs.config import settings


def known_counters() -> set[str]:
    """Counters that do not follow the _total naming: Envoy exports Plano's WASM counters as is,
    and the collector's own Prometheus reader (0.161) exports its counters without _total."""
    info = settings.load("compose")
    names = info["metricNames"]
    return ({m for m, kind in info["wasmMetrics"].items() if kind == "counter"}
            | {names[k] for k in ("collectorAccepted", "collectorRefused", "collectorSent", "collectorSendFailed")})
_HARD_WINDOW = re.compile(r"\[(?!\$__)[^\]]*\]")


def check(dashboard: dict, datasource_uids: set[str]) -> list[str]:
    """Problems found, one line each, naming the dashboard and panel."""
    where = dashboard.get("uid") or dashboard.get("title") or "<dashboard>"
    problems: list[str] = []
    counters = known_counters()
    for key in ("uid", "title", "description"):
        if not dashboard.get(key):
            problems.append(f"{where}: dashboard has no {key}")
    prefix = settings.load("compose")["dashboards"]["uidPrefix"]
    if dashboard.get("uid") and not dashboard["uid"].startswith(prefix):
        problems.append(f"{where}: uid must be fixed and start with {prefix!r}")
    variables = grafana.variable_values(dashboard)
    for panel in grafana.panels(dashboard):
        title = panel.get("title") or f"id {panel.get('id')}"
        at = f"{where} / {title}"
        if not panel.get("title"):
            problems.append(f"{at}: panel has no title")
        if not panel.get("description"):
            problems.append(f"{at}: panel has no description")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit") and panel.get("type") != "nodeGraph":
            problems.append(f"{at}: panel has no unit (fieldConfig.defaults.unit)")
        if not panel.get("targets"):
            problems.append(f"{at}: panel has no queries")
        for t in panel.get("targets") or []:
            ref = t.get("refId", "?")
            for owner, ds in (("panel", panel.get("datasource")), (f"target {ref}", t.get("datasource"))):
                if not isinstance(ds, dict) or ds.get("uid") not in datasource_uids:
                    problems.append(f"{at}: {owner} datasource must be referenced by a fixed uid ({', '.join(sorted(datasource_uids))}), got {ds!r}")
    for q in grafana.targets(dashboard):
        at = f"{where} / {q.panel.get('title') or q.panel.get('id')}"
        if q.target.get("queryType") != "serviceMap" and _HARD_WINDOW.search(q.expr):
            problems.append(f"{at}: target {q.ref} hard-codes a range window; use $__rate_interval (or $__range): {q.expr}")
        try:
            tree = promql.analyse(promql.substitute(q.expr, variables))
        except promql.PromQLError as err:
            problems.append(f"{at}: target {q.ref} does not parse ({err.cause}): {q.expr}")
            continue
        for sel in tree.selectors:
            if promql.is_counter(sel.name, counters) and not sel.in_rate:
                if q.panel.get("type") == "stat" and q.instant:
                    continue  # a running total shown as one number is the counter's point
                problems.append(f"{at}: target {q.ref} uses counter {sel.name} without rate()/increase()")
    return problems + variable_problems(dashboard)


def _services_of(selector: promql.Selector, info: dict) -> set[str]:
    """The Plano components (plano.services keys) a selector reads: from its service_name
    matcher for span metrics; the LLM usage metrics are the `llm` component's."""
    services, names = info["planoServices"], info["metricNames"]
    if selector.name in {names["usageTokens"], names["usageCost"], names["usageTtftBucket"], names["usageTokensPerSecondBucket"]}:
        return {"llm"}
    if selector.name not in {names["calls"], names["durationBucket"], names["durationCount"]}:
        return set()
    wanted = selector.matchers.get("service_name", "").replace("\\", "")
    return {key for key, service in services.items() if service in wanted.split("|")}


def variable_problems(dashboard: dict) -> list[str]:
    """Every query of a component honours each of the dashboard's variables whose label that
    component's spans carry (_config.dashboards.variables): `label=~"$variable"`. A selector
    over several components needs only the variables all of them carry."""
    info = settings.load("compose")
    rules = info["dashboards"]["variables"]
    present = [v["name"] for v in dashboard.get("templating", {}).get("list", [])]
    where = dashboard.get("uid") or dashboard.get("title") or "<dashboard>"
    markers = {name: f"__var_{name}__" for name in present}
    problems = []
    for q in grafana.targets(dashboard):
        if q.target.get("queryType") == "serviceMap":
            continue
        try:
            tree = promql.analyse(promql.substitute(q.expr, markers))
        except promql.PromQLError:
            continue  # reported by check()
        for sel in tree.selectors:
            services = _services_of(sel, info)
            for name in present:
                rule = rules.get(name) or {}
                if sel.name in info["brightstaffLlmMetrics"] and rule.get("brightstaff"):
                    label = rule["brightstaff"]  # brightstaff's own LLM metrics name the label so
                elif services and services <= set(rule.get("services", ())):
                    label = rule["label"]
                else:
                    continue
                if sel.matchers.get(label) != markers[name]:
                    problems.append(f"{where} / {q.panel.get('title')}: target {q.ref} ignores the ${name} variable "
                                    f"({label}=~\"${name}\" on {sel.name})")
    return sorted(set(problems))

"""What Grafana does to a panel's query before Prometheus sees it, so the smoke suite can
ask Prometheus exactly what a dashboard would."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import paths, promql, settings


def interval_s(range_s: float, scrape_s: float, max_points: int = 1000) -> float:
    """$__interval: the range over the panel's data points, never below the datasource's
    scrape interval ("Min interval", timeInterval)."""
    return max(range_s / max_points, scrape_s)


def rate_interval_s(range_s: float, scrape_s: float, max_points: int = 1000) -> float:
    """$__rate_interval = max($__interval + scrape interval, 4 × scrape interval)."""
    return max(interval_s(range_s, scrape_s, max_points) + scrape_s, 4 * scrape_s)


def _dur(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms"


def macros(range_s: float, scrape_s: float) -> dict[str, str]:
    i, ri = interval_s(range_s, scrape_s), rate_interval_s(range_s, scrape_s)
    return {"__interval": _dur(i), "__interval_ms": str(int(i * 1000)), "__rate_interval": _dur(ri),
            "__rate_interval_ms": str(int(ri * 1000)), "__range": f"{int(range_s)}s",
            "__range_s": str(int(range_s)), "__range_ms": str(int(range_s * 1000))}


def variable_values(dashboard: dict) -> dict[str, str]:
    """What each template variable expands to when "All" is selected."""
    return {v["name"]: v.get("allValue") or ".*" for v in dashboard.get("templating", {}).get("list", [])}


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel of a dashboard, those inside collapsed rows included; rows themselves not."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") != "row":
            yield panel
        yield from panel.get("panels", [])


def _metric_names() -> dict[str, str]:
    return settings.load("native")["metricNames"]


def service_map_exprs(metric_names: dict[str, str] | None = None) -> dict[str, str]:
    """The instant queries Grafana's Tempo datasource sends to its Prometheus datasource for a
    `serviceMap` query (one per metric, by refId = metric name, over the panel's range)."""
    names = metric_names or _metric_names()
    metrics = [names[k] for k in ("serviceGraphRequests", "serviceGraphFailed", "serviceGraphServerSecondsSum")]
    return {m: f"sum by (client, server) (rate({m}[$__range]))" for m in metrics}


@dataclass
class Target:
    """One PromQL query a panel makes, as written in the dashboard (before substitution)."""
    panel: dict
    target: dict
    ref: str
    expr: str
    instant: bool


def targets(dashboard: dict, metric_names: dict[str, str] | None = None) -> Iterator[Target]:
    """The one walker over a dashboard's queries: Prometheus targets as they are, and Tempo
    service-map targets as the Prometheus queries Grafana makes of them."""
    for panel in panels(dashboard):
        for t in panel.get("targets") or []:
            if t.get("queryType") == "serviceMap":
                for metric, expr in service_map_exprs(metric_names).items():
                    yield Target(panel, t, f"{t.get('refId', '?')}:{metric}", expr, True)
            elif t.get("queryType") == "traceql":
                continue  # Tempo's language, not PromQL: traceql() lists these
            else:
                yield Target(panel, t, t.get("refId", "?"), t.get("expr", ""), bool(t.get("instant")))


def traceql(dashboard: dict) -> dict[str, str]:
    """The TraceQL query of each trace-table panel, by panel title, with the dashboard's
    variables as "All" (Grafana sends regex variables in TraceQL as in PromQL)."""
    values = variable_values(dashboard)
    return {panel["title"]: promql.substitute(t["query"], values)
            for panel in panels(dashboard) for t in panel.get("targets") or [] if t.get("queryType") == "traceql"}


@dataclass
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str  # as Prometheus receives it
    instant: bool
    step_s: float


def queries(range_s: float, scrape_s: float, variables: dict[str, str] | None = None,
            folder: Path | None = None) -> list[PanelQuery]:
    """Every query of every generated dashboard, substituted as Grafana would ("All" for
    variables unless given)."""
    out = []
    for path in sorted((folder or paths.GENERATED / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        values = dict(variable_values(dash), **(variables or {}))
        for t in targets(dash):
            expr = promql.substitute(t.expr, values, macros(range_s, scrape_s))
            out.append(PanelQuery(dash["title"], t.panel["title"], t.ref, expr, t.instant, interval_s(range_s, scrape_s)))
    return out

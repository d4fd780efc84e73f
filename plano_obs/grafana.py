"""What Grafana does to a panel's query before Prometheus sees it, so the smoke suite can
ask Prometheus exactly what a dashboard would."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import paths, promql


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
    """Every target of every generated dashboard, substituted as Grafana would ("All" for
    variables unless given)."""
    from .lint.dashboards import variable_values
    out = []
    for path in sorted((folder or paths.GENERATED / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        values = dict(variable_values(dash), **(variables or {}))
        for panel in dash.get("panels", []):
            for t in panel.get("targets", []):
                expr = promql.substitute(t["expr"], values, macros(range_s, scrape_s))
                out.append(PanelQuery(dash["title"], panel["title"], t["refId"], expr, bool(t.get("instant")),
                                      interval_s(range_s, scrape_s)))
    return out

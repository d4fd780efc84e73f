"""What Grafana does to a dashboard's queries before Prometheus or Tempo sees them: template
variables (query variables, chained ones, how a selection is written into a query), global
macros, the Prometheus requests behind a variable query, and the links a panel opens.

Written from Grafana's documented behaviour (and read against its source, which is AGPL and
never copied), so that `invoke dashboards.check` and the smoke suite ask the backends exactly what
a dashboard in Grafana would. Pure functions: nothing here talks to a backend
(plano_obs/checks/dashcheck.py does)."""
from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from plano_obs.checks import promql
from plano_obs.config import generate, settings

ALL = "$__all"  # the value Grafana stores for a variable's "All" option


# --- global macros -------------------------------------------------------------------------

def interval_s(range_s: float, scrape_s: float, max_points: int = 1000) -> float:
    """$__interval: the range over the panel's data points, never below the datasource's
    scrape interval ("Min interval", timeInterval)."""
    return max(range_s / max_points, scrape_s)


def rate_interval_s(range_s: float, scrape_s: float, max_points: int = 1000) -> float:
    """$__rate_interval = max($__interval + scrape interval, 4 × scrape interval)."""
    return max(interval_s(range_s, scrape_s, max_points) + scrape_s, 4 * scrape_s)


def _dur(seconds: float) -> str:
    return f"{int(round(seconds * 1000))}ms"


def macros(range_s: float, scrape_s: float, end_s: float | None = None) -> dict[str, str]:
    """The global macros for a query over the last range_s seconds (ending at end_s)."""
    i, ri = interval_s(range_s, scrape_s), rate_interval_s(range_s, scrape_s)
    out = {"__interval": _dur(i), "__interval_ms": str(int(i * 1000)), "__rate_interval": _dur(ri),
           "__rate_interval_ms": str(int(ri * 1000)), "__range": f"{int(range_s)}s",
           "__range_s": str(int(range_s)), "__range_ms": str(int(range_s * 1000))}
    if end_s is not None:
        out |= {"__from": str(int((end_s - range_s) * 1000)), "__to": str(int(end_s * 1000))}
    return out


# --- variables -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Variable:
    """A dashboard's query variable, as its templating entry declares it."""
    name: str
    query: str
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    sort: int = 0
    regex: str = ""

    @classmethod
    def of(cls, entry: dict) -> "Variable":
        query = entry.get("query")
        text = query.get("query", "") if isinstance(query, dict) else (query or "")
        return cls(entry["name"], text, bool(entry.get("multi")), bool(entry.get("includeAll")),
                   entry.get("allValue") or None, int(entry.get("sort") or 0), entry.get("regex") or "")


def variables(dashboard: dict) -> list[Variable]:
    """The dashboard's variables, in the order Grafana shows (and resolves) them."""
    return [Variable.of(v) for v in dashboard.get("templating", {}).get("list", [])]


def variable_values(dashboard: dict) -> dict[str, str]:
    """What each template variable expands to when "All" is selected (its custom all value)."""
    return {v.name: v.all_value or ".*" for v in variables(dashboard)}


# A selection: for each variable, the values picked, or ALL. A variable left out is at All.
Selection = dict[str, "list[str] | str"]

_RE2_META = re.compile(r"[$^*{}\[\]+?.()|]")


def prometheus_regex_escape(value: str) -> str:
    """A value made literal inside a PromQL regex string (Grafana's classic escaping): a
    backslash becomes four, a regex metacharacter gets two before it (one for the string, one
    for the regex)."""
    return _RE2_META.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def prometheus_escape(value: str) -> str:
    """A value inside a PromQL string for a variable that is neither multi nor All."""
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def format_prometheus(value: "str | list[str]", var: Variable) -> str:
    """How the Prometheus datasource writes a variable's value into a query: as is for a
    single-value variable, regex-escaped for a multi or All one, several values as (a|b)."""
    if not var.multi and not var.include_all:
        return prometheus_escape(value if isinstance(value, str) else ",".join(value))
    if isinstance(value, str):
        return prometheus_regex_escape(value)
    escaped = [prometheus_regex_escape(v) for v in value]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _percent(value: str) -> str:
    # encodeURIComponent, plus !'()* (Grafana's strict form)
    return urllib.parse.quote(value, safe="-_.~")


def format_value(value: "str | list[str]", var: Variable, fmt: str | None, datasource: str | None) -> str:
    """A value in the format a `${var:fmt}` names, else the datasource's own (Prometheus: regex
    escaped; Tempo: a pipe between values), else Grafana's default (several values as a glob {a,b})."""
    many = isinstance(value, list)
    if fmt == "regex":
        items = [re.sub(r"[\\^$.|?*+()\[\]{}/]", lambda m: "\\" + m.group(0), v) for v in (value if many else [value])]
        return items[0] if len(items) == 1 else "(" + "|".join(items) + ")"
    if fmt == "percentencode":
        return _percent("{" + ",".join(value) + "}" if many and len(value) > 1 else (value[0] if many else value))
    if fmt == "pipe":
        return "|".join(value) if many else value
    if fmt == "csv":
        return ",".join(value) if many else value
    if fmt in ("raw", "text"):
        return ",".join(value) if many else value
    if fmt:
        raise ValueError(f"unsupported variable format {fmt!r}")
    if datasource == "prometheus":
        return format_prometheus(value, var)
    if datasource == "tempo":  # TraceQL: several values joined by a pipe, unescaped (Grafana ≥ 10.1)
        return "|".join(value) if many else value
    if many:
        return value[0] if len(value) == 1 else "{" + ",".join(value) + "}"
    return value


_REFERENCE = re.compile(r"\$\{(\w+)(?:\.([\w.\[\]]+))?(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")


def interpolate(text: str, variables_: list[Variable], selection: Selection, options: dict[str, list[str]],
                macros_: dict[str, str] | None = None, datasource: str | None = "prometheus",
                scoped: dict[str, str] | None = None) -> str:
    """Replaces every variable and macro reference as Grafana's template service does.

    selection: the values picked (ALL when left out); options: each variable's current option
    values (what All stands for when the variable has no custom all value); scoped: values
    of a data link's scope, e.g. {"__field.labels.llm_model": "gpt-4o"}."""
    by_name = {v.name: v for v in variables_}
    known = dict(promql.DEFAULT_MACROS, **(macros_ or {}))

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(4) or m.group(6)
        path = m.group(2)
        fmt = m.group(3) or m.group(5)
        if scoped and path and f"{name}.{path}" in scoped:
            value = scoped[f"{name}.{path}"]
            return _percent(value) if fmt == "percentencode" else value
        if name in known and name not in by_name:
            value = known[name]
            return _percent(value) if fmt == "percentencode" else value
        if name not in by_name:
            raise promql.PromQLError(text, f"unknown variable ${name}")
        var = by_name[name]
        picked = selection.get(name, ALL)
        if picked == ALL or picked == [ALL]:
            if var.all_value and fmt not in ("text", "percentencode"):
                return interpolate(var.all_value, variables_, selection, options, macros_, datasource, scoped)
            value: str | list[str] = var.all_value or list(options.get(name, []))
        else:
            value = list(picked)
            if len(value) == 1 and not var.multi:
                value = value[0]
        return format_value(value, var, fmt, datasource)

    return _REFERENCE.sub(repl, text)


# --- the requests behind a variable query --------------------------------------------------

@dataclass(frozen=True)
class VariableRequest:
    """One HTTP GET to Prometheus for a variable's options, and how to read its answer."""
    path: str
    params: tuple[tuple[str, str], ...]
    kind: str  # label_values | series | label_names | metrics | query_result
    label: str = ""
    pattern: str = ""


_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)\s*$")
_LABEL_NAMES = re.compile(r"^label_names\(\)\s*$")
_METRICS = re.compile(r"^metrics\((.+)\)\s*$")
_QUERY_RESULT = re.compile(r"^query_result\((.+)\)\s*$")


def labels_match_api(datasource_json: dict) -> bool:
    """Whether Grafana asks /api/v1/label/<l>/values?match[]= (a Prometheus it knows is ≥ 2.24)
    rather than /api/v1/series for label_values(metric, label)."""
    if datasource_json.get("prometheusType") not in ("Prometheus", None) or not datasource_json.get("prometheusVersion"):
        return False
    try:
        version = tuple(int(x) for x in str(datasource_json["prometheusVersion"]).split(".")[:3])
    except ValueError:
        return False
    return version >= (2, 24, 0)


def variable_request(query: str, start_s: float, end_s: float, match_api: bool = True) -> VariableRequest:
    """The request Grafana's Prometheus datasource sends for an (interpolated) variable query."""
    span = (("start", str(int(start_s))), ("end", str(int(end_s))))
    query = query.strip()
    if _LABEL_NAMES.match(query):
        return VariableRequest("/api/v1/labels", span, "label_names")
    m = _LABEL_VALUES.match(query)
    if m:
        metric, label = m.group(1), m.group(2)
        if metric and metric.replace(" ", "") != "{}":
            if match_api:
                return VariableRequest(f"/api/v1/label/{label}/values", (("match[]", metric),) + span, "label_values", label)
            return VariableRequest("/api/v1/series", (("match[]", metric),) + span, "series", label)
        return VariableRequest(f"/api/v1/label/{label}/values", span, "label_values", label)
    m = _METRICS.match(query)
    if m:
        return VariableRequest("/api/v1/label/__name__/values", span, "metrics", pattern=m.group(1))
    m = _QUERY_RESULT.match(query)
    if m:
        return VariableRequest("/api/v1/query", (("query", m.group(1)), ("time", str(int(end_s)))), "query_result")
    return VariableRequest("/api/v1/series", (("match[]", query),) + span, "series", "__name__")


def variable_options(request: VariableRequest, answer: dict, var: Variable | None = None) -> list[str]:
    """The option values a variable gets from Prometheus's answer: its regex applied (the first
    group, when it has one), duplicates dropped, sorted as the variable's `sort` says."""
    data = answer["data"]
    if request.kind in ("label_values", "label_names"):
        values = [str(v) for v in data]
    elif request.kind == "series":
        values = [s.get(request.label, "") for s in data]
        values = [v for v in values if v]
    elif request.kind == "metrics":
        values = [v for v in data if re.search(request.pattern, v)]
    else:  # query_result: one text per series, `name{l="v",…} value timestamp_ms`
        if data["resultType"] in ("scalar", "string"):
            values = [str(data["result"][1])]
        else:
            values = []
            for series in data["result"]:
                labels = dict(series["metric"])
                name = labels.pop("__name__", "")
                body = ",".join(f'{k}="{v}"' for k, v in labels.items())
                values.append(f"{name}{{{body}}} {series['value'][1]} {int(float(series['value'][0]) * 1000)}")
    if var and var.regex:
        pattern = re.compile(var.regex.strip("/"))
        kept = []
        for v in values:
            found = pattern.search(v)
            if found:
                kept.append(found.group(1) if found.groups() else v)
        values = kept
    values = list(dict.fromkeys(values))
    if var and var.sort in (1, 2):  # alphabetical, ascending or descending
        values.sort(reverse=var.sort == 2)
    elif var and var.sort in (3, 4):  # numerical
        values.sort(key=lambda v: float(re.search(r"-?\d+(\.\d+)?", v).group(0)) if re.search(r"\d", v) else 0.0,
                    reverse=var.sort == 4)
    return values


# --- panels and their queries --------------------------------------------------------------

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
    """One query a panel makes, as written in the dashboard (before substitution): PromQL for
    Prometheus (Tempo's service map included, as the Prometheus queries it becomes), or TraceQL."""
    panel: dict
    target: dict
    ref: str
    expr: str
    instant: bool
    language: str = "promql"  # promql | traceql

    @property
    def exemplar(self) -> bool:
        return bool(self.target.get("exemplar"))


def targets(dashboard: dict, metric_names: dict[str, str] | None = None, traceql_too: bool = False) -> Iterator[Target]:
    """The one walker over a dashboard's queries: Prometheus targets as they are, Tempo
    service-map targets as the Prometheus queries Grafana makes of them, and (traceql_too)
    TraceQL targets."""
    for panel in panels(dashboard):
        for t in panel.get("targets") or []:
            if t.get("queryType") == "serviceMap":
                for metric, expr in service_map_exprs(metric_names).items():
                    yield Target(panel, t, f"{t.get('refId', '?')}:{metric}", expr, True)
            elif t.get("queryType") == "traceql":
                if traceql_too:
                    yield Target(panel, t, t.get("refId", "?"), t["query"], False, "traceql")
            else:
                yield Target(panel, t, t.get("refId", "?"), t.get("expr", ""), bool(t.get("instant")))


def traceql(dashboard: dict) -> dict[str, str]:
    """The TraceQL query of each trace-table panel, by panel title, with the dashboard's
    variables at "All"."""
    vs = variables(dashboard)
    return {t.panel["title"]: interpolate(t.expr, vs, {}, {}, datasource="tempo")
            for t in targets(dashboard, traceql_too=True) if t.language == "traceql"}


@dataclass
class Link:
    """A data link of a panel, and what it opens once Grafana fills in its variables."""
    panel: str
    title: str
    url: str  # as written in the dashboard

    def resolve(self, scoped: dict[str, str], range_s: float, end_s: float) -> str:
        return interpolate(self.url, [], {}, {}, macros(range_s, 1.0, end_s), datasource=None, scoped=scoped)


def links(dashboard: dict) -> list[Link]:
    """Every data link on the dashboard's panels (fieldConfig.defaults.links)."""
    return [Link(p["title"], link["title"], link["url"]) for p in panels(dashboard)
            for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])]


def explore(url: str) -> tuple[list[dict], dict]:
    """The queries of an Explore URL (/explore?panes={…}) and its first pane's time range
    ({from, to} as text): what the link opens."""
    parsed = urllib.parse.urlparse(url)
    if parsed.path != "/explore":
        raise ValueError(f"not an Explore link: {url}")
    panes = json.loads(urllib.parse.parse_qs(parsed.query)["panes"][0])
    queries_ = [q for pane in panes.values() for q in pane.get("queries", [])]
    return queries_, next(iter(panes.values())).get("range", {})


@dataclass
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str  # as Prometheus receives it
    instant: bool
    step_s: float
    language: str = "promql"
    exemplar: bool = False


def load(folder: Path | None = None) -> list[dict]:
    """The dashboards of the rendering the stack runs (or those in folder), by file name order."""
    return [json.loads(p.read_text()) for p in sorted((folder or generate.rendered() / "dashboards").glob("*.json"))]


def queries(range_s: float, scrape_s: float, selection: Selection | None = None,
            options: dict[str, dict[str, list[str]]] | None = None, folder: Path | None = None,
            traceql_too: bool = False, end_s: float | None = None) -> list[PanelQuery]:
    """Every query of every generated dashboard, substituted as Grafana would: the selection
    (every variable at All unless picked) and each dashboard's variable options, keyed by its
    title (what All stands for when a variable has no custom all value)."""
    out = []
    for dash in load(folder):
        vs = variables(dash)
        opts = (options or {}).get(dash["title"], {})
        for t in targets(dash, traceql_too=traceql_too):
            expr = interpolate(t.expr, vs, selection or {}, opts, macros(range_s, scrape_s, end_s),
                               datasource="tempo" if t.language == "traceql" else "prometheus")
            out.append(PanelQuery(dash["title"], t.panel["title"], t.ref, expr, t.instant,
                                  interval_s(range_s, scrape_s), t.language, t.exemplar))
    return out

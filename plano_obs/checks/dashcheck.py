"""Every request a provisioned dashboard makes, sent to the backends as Grafana would send it:
the variable queries (chained ones with the selection so far), every panel's PromQL (range or
instant), its exemplar query, Tempo's TraceQL tables and service map, and the data links a
panel opens. `invoke dashboards.check` prints the verdicts; the smoke suite asserts on them.

What Grafana does to a query is in plano_obs/checks/grafana.py; this module only sends and judges."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import requests
import yaml

from plano_obs.checks import grafana, promql
from plano_obs.config import generate
from plano_obs.errors import PlanoError

DATA, EMPTY, ERROR = "data", "empty", "error"
MARK = {DATA: "✔", EMPTY: "∅", ERROR: "✘"}


class CheckError(PlanoError):
    """A backend cannot be reached at all."""


@dataclass
class Backends:
    """Where the dashboards' datasources point: Prometheus always, Tempo when there is one."""
    prometheus: str
    tempo: str | None = None
    match_api: bool = True  # the Prometheus datasource knows it talks to Prometheus ≥ 2.24
    timeout: float = 15.0
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, base: str, path: str, params) -> dict:
        """One GET; the JSON answer, or a CheckError-free dict {"status": "error", "error": …}."""
        try:
            r = self.session.get(base.rstrip("/") + path, params=params, timeout=self.timeout)
        except requests.RequestException as err:
            return {"status": "error", "error": f"{type(err).__name__}: {err}"}
        try:
            body = r.json()
        except ValueError:
            body = {}
        if r.status_code != 200:
            why = body.get("error") if isinstance(body, dict) and body.get("error") else r.text.strip()[:200]
            return {"status": "error", "error": f"HTTP {r.status_code}: {why}"}
        return body if isinstance(body, dict) and "status" in body else {"status": "success", "data": body}


def datasource_json(mode: str = "native") -> dict:
    """The provisioned Prometheus datasource's jsonData (it decides which API Grafana uses)."""
    path = generate.rendered() / mode / "grafana" / "provisioning" / "datasources" / "plano.yaml"
    for ds in yaml.safe_load(path.read_text())["datasources"]:
        if ds["type"] == "prometheus":
            return ds.get("jsonData", {})
    return {}


@dataclass
class Verdict:
    """What one request (or one panel, over its requests) came back with."""
    state: str  # data | empty | error
    detail: str = ""
    series: int = 0

    @property
    def line(self) -> str:
        return f"{MARK[self.state]} {self.detail}".rstrip()


# --- variables -----------------------------------------------------------------------------

def variable_options(dashboard: dict, backends: Backends, selection: grafana.Selection, start_s: float,
                     end_s: float) -> tuple[dict[str, list[str]], dict[str, Verdict]]:
    """Each variable's options, resolved in order as Grafana does: a variable's query carries
    the selection (and options) of the variables before it. Returns the options and a verdict
    per variable."""
    options: dict[str, list[str]] = {}
    verdicts: dict[str, Verdict] = {}
    vs = grafana.variables(dashboard)
    for var in vs:
        try:
            query = grafana.interpolate(var.query, vs, selection, options,
                                        grafana.macros(end_s - start_s, 1.0, end_s))
        except promql.PromQLError as err:
            options[var.name], verdicts[var.name] = [], Verdict(ERROR, str(err))
            continue
        req = grafana.variable_request(query, start_s, end_s, backends.match_api)
        answer = backends.get(backends.prometheus, req.path, list(req.params))
        if answer.get("status") != "success":
            options[var.name], verdicts[var.name] = [], Verdict(ERROR, f"{req.path}: {answer.get('error')}")
            continue
        options[var.name] = grafana.variable_options(req, answer, var)
        verdicts[var.name] = Verdict(DATA if options[var.name] else EMPTY,
                                     ", ".join(options[var.name]) or f"no values ({query})", len(options[var.name]))
    return options, verdicts


# --- panels --------------------------------------------------------------------------------

def _values(result: list, instant: bool) -> list[float]:
    return [float(v[1]) for s in result for v in ([s["value"]] if instant else s["values"])]


def promql_verdict(backends: Backends, q: grafana.PanelQuery, start_s: float, end_s: float) -> Verdict:
    """A panel's PromQL query, range or instant, as Grafana sends it."""
    if q.instant:
        answer = backends.get(backends.prometheus, "/api/v1/query", {"query": q.expr, "time": f"{end_s:.3f}"})
    else:
        step = max(q.step_s, 0.001)
        answer = backends.get(backends.prometheus, "/api/v1/query_range",
                              {"query": q.expr, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step:g}"})
    if answer.get("status") != "success":
        return Verdict(ERROR, answer.get("error", "no answer"))
    result = answer["data"]["result"]
    if not result:
        return Verdict(EMPTY, why_empty(backends, q.expr, end_s), 0)
    return Verdict(DATA, f"{len(result)} series", len(result))


def exemplar_verdict(backends: Backends, q: grafana.PanelQuery, start_s: float, end_s: float) -> Verdict:
    """The exemplar query Grafana sends beside a range query with exemplars on."""
    answer = backends.get(backends.prometheus, "/api/v1/query_exemplars",
                          {"query": q.expr, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}"})
    if answer.get("status") != "success":
        return Verdict(ERROR, "exemplars: " + answer.get("error", "no answer"))
    ids = trace_ids_of_exemplars(answer)
    return Verdict(DATA if ids else EMPTY, f"{len(ids)} exemplar trace ids", len(ids))


def trace_ids_of_exemplars(answer: dict) -> list[str]:
    return [e["labels"]["trace_id"] for s in answer.get("data") or [] for e in s["exemplars"] if "trace_id" in e["labels"]]


def traceql_verdict(backends: Backends, query: str, start_s: float, end_s: float, limit: int = 20) -> Verdict:
    """A TraceQL table query, as Grafana's Tempo datasource sends it (search over the range)."""
    return tempo_search(backends, query, start_s, end_s, limit)[0]


def tempo_search(backends: Backends, query: str, start_s: float, end_s: float,
                 limit: int = 20) -> tuple[Verdict, list[str]]:
    """Tempo's search for a TraceQL query over a range: the verdict and the trace ids found."""
    if not backends.tempo:
        return Verdict(EMPTY, "no traces: Tempo is not running"), []
    answer = backends.get(backends.tempo, "/api/search",
                          {"q": query, "start": int(start_s), "end": int(end_s) + 1, "limit": limit})
    if answer.get("status") == "error":
        return Verdict(ERROR, answer.get("error", "no answer")), []
    ids = [t["traceID"].rjust(32, "0") for t in (answer.get("data") or {}).get("traces") or []]
    return Verdict(DATA if ids else EMPTY, f"{len(ids)} traces" if ids else f"no trace matches {query}", len(ids)), ids


def why_empty(backends: Backends, expr: str, at_s: float) -> str:
    """Names the metric or label that has no series: the usual cause of a "No data" panel."""
    try:
        tree = promql.analyse(expr)
    except promql.PromQLError:
        return "no series"
    for sel in tree.selectors:
        if not sel.name:
            continue
        if not _series(backends, sel.name, {}, at_s):
            return f"no series of {sel.name}"
        for label, value in sel.matchers.items():
            if label == "__name__" or value in (".*", ""):
                continue
            if not _series(backends, sel.name, {label: value}, at_s):
                return f'no series of {sel.name} with {label} matching "{value}"'
    return "no series (the series exist, but not together, or not in this range)"


def _series(backends: Backends, metric: str, matchers: dict[str, str], at_s: float) -> bool:
    body = ", ".join(f'{k}=~"{_quote(v)}"' for k, v in matchers.items())
    answer = backends.get(backends.prometheus, "/api/v1/series",
                          {"match[]": f"{metric}{{{body}}}", "start": f"{at_s - 3600:.0f}", "end": f"{at_s:.0f}",
                           "limit": 1})
    return bool(answer.get("data"))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass
class PanelVerdict:
    dashboard: str
    panel: str
    verdict: Verdict
    parts: list[tuple[str, Verdict]] = field(default_factory=list)  # (ref, verdict) per request


def _combine(parts: list[tuple[str, Verdict]]) -> Verdict:
    errors = [f"{ref}: {v.detail}" for ref, v in parts if v.state == ERROR]
    if errors:
        return Verdict(ERROR, "; ".join(errors))
    empties = [v.detail for _, v in parts if v.state == EMPTY]
    series = sum(v.series for _, v in parts if v.state == DATA)
    if series:
        note = f" ({len(empties)} of {len(parts)} queries empty: {empties[0]})" if empties else ""
        return Verdict(DATA, f"{series} series{note}", series)
    return Verdict(EMPTY, empties[0] if empties else "no query")


def check_dashboard(dashboard: dict, backends: Backends, range_s: float, scrape_s: float,
                    selection: grafana.Selection | None = None, end_s: float | None = None,
                    exemplars: bool = True) -> tuple[dict[str, Verdict], list[PanelVerdict]]:
    """The variables' verdicts and one verdict per panel, for one selection (All by default)."""
    end = end_s or time.time()
    start = end - range_s
    options, var_verdicts = variable_options(dashboard, backends, selection or {}, start, end)
    vs = grafana.variables(dashboard)
    by_panel: dict[str, list[tuple[str, Verdict]]] = {}
    for t in grafana.targets(dashboard, traceql_too=True):
        try:
            expr = grafana.interpolate(t.expr, vs, selection or {}, options, grafana.macros(range_s, scrape_s, end),
                                       datasource="tempo" if t.language == "traceql" else "prometheus")
        except promql.PromQLError as err:
            by_panel.setdefault(t.panel["title"], []).append((t.ref, Verdict(ERROR, str(err))))
            continue
        parts = by_panel.setdefault(t.panel["title"], [])
        if t.language == "traceql":
            parts.append((t.ref, traceql_verdict(backends, expr, start, end, int(t.target.get("limit") or 20))))
            continue
        q = grafana.PanelQuery(dashboard["title"], t.panel["title"], t.ref, expr, t.instant,
                               grafana.interval_s(range_s, scrape_s), exemplar=t.exemplar)
        parts.append((t.ref, promql_verdict(backends, q, start, end)))
        if exemplars and q.exemplar and not q.instant:
            ex = exemplar_verdict(backends, q, start, end)
            if ex.state == ERROR:
                parts.append((f"{t.ref} exemplars", ex))
    panels = [PanelVerdict(dashboard["title"], title, _combine(parts), parts) for title, parts in by_panel.items()]
    return var_verdicts, panels


# --- links ---------------------------------------------------------------------------------

@dataclass
class LinkVerdict:
    panel: str
    title: str  # with its variables filled in
    url: str
    verdict: Verdict
    trace_ids: list[str] = field(default_factory=list)


def check_links(dashboard: dict, backends: Backends, range_s: float, scrape_s: float,
                end_s: float | None = None) -> list[LinkVerdict]:
    """Every data link, followed for each series its panel shows: the link's variables filled in
    from that series' labels as Grafana does, and the Explore query it opens sent to Tempo."""
    end = end_s or time.time()
    out = []
    vs = grafana.variables(dashboard)
    options, _ = variable_options(dashboard, backends, {}, end - range_s, end)
    by_title = {p["title"]: p for p in grafana.panels(dashboard)}
    for link in grafana.links(dashboard):
        panel = by_title[link.panel]
        for t in panel.get("targets", []):
            expr = grafana.interpolate(t["expr"], vs, {}, options, grafana.macros(range_s, scrape_s, end))
            answer = backends.get(backends.prometheus, "/api/v1/query", {"query": expr, "time": f"{end:.3f}"})
            for series in (answer.get("data") or {}).get("result", []):
                scoped = {f"__field.labels.{k}": v for k, v in series["metric"].items()}
                title = grafana.interpolate(link.title, [], {}, {}, scoped=scoped, datasource=None)
                url = link.resolve(scoped, range_s, end)
                out.append(_follow(backends, link.panel, title, url))
    return out


def _follow(backends: Backends, panel: str, title: str, url: str) -> LinkVerdict:
    try:
        queries, span = grafana.explore(url)
    except (ValueError, KeyError) as err:
        return LinkVerdict(panel, title, url, Verdict(ERROR, f"not a link Grafana opens: {err}"))
    start, end = int(span["from"]) / 1000, int(span["to"]) / 1000
    ids: list[str] = []
    for q in queries:
        if q.get("queryType") != "traceql":
            return LinkVerdict(panel, title, url, Verdict(ERROR, f"unexpected query type {q.get('queryType')!r}"))
        v, found = tempo_search(backends, q["query"], start, end, limit=100)
        if v.state != DATA:
            return LinkVerdict(panel, title, url, v)
        ids += found
    return LinkVerdict(panel, title, url, Verdict(DATA, f"{len(ids)} traces", len(ids)), ids)


def default_backends(prometheus: str | None, tempo: str | None, mode: str = "native") -> Backends:
    """The local stack's backends (from the settings, overrides applied) unless URLs are given."""
    from plano_obs.runtime import health
    from plano_obs.config import settings
    info = settings.load(mode)
    prom = prometheus or health.url(info, "prometheus")
    local_tempo = health.url(info, "tempo") if not prometheus else None
    return Backends(prom, tempo or local_tempo, grafana.labels_match_api(datasource_json(mode)))


def reachable(backends: Backends) -> None:
    """Fails with one line when Prometheus does not answer at all (nothing else is worth trying)."""
    answer = backends.get(backends.prometheus, "/api/v1/status/buildinfo", {})
    if answer.get("status") != "success":
        raise CheckError(f"Prometheus at {backends.prometheus} does not answer ({answer.get('error')})",
                         "start the stack with `invoke up`, or pass --prometheus URL")
    if backends.tempo:
        t = backends.get(backends.tempo, "/api/status/buildinfo", {})
        if t.get("status") == "error":
            backends.tempo = None  # TraceQL panels then say there is no Tempo to ask


def pick(dashboards: list[dict], which: str) -> list[dict]:
    """All dashboards, or the one whose uid or title is `which`."""
    if not which:
        return dashboards
    found = [d for d in dashboards if which in (d["uid"], d["title"])]
    if not found:
        raise CheckError(f"no dashboard {which!r}", "one of " + ", ".join(d["uid"] for d in dashboards))
    return found


def parse_selection(specs: list[str]) -> grafana.Selection:
    """NAME=VALUE[,VALUE…] pairs as a selection."""
    out: grafana.Selection = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not name or not values:
            raise CheckError(f"--var {spec!r} is not NAME=VALUE[,VALUE…]", "e.g. --var model=gpt-4o,gpt-4o-mini")
        out[name] = values.split(",")
    return out

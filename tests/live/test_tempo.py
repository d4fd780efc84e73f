"""Tempo for real: every replayed trace is stored whole, TraceQL finds exactly the replayed
traces, the service graph has one edge per real call with exact counts, and exemplars on the
span-metric histograms open traces that Tempo returns.

The fixtures are replayed once for the module with trace ids known in advance (a salted copy,
sent with --keep-ids), so every assertion compares sets and counts, never "at least"."""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from plano_obs.checks import grafana, promql
from plano_obs.config import generate
from tests.fixtures.counts import FIXTURES, edges, spans_per_trace, traces_longer, traces_where, with_new_ids
from tests.live.conftest import component, invoke, wait_for


@dataclass
class Replayed:
    files: dict[str, Path]  # fixture name -> the salted copy that was sent
    salt: str  # the copies' resource attribute smoke.run
    ids: dict[str, str]  # original trace id -> id sent
    start: float  # wall clock before the first span was sent
    end: float  # wall clock after the last

    def new(self, old_ids: set[str]) -> set[str]:
        return {self.ids[i] for i in old_ids}


@pytest.fixture(scope="module")
def tempo(live) -> str:
    return component(live, "tempo")


def _edge_counts(prom, metric: str) -> Counter:
    return Counter({(r["metric"].get("client"), r["metric"].get("server")): float(r["value"][1])
                    for r in prom.query(f"sum by (client, server) ({metric})")})


@pytest.fixture(scope="module")
def replayed(live, tempo, prom, tmp_path_factory) -> Replayed:
    folder = tmp_path_factory.mktemp("tempo-replay")
    salt = uuid.uuid4().hex
    files, ids = {}, {}
    for name, path in FIXTURES.items():
        files[name] = folder / (Path(name).stem + ".jsonl")
        ids.update(with_new_ids(path, files[name], salt))
    names = live["metricNames"]
    # The span metrics' exemplars live in the collector for one flush interval only: a replay
    # made before Prometheus's first scrape of them (right after `invoke up`) keeps its counts
    # but loses its exemplars. Wait for a scrape to have happened.
    wait_for("Prometheus scraping the span metrics", lambda: prom.query('up{job="otel-collector-spanmetrics"} == 1'),
             lambda r: len(r) == 1)
    before = {m: _edge_counts(prom, names[m]) for m in ("serviceGraphRequests", "serviceGraphFailed")}
    start = time.time()
    sent: list[str] = []
    for f in files.values():  # one replay each: each file's timestamps end at its replay's start
        r = invoke("traces.replay", str(f), "--speed", "0", "--keep-ids", "--json")
        assert r.returncode == 0, r.stderr
        sent += json.loads(r.stdout)["trace_ids"]
    assert sorted(sent) == sorted(ids.values())
    rep = Replayed(files, salt, ids, start, time.time())
    rep.before = before  # type: ignore[attr-defined]
    return rep


def _span_count(body: dict) -> int:
    batches = body.get("trace", body).get("resourceSpans") or body.get("batches") or []
    return sum(len(ss.get("spans", [])) for rs in batches for ss in rs.get("scopeSpans", []))


def test_every_replayed_trace_is_in_tempo_with_all_its_spans(tempo, replayed):
    want = {replayed.ids[t]: n for name in FIXTURES for t, n in spans_per_trace(FIXTURES[name]).items()}
    got: dict[str, int] = {}
    for tid in want:
        got[tid] = wait_for(f"trace {tid} in Tempo with {want[tid]} spans",
                            lambda: _span_count(requests.get(f"{tempo}/api/v2/traces/{tid}", timeout=5).json()),
                            lambda n: n == want[tid], deadline_s=60)
    assert got == want


def _search(tempo: str, rep: Replayed, q: str) -> set[str]:
    """Traces matching the TraceQL condition q, within this run's traces (resource smoke.run)."""
    assert q.startswith("{ ") and q.endswith(" }")
    q = f'{q[:-2]} && resource.smoke.run = "{rep.salt}" }}'
    # a replay shifts the recording to end as the replay starts, gaps kept (a fixture spans ~10 s)
    params = {"q": q, "start": int(rep.start) - 60, "end": int(rep.end) + 5, "limit": 5000}
    body = requests.get(f"{tempo}/api/search", params=params, timeout=10).json()
    return {t["traceID"].rjust(32, "0") for t in body.get("traces", [])}


@pytest.mark.parametrize("query, service, key, value", [
    ('{ resource.service.name = "plano(agent)" }', "plano(agent)", None, None),
    ('{ resource.service.name = "plano(llm)" && span.llm.model = "gpt-4o-mini" }', "plano(llm)", "llm.model", "gpt-4o-mini"),
    ('{ span.http.status_code = 429 }', "plano(llm)", "http.status_code", 429),
    ('{ resource.service.name = "plano(orchestrator)" && span.selection.listener = "travel_agents" }',
     "plano(orchestrator)", "selection.listener", "travel_agents"),
])
def test_traceql_finds_exactly_the_replayed_traces(tempo, replayed, query, service, key, value):
    want = replayed.new(set().union(*(traces_where(p, service, key, value) for p in FIXTURES.values())))
    assert want, "the fixture has no such trace: the query would prove nothing"
    wait_for(f"TraceQL {query} to return the {len(want)} replayed traces",
             lambda: _search(tempo, replayed, query), lambda got: got == want, deadline_s=60)


def test_traceql_status_error_finds_exactly_the_failed_llm_calls(tempo, replayed, live):
    """Plano sets no span status; the collector marks upstream failures ERROR (docs/architecture.md)."""
    failed = set()
    for path in FIXTURES.values():
        failed |= traces_where(path, "plano(llm)", "http.status_code", None)  # no status: the call failed
        for status in (500, 502, 503, 504):
            failed |= traces_where(path, "plano(llm)", "http.status_code", status)
    want = replayed.new(failed)
    assert want
    wait_for("TraceQL { status = error } to return the failed calls", lambda: _search(
        tempo, replayed, '{ resource.service.name = "plano(llm)" && status = error }'), lambda got: got == want, deadline_s=60)


def test_the_dashboards_trace_tables_list_exactly_the_slow_and_the_failed_calls(tempo, replayed, live):
    """The LLM Usage dashboard's TraceQL tables, as Grafana sends them (variables at All)."""
    dash = json.loads((generate.rendered() / "dashboards" / "plano-llm-usage.json").read_text())  # what Grafana loads
    tables = grafana.traceql(dash)
    slow_s = promql.seconds(live["dashboards"]["slowCall"])
    slow = replayed.new(set().union(*(traces_longer(p, "plano(llm)", slow_s) for p in FIXTURES.values())))
    failed = set()
    for path in FIXTURES.values():
        failed |= traces_where(path, "plano(llm)", "http.status_code", None)
        for status in (500, 502, 503, 504):
            failed |= traces_where(path, "plano(llm)", "http.status_code", status)
    for title, want in (("Slowest LLM Calls", slow), ("Failed LLM Calls", replayed.new(failed))):
        assert want, f"the fixtures hold no trace for {title}: it would prove nothing"
        wait_for(f"{title} to list the {len(want)} replayed traces", lambda: _search(tempo, replayed, tables[title]),
                 lambda got: got == want, deadline_s=60)


def test_service_graph_has_one_edge_per_call_with_exact_counts(live, prom, replayed):
    rules = live["serviceGraph"]
    want = {"total": Counter(), "failed": Counter()}
    for path in FIXTURES.values():
        for kind, counter in edges(path, rules["clients"], rules["roots"]).items():
            want[kind].update(counter)
    names = {"total": live["metricNames"]["serviceGraphRequests"], "failed": live["metricNames"]["serviceGraphFailed"]}
    before = {"total": replayed.before["serviceGraphRequests"], "failed": replayed.before["serviceGraphFailed"]}
    for kind in ("total", "failed"):
        expected = {e: float(n) for e, n in want[kind].items()}

        def delta() -> dict:
            now = _edge_counts(prom, names[kind])
            return {e: v - before[kind].get(e, 0) for e, v in now.items() if v - before[kind].get(e, 0)}

        wait_for(f"service-graph {kind} edges {expected}", delta, lambda d: d == expected, deadline_s=60)
    # every kind of call is there: user → Plano, Plano → agents, filters and providers
    clients = {c for c, _ in want["total"]}
    assert {"user", "plano(agent)", "plano(filter)", "plano(outbound)"} <= clients, clients


def test_exemplars_on_the_latency_histogram_open_replayed_traces(live, prom, tempo, replayed):
    bucket = live["metricNames"]["durationBucket"]

    def exemplar_ids() -> set[str]:
        # exemplar timestamps are the spans' (shifted to end as the replay started)
        r = requests.get(f"{prom.base}/api/v1/query_exemplars", params={
            "query": f'{bucket}{{service_name="plano(llm)"}}', "start": replayed.start - 60, "end": time.time() + 1}, timeout=10)
        r.raise_for_status()
        return {e["labels"]["trace_id"].rjust(32, "0") for series in r.json()["data"] for e in series["exemplars"]
                if "trace_id" in e["labels"]}

    sent = set(replayed.ids.values())
    ids = wait_for("exemplars carrying replayed trace ids", exemplar_ids, lambda s: bool(s & sent), deadline_s=30)
    # every exemplar in the window (this replay's, and any other traffic's) opens a stored trace
    for tid in ids:
        r = requests.get(f"{tempo}/api/v2/traces/{tid}", timeout=5)
        assert r.status_code == 200 and _span_count(r.json()) > 0, tid


def test_a_trace_whose_spans_arrive_over_three_live_times_comes_back_whole(live, tempo):
    """Tempo writes a trace out at most `tempo.maxTraceLive` after it first arrived
    (docs/reliability.md#tempos-loss-window): a trace still receiving spans is written in parts.
    Its spans are sent one request at a time, through the collector, over three of those times;
    a lookup by id must join every part."""
    import os
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    live_s = promql.seconds(_tempo_live_time(live))
    spread_s, gap_s = 3 * live_s, 1.0
    trace_id, root_id = os.urandom(16), os.urandom(8)
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="plano(agent)"))])
    channel = grpc.insecure_channel(f"127.0.0.1:{live['ports']['otlpGrpc']}")
    export = trace_service_pb2_grpc.TraceServiceStub(channel).Export
    sent, t0 = 0, time.monotonic()
    try:
        while True:
            now = time.time_ns()
            first = sent == 0
            span = Span(trace_id=trace_id, span_id=root_id if first else os.urandom(8), parent_span_id=b"" if first else root_id,
                        name="long session" if first else f"step {sent}", kind=Span.SPAN_KIND_SERVER,
                        start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now)
            export(trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
                ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=[span])])]), timeout=10)
            sent += 1
            if time.monotonic() - t0 >= spread_s:
                break
            time.sleep(gap_s)  # the input itself: spans spread over time, not a wait for a condition
    finally:
        channel.close()
    assert sent >= 3 * live_s  # at least one span a second over three live times
    tid = trace_id.hex()
    wait_for(f"trace {tid} whole in Tempo ({sent} spans sent over {spread_s:.0f}s)",
             lambda: _span_count(requests.get(f"{tempo}/api/v2/traces/{tid}", timeout=5).json()),
             lambda n: n == sent, deadline_s=60)


def _tempo_live_time(live) -> str:
    """max_trace_live of the Tempo this run talks to, from its rendered config."""
    import yaml
    mode = live["mode"]
    return yaml.safe_load((generate.rendered() / mode / "tempo.yaml").read_text())["live_store"]["max_trace_live"]

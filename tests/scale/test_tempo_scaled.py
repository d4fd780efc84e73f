"""Tempo scaled out for real (`nox -s scale`): Tempo's components as separate processes over a
real Apache Kafka hold the same traces, answer the same TraceQL and draw the same service-graph
edges as the single binary, both fed the same spans by one front collector; and a component
SIGKILLed mid-replay loses nothing.

Every expectation is read from the fixtures themselves (tests/fixtures/counts.py), replayed as
salted copies with known trace ids, so each assertion compares exact sets and counts."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from plano_obs.config import settings
from plano_obs.harness.scale.cluster import Cluster
from tests.fixtures.counts import FIXTURES, traces_longer, traces_where
from tests.live.conftest import wait_for
from tests.scale import shared

SLOW_S = 2  # `{ duration > 2s }`


@pytest.fixture(scope="module")
def cluster():
    state = Path(tempfile.mkdtemp(prefix="plano-scale-"))
    c = Cluster(state)
    t0 = time.monotonic()
    c.start()
    print(f"\nscaled-out Tempo ready in {time.monotonic() - t0:.1f}s (per process: {c.timings}); state {state}")
    print(f"memory (RSS MiB) at start: {c.rss_mb()}")
    try:
        yield c
    finally:
        print(f"\nmemory (RSS MiB) at the end: {c.rss_mb()}")
        c.stop()
        shutil.rmtree(state, ignore_errors=True)


@dataclass
class Sent:
    salt: str
    spans: dict[str, int]  # trace id sent -> its span count
    old: dict[str, str]  # original trace id -> id sent (one copy)
    start: float
    end: float


def _replay(cluster: Cluster, file: Path, *extra: str) -> subprocess.Popen:
    return shared.replay(cluster.otlp_endpoint, file, *extra)


@pytest.fixture(scope="module")
def sent(cluster, tmp_path_factory) -> Sent:
    salt, folder = uuid.uuid4().hex[:12], tmp_path_factory.mktemp("scale-replay")
    spans: dict[str, int] = {}
    old: dict[str, str] = {}
    start = time.time()
    for fixture in FIXTURES:  # one replay each: each file's timestamps end at its replay's start
        file, file_spans, file_old = shared.salted(folder, salt, fixture)
        proc = _replay(cluster, file)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert sorted(json.loads(out)["trace_ids"]) == sorted(file_spans)
        spans.update(file_spans)
        old.update(file_old)
    return Sent(salt, spans, old, start, time.time())


def _search(base: str, salt: str, start: float, end: float, q: str) -> set[str]:
    assert q.startswith("{ ") and q.endswith(" }")
    q = f'{q[:-2]} && resource.smoke.run =~ "{salt}.*" }}'
    params = {"q": q, "start": int(start) - 60, "end": int(end) + 5, "limit": 5000}
    r = requests.get(f"{base}/api/search", params=params, timeout=20)
    r.raise_for_status()
    return {t["traceID"].rjust(32, "0") for t in r.json().get("traces", [])}


def _failed() -> set[str]:
    out = set()
    for path in FIXTURES.values():
        out |= traces_where(path, "plano(llm)", "http.status_code", None)
        for status in (500, 502, 503, 504):
            out |= traces_where(path, "plano(llm)", "http.status_code", status)
    return out


def _slow() -> set[str]:
    services = set(settings.load("native")["planoServices"].values())
    return set().union(*(traces_longer(p, s, SLOW_S) for p in FIXTURES.values() for s in services))


QUERIES = {
    '{ resource.service.name = "plano(llm)" && status = error }': _failed,
    '{ duration > %ds }' % SLOW_S: _slow,
    '{ span.http.status_code = 429 }': lambda: set().union(*(traces_where(p, "plano(llm)", "http.status_code", 429)
                                                             for p in FIXTURES.values())),
    '{ resource.service.name = "plano(agent)" }': lambda: set().union(*(traces_where(p, "plano(agent)")
                                                                        for p in FIXTURES.values())),
}


def test_every_trace_is_in_both_tempos_with_all_its_spans(cluster, sent):
    for base in (cluster.query_url, cluster.single_url):
        shared.wait_whole(base, sent.spans, f"all {len(sent.spans)} traces with their spans", deadline_s=90)


@pytest.mark.parametrize("query", list(QUERIES))
def test_traceql_returns_the_same_traces_from_both(cluster, sent, query):
    want = {sent.old[t] for t in QUERIES[query]()}
    assert want, f"the fixtures hold no trace for {query}: it would prove nothing"
    for base in (cluster.query_url, cluster.single_url):
        wait_for(f"{query} at {base} to return the {len(want)} replayed traces",
                 lambda: _search(base, sent.salt, sent.start, sent.end, query), lambda got: got == want, deadline_s=90, interval=1)


def _edges(cluster: Cluster, metric: str, source: str) -> Counter:
    return shared.drawn_edges(cluster.prometheus_url, metric, source)


_expected_edges = shared.expected_edges


def _edge_delta(cluster: Cluster, before: dict, kind: str, source: str) -> dict:
    now = _edges(cluster, cluster.settings["metricNames"][kind], source)
    return {e: v - before[kind][source].get(e, 0) for e, v in now.items() if v - before[kind][source].get(e, 0)}


def _edges_now(cluster: Cluster) -> dict:
    sources = cluster.settings["sources"].values()
    return {kind: {s: _edges(cluster, cluster.settings["metricNames"][kind], s) for s in sources}
            for kind in ("requests", "failed")}


def _wait_edges(cluster: Cluster, before: dict, want: dict[str, dict], why: str) -> None:
    """Waits until each Tempo's service-graph edges grew by exactly `want` since `before`."""
    for source in cluster.settings["sources"].values():
        for kind, key in (("requests", "total"), ("failed", "failed")):
            wait_for(f"{source} {kind} edges {want[key]} {why}", lambda: _edge_delta(cluster, before, kind, source),
                     lambda got: got == want[key], deadline_s=90, interval=1)


@pytest.fixture(scope="module")
def settled(cluster, sent) -> None:
    """The module's first replay fully counted in both service graphs: a later test's "before"
    reading must not be taken while those edges are still arriving."""
    empty = {kind: {s: Counter() for s in cluster.settings["sources"].values()} for kind in ("requests", "failed")}
    _wait_edges(cluster, empty, _expected_edges(1), "from the fixtures")


def test_service_graph_edges_and_counts_are_the_same_from_both(cluster, sent, settled):
    want = _expected_edges(1)
    assert {c for c, _ in want["total"]} >= {"user", "plano(agent)", "plano(filter)", "plano(outbound)"}
    empty = {kind: {s: Counter() for s in cluster.settings["sources"].values()} for kind in ("requests", "failed")}
    assert _edges_now(cluster) == {k: {s: Counter(want["total" if k == "requests" else "failed"])
                                       for s in cluster.settings["sources"].values()} for k in empty}


def _collector_counters(cluster: Cluster) -> dict[str, float]:
    """The front collector's own span counters, per exporter (and the receiver's)."""
    return shared.collector_counters(cluster.collector_metrics_url)


KILL_FIXTURE = "plano-mixed.jsonl"
KILL_COPIES = 8  # salted copies of it in one replay: 8 × 231 spans
KILL_RATE = 300  # spans/s: the replay lasts ~6 s, the kill lands a third of the way in


@pytest.mark.parametrize("component", ["live-store-0", "distributor"])
def test_a_component_sigkilled_mid_replay_loses_nothing(cluster, settled, tmp_path, component):
    """Replays KILL_COPIES copies of a fixture at KILL_RATE spans/s through the front
    collector, SIGKILLs one Tempo component a third of the way in (supervisord restarts it, as
    an orchestrator would), and then expects every trace whole in both Tempos and every
    service-graph edge counted exactly KILL_COPIES times per fixture call, in both."""
    assert component in cluster.tempo_components()
    salt = uuid.uuid4().hex[:12]
    file, spans, _ = shared.salted(tmp_path, salt, KILL_FIXTURE, KILL_COPIES)
    total = sum(spans.values())
    before, counters0 = _edges_now(cluster), _collector_counters(cluster)
    log_lines = len((cluster.sup.logs / "collector.log").read_text(errors="replace").splitlines())
    accepted = "otelcol_receiver_accepted_spans"
    proc = _replay(cluster, file, "--rate", str(KILL_RATE))
    try:
        wait_for(f"a third of the {total} spans accepted by the front collector",
                 lambda: _collector_counters(cluster)[accepted] - counters0[accepted],
                 lambda n: n >= total / 3, deadline_s=60, interval=0.1)
        recovered_s = cluster.kill(component)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert sorted(json.loads(out)["trace_ids"]) == sorted(spans)
    for base in (cluster.query_url, cluster.single_url):
        got = shared.wait_whole(base, spans, f"all {len(spans)} traces whole after killing {component}")
        assert sum(got.values()) == total
    counters = {k: v - counters0.get(k, 0) for k, v in _collector_counters(cluster).items()}
    log = (cluster.sup.logs / "collector.log").read_text(errors="replace").splitlines()[log_lines:]
    retries = sum(1 for line in log if "otlp_grpc/scaled" in line and "Will retry" in line)
    print(f"\n{component}: SIGKILL, ready again after {recovered_s}s; every trace whole; front collector: {counters}, "
          f"{retries} export(s) to the scaled Tempo retried")
    _wait_edges(cluster, before, _expected_edges(KILL_COPIES, (KILL_FIXTURE,)), f"×{KILL_COPIES} after killing {component}")

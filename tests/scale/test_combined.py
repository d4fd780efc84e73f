"""The combined scale-out run (`nox -s scale`, docs/scale-out.md#combined): an agent, Envoy's
per-request balancing and three gateways in front of Tempo scaled out over a real Apache Kafka,
with the gateways' span metrics scraped and remote-written. The fixtures replayed through the
agent come out exactly as the single-node stack gives them: every trace whole, every span
counted once across the gateways, the same service-graph edges; and a gateway and a Tempo
component SIGKILLed together mid-replay lose no trace.

The run reuses both topologies' processes and ports (gateway tier 32xxx, scaled Tempo 31xxx);
only the gateways' config differs (generated/native/gateway-tier/combined/)."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from plano_obs.harness import chaos
from plano_obs.harness.scale import gateways
from plano_obs.harness.scale.cluster import Cluster
from tests.fixtures.counts import FIXTURES, counts
from tests.live.conftest import Prometheus, delta, wait_for
from tests.scale import shared

COPIES = 4  # salted copies of each fixture: enough agent requests that every gateway gets some


@dataclass
class Combined:
    cluster: Cluster
    tier: gateways.Tier
    scale: dict  # tier.json

    @property
    def agent(self) -> str:
        return f"127.0.0.1:{self.scale['ports']['agentOtlpGrpc']}"

    def prom(self, key: str) -> Prometheus:
        return Prometheus(f"http://127.0.0.1:{self.scale['ports'][key]}")

    def telemetry(self, port_key: str, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.scale['ports'][port_key] + i}/metrics"


@pytest.fixture(scope="module")
def combined(tmp_path_factory):
    state = Path(tempfile.mkdtemp(prefix="plano-combined-"))
    cluster = Cluster(state, comparison=False)  # the gateways feed it; no front collector, no single binary
    t0 = time.monotonic()
    cluster.start()
    try:
        tier = gateways.up(tmp_path_factory.mktemp("combined-tier"), combined=True)
    except BaseException:
        cluster.stop()
        shutil.rmtree(state, ignore_errors=True)
        raise
    print(f"\ncombined run ready in {time.monotonic() - t0:.1f}s (Tempo over Kafka per process: {cluster.timings}); state {state}")
    try:
        yield Combined(cluster, tier, gateways.info())
    finally:
        print(f"\nmemory (RSS MiB) of the scaled Tempo and Kafka at the end: {cluster.rss_mb()}")
        tier.stop()
        cluster.stop()
        shutil.rmtree(state, ignore_errors=True)


def _calls(run: Combined, names: dict) -> dict[str, Counter]:
    """The span-metrics calls counters now: per service (scraped and remote-written), per
    scraped gateway (`instance`) and per remote-written gateway (its label)."""
    calls, label = names["calls"], run.scale["gatewayLabel"]
    scraped, remote = run.prom("prometheus"), run.prom("remotePrometheus")
    return {"scraped": scraped.by(f"sum by (service_name) ({calls})", ("service_name",)),
            "remote": remote.by(f"sum by (service_name) ({calls})", ("service_name",)),
            "instances": scraped.by(f"sum by (instance) ({calls})", ("instance",)),
            "gateways": remote.by(f"sum by ({label}) ({calls})", (label,))}


def _edges(run: Combined) -> dict[str, Counter]:
    s = run.cluster.settings
    return {key: shared.drawn_edges(run.cluster.prometheus_url, s["metricNames"][kind], s["sources"]["scaled"])
            for key, kind in (("total", "requests"), ("failed", "failed"))}


@dataclass
class Sent:
    spans: dict[str, int]  # trace id sent -> its span count
    calls: dict[str, Counter]  # span-metrics readings before the replay
    edges: dict[str, Counter]  # service-graph readings before the replay


@pytest.fixture(scope="module")
def sent(combined, names, tmp_path_factory) -> Sent:
    """COPIES salted copies of each fixture, one replay per fixture, through the agent."""
    salt, folder = uuid.uuid4().hex[:12], tmp_path_factory.mktemp("combined-replay")
    before = Sent({}, _calls(combined, names), _edges(combined))
    for fixture in FIXTURES:
        file, spans, _ = shared.salted(folder, salt, fixture, COPIES)
        proc = shared.replay(combined.agent, file)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        result = json.loads(out)
        assert sorted(result["trace_ids"]) == sorted(spans)
        assert (result["spans"], result["rejected_spans"]) == (sum(spans.values()), 0)
        before.spans.update(spans)
    return before


def test_every_trace_is_whole_in_the_scaled_tempo(combined, sent):
    want = sum(counts(p)["traces"]["traces"] for p in FIXTURES.values()) * COPIES
    assert len(sent.spans) == want
    shared.wait_whole(combined.cluster.query_url, sent.spans,
                      f"all {len(sent.spans)} traces ({sum(sent.spans.values())} spans) whole at the query-frontend")


def test_every_span_is_counted_once_across_the_gateways_scraped_and_remote_written(combined, sent, names):
    want = Counter()
    for path in FIXTURES.values():
        want.update(counts(path)["service"])
    want = {(s,): float(n * COPIES) for s, n in want.items()}
    total = sum(want.values())
    assert total == sum(sent.spans.values())
    for key in ("scraped", "remote"):
        wait_for(f"{key} span metrics per service to grow by {want}", lambda: dict(delta(_calls(combined, names)[key], sent.calls[key])),
                 lambda got: got == want, deadline_s=90, interval=1)
    now = _calls(combined, names)
    spread = delta(now["instances"], sent.calls["instances"])
    labelled = delta(now["gateways"], sent.calls["gateways"])
    print(f"\nspans counted per gateway: scraped {dict(spread)}, remote-written {dict(labelled)}")
    # every gateway took part, and the sum over them is the whole replay
    assert len(spread) == combined.scale["gateways"] and all(v > 0 for v in spread.values()) and sum(spread.values()) == total, spread
    assert set(labelled) == {(g,) for g in combined.scale["gatewayIds"]} and all(v > 0 for v in labelled.values()), labelled
    assert sum(labelled.values()) == total, labelled


def _edges_grown(run: Combined, before: dict[str, Counter]) -> dict[str, dict]:
    now = _edges(run)
    return {k: dict(delta(now[k], before[k])) for k in now}


@pytest.fixture(scope="module")
def settled(combined, sent) -> dict[str, dict]:
    """The first replay fully drawn in the service graph: what the single-node stack's Tempo
    draws for the same fixtures (read from them), and nothing more."""
    want = shared.expected_edges(COPIES)
    return wait_for(f"the scaled Tempo's service-graph edges to grow by the fixtures' ×{COPIES}",
                    lambda: _edges_grown(combined, sent.edges), lambda got: got == want, deadline_s=120, interval=1)


def test_service_graph_edges_are_the_single_node_stack_s(combined, sent, settled):
    want = shared.expected_edges(COPIES)
    assert {c for c, _ in want["total"]} >= {"user", "plano(agent)", "plano(filter)", "plano(outbound)"}
    assert settled == want


def _accepted(run: Combined, i: int) -> float:
    """Spans gateway i's receiver acknowledged, from its own telemetry (exact now)."""
    return shared.collector_counters(run.telemetry("gatewayTelemetry", i))["otelcol_receiver_accepted_spans"]


def _span_ids(run: Combined, spans: dict[str, int]) -> dict[str, Counter]:
    return {t: shared.span_ids(run.cluster.query_url, t) for t in spans}


def _counted_since(run: Combined, prom: str, label: str, calls: str, t0: float) -> dict[str, float]:
    """How much each gateway's span-metrics calls counters grew since t0 in one Prometheus,
    keyed by gateway id (from `instance` when scraped), from the raw samples (chaos.growth: a
    restarted gateway's counters start again from zero)."""
    now = time.time()
    rows = run.prom(prom).query(f"{calls}[{int(now - t0) + 30}s]", at=now)
    ids = {f"127.0.0.1:{run.scale['ports']['gatewayMetrics'] + i}": g for i, g in enumerate(run.scale["gatewayIds"])}
    out: Counter = Counter()
    for series in rows:
        gateway = ids.get(series["metric"].get(label), series["metric"].get(label))
        out[gateway] += chaos.growth([(float(t), float(v)) for t, v in series["values"]], t0)
    return dict(out)


KILL_FIXTURE = "plano-mixed.jsonl"
KILL_COPIES = 8  # salted copies in one replay: 8 × 231 spans
KILL_RATE = 300  # spans/s: the replay lasts ~6 s; the kills land a third of the way in
VICTIM = 1  # the gateway killed


@pytest.mark.parametrize("component", ["distributor", "live-store-0"])
def test_a_gateway_and_a_tempo_component_sigkilled_mid_replay_lose_nothing(combined, names, settled, tmp_path, component):
    """Replays KILL_COPIES copies of a fixture at KILL_RATE spans/s through the agent; a third
    of the way in, SIGKILLs gateway VICTIM and one scaled Tempo component together. Tempo's
    supervisord restarts its component, the gateway is started again (its disk queue still
    holding what it had acknowledged). Asserts the agent accepted every span sent, every trace
    is whole in the scaled Tempo (each span id there: none lost), the surviving gateways
    counted in their span metrics exactly what they accepted, and every edge is drawn exactly.
    Prints sent, accepted, in Tempo (and how many came twice: delivery is at-least-once), and
    the span metrics' count (the killed gateway's unflushed counts die with it)."""
    run, victim = combined, combined.scale["gatewayIds"][VICTIM]
    n_gateways, survivors = combined.scale["gateways"], [i for i in range(combined.scale["gateways"]) if i != VICTIM]
    assert component in run.cluster.tempo_components()
    salt = uuid.uuid4().hex[:12]
    file, spans, _ = shared.salted(tmp_path, salt, KILL_FIXTURE, KILL_COPIES)
    total = sum(spans.values())
    edges0, agent0 = _edges(run), shared.collector_counters(run.telemetry("agentTelemetry"))
    accepted_key = "otelcol_receiver_accepted_spans"
    gw0 = [_accepted(run, i) for i in range(n_gateways)]
    t0 = time.time()
    proc = shared.replay(run.agent, file, "--rate", str(KILL_RATE), "--retry-for", "120")
    try:
        _, victim_before_kill = wait_for(
            f"a third of the {total} spans accepted by the agent, some by {victim}",
            lambda: (shared.collector_counters(run.telemetry("agentTelemetry"))[accepted_key] - agent0[accepted_key],
                     _accepted(run, VICTIM) - gw0[VICTIM]),
            lambda n: n[0] >= total / 3 and n[1] > 0, deadline_s=60, interval=0.1)
        k0 = time.monotonic()
        run.tier.kill(victim)  # SIGKILL
        tempo_back_s = run.cluster.kill(component)  # SIGKILL; supervisord restarts it
        run.tier.start(victim)
        gateway_back_s = round(time.monotonic() - k0, 1)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert sorted(result["trace_ids"]) == sorted(spans)
    accepted = result["accepted_spans"]
    # a span is lost when its id is missing from its trace; one returned twice was delivered twice
    chaos.settled(lambda: sum(len(ids) for ids in _span_ids(run, spans).values()), total, quiet_s=20, deadline_s=180)
    got = _span_ids(run, spans)
    stored, distinct = sum(sum(ids.values()) for ids in got.values()), sum(len(ids) for ids in got.values())
    # span metrics: every span a surviving gateway accepted is counted, scraped and remote-written;
    # what the killed one had counted but not yet flushed died with it (measured, printed)
    took = {run.scale["gatewayIds"][i]: _accepted(run, i) - gw0[i] for i in survivors}
    counted = {}
    for key, label in (("prometheus", "instance"), ("remotePrometheus", run.scale["gatewayLabel"])):
        per = chaos.settled(lambda: _counted_since(run, key, label, names["calls"], t0), None, quiet_s=8, deadline_s=60)
        counted[key] = per
    scraped, pushed = (round(sum(counted[k].values())) for k in ("prometheus", "remotePrometheus"))
    want = shared.expected_edges(KILL_COPIES, (KILL_FIXTURE,))
    drawn = chaos.settled(lambda: _edges_grown(run, edges0), want, quiet_s=15, deadline_s=120)
    agent = {k: v - agent0.get(k, 0) for k, v in shared.collector_counters(run.telemetry("agentTelemetry")).items()}
    print(f"\n{victim} and {component} SIGKILLed mid-replay ({component} ready again after {tempo_back_s}s, {victim} after "
          f"{gateway_back_s}s): {total} spans sent, {accepted} accepted by the agent, {distinct} distinct in the scaled Tempo "
          f"({total - distinct} lost; {stored - distinct} returned twice); span metrics: {scraped} counted scraped, {pushed} remote-written "
          f"({total - scraped} / {total - pushed} uncounted; {victim} had accepted ≥{victim_before_kill:.0f} before the kill, "
          f"the others {sum(took.values()):.0f}, all counted: scraped {counted['prometheus']}, remote {counted['remotePrometheus']}); "
          f"agent: {dict(agent)}; service-graph edges {'exact' if drawn == want else f'{drawn} (want {want})'}")
    assert accepted == total
    for key, per in counted.items():
        assert {g: per.get(g, 0.0) for g in took} == took, (key, per, took)
    whole = {t: len(ids) for t, ids in got.items()}
    assert whole == spans, {t: (n, spans[t]) for t, n in whole.items() if n != spans[t]}  # no span lost
    assert drawn == want

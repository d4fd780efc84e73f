"""Replaying the fixtures into the real collector: every span is accepted and counted exactly."""
import json

from tests.fixtures.counts import FIXTURES, counts
from tests.live.conftest import collector_counter, invoke, wait_for


def _by(prom, expr: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, "none"): float(r["value"][1]) for r in prom.query(expr)}


def test_replay_counts_exactly_per_service_model_status_agent_and_listener(live, prom, settled):
    calls = live["metricNames"]["calls"]
    queries = {
        "service": (f"sum by (service_name) ({calls})", "service_name"),
        "agent": (f'sum by (agent_id) ({calls}{{service_name="plano(agent)"}})', "agent_id"),
        "listener": (f'sum by (selection_listener) ({calls}{{service_name="plano(orchestrator)"}})', "selection_listener"),
        "status": (f'sum by (http_status_code) ({calls}{{service_name="plano(llm)"}})', "http_status_code"),
        "model": (f'sum by (llm_model) ({calls}{{service_name="plano(llm)"}})', "llm_model"),
    }
    before = {k: _by(prom, q, label) for k, (q, label) in queries.items()}
    accepted_before = collector_counter(live, "collectorAccepted")
    refused_before = collector_counter(live, "collectorRefused")

    r = invoke("traces.replay", f"{FIXTURES['plano-mixed.jsonl']}", "--speed", "0", "--json")
    assert r.returncode == 0, r.stderr
    sent = json.loads(r.stdout)
    r = invoke("traces.replay", f"{FIXTURES['plano-direct.json']}", "--speed", "0", "--protocol", "http", "--json")
    assert r.returncode == 0, r.stderr
    sent_http = json.loads(r.stdout)
    n_mixed, n_direct = (counts(FIXTURES[f])["spans"]["spans"] for f in ("plano-mixed.jsonl", "plano-direct.json"))
    assert (sent["spans"], sent["rejected_spans"], sent_http["spans"], sent_http["rejected_spans"]) == (n_mixed, 0, n_direct, 0)

    expected = {k: counts(FIXTURES["plano-mixed.jsonl"])[k] + counts(FIXTURES["plano-direct.json"])[k] for k in queries}

    def delta(kind):
        q, label = queries[kind]
        now = _by(prom, q, label)
        return {k: v - before[kind].get(k, 0) for k, v in now.items() if v - before[kind].get(k, 0)}

    for kind in queries:
        want = {k: float(v) for k, v in expected[kind].items()}
        wait_for(f"{kind} counts to grow by {want}", lambda: delta(kind), lambda d: d == want)
    # the collector's own books: every span accepted, none refused
    assert collector_counter(live, "collectorAccepted") - accepted_before == n_mixed + n_direct
    assert collector_counter(live, "collectorRefused") - refused_before == 0


def test_record_captures_exactly_what_arrived_and_replays(live, prom, tmp_path):
    import signal
    import subprocess
    import sys
    from plano_obs.config import paths
    from tests import traceplan
    out = tmp_path / "recorded.jsonl"
    # A window far longer than the replay, stopped with Ctrl-C (SIGINT) once the collector has
    # accepted every span: no guess at how long the replay takes on a busy machine.
    accepted_before = collector_counter(live, "collectorAccepted")
    rec = subprocess.Popen([sys.executable, "-m", "invoke", "traces.record", "--out", str(out), "--duration", "600"],
                           cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # send while recording: wait until the recorder has taken its starting point
    wait_for("recorder started", lambda: rec.stdout.readline(), lambda line: "recording traces" in line)
    r = invoke("traces.replay", str(FIXTURES["plano-mixed.jsonl"]), "--speed", "0")
    assert r.returncode == 0, r.stderr
    n = counts(FIXTURES["plano-mixed.jsonl"])["spans"]["spans"]
    wait_for(f"the collector to accept the {n} spans", lambda: collector_counter(live, "collectorAccepted") - accepted_before,
             lambda d: d == n)
    rec.send_signal(signal.SIGINT)
    stdout, stderr = rec.communicate(timeout=60)
    assert rec.returncode == 0, stderr
    assert "stopped after" in stdout, stdout
    assert "recorded" in stdout and f"{n} spans" in stdout, stdout
    records = traceplan.load(out)
    assert sum(len(ss.spans) for x in records for rs in x.request.resource_spans for ss in rs.scope_spans) == n
    r = invoke("traces.replay", str(out), "--speed", "0", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["spans"] == n

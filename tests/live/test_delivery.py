"""Nothing acknowledged is lost: spans the collector accepted while Tempo was down reach Tempo
when it is back — also when the collector itself was killed in between (the queue is on disk).
Runs last: it stops and kills components of the shared stack (native mode)."""
from __future__ import annotations

import os
import signal
import uuid

import pytest
import requests

from plano_obs.runtime import supervisor
from tests.fixtures.counts import FIXTURES, spans_per_trace, with_new_ids
from tests.live.conftest import MODE, REUSE, collector_counter, component, invoke, wait_for
from tests.live.test_tempo import _span_count

pytestmark = pytest.mark.skipif(MODE != "native" or REUSE, reason="stops components: needs a native stack this suite owns")


def _replay_while_tempo_is_down(live, tmp_path, name: str) -> tuple[str, dict[str, int]]:
    tempo = component(live, "tempo")
    copy = tmp_path / f"{name}.jsonl"
    ids = with_new_ids(FIXTURES["plano-brightstaff.jsonl"], copy, uuid.uuid4().hex)
    want = {ids[t]: n for t, n in spans_per_trace(FIXTURES["plano-brightstaff.jsonl"]).items()}
    supervisor.Supervisor().rpc().stopProcess("tempo")
    accepted = collector_counter(live, "collectorAccepted")
    r = invoke("traces.replay", str(copy), "--speed", "0", "--keep-ids")
    assert r.returncode == 0, r.stderr  # accepted although Tempo is down
    assert collector_counter(live, "collectorAccepted") - accepted == sum(want.values())
    return tempo, want


def _stored(tempo: str, want: dict[str, int]) -> dict[str, int]:
    out = {}
    for tid in want:
        r = requests.get(f"{tempo}/api/v2/traces/{tid}", timeout=5)
        out[tid] = _span_count(r.json()) if r.ok else 0
    return out


def test_spans_accepted_during_a_tempo_outage_reach_tempo_after_it(live, tmp_path):
    tempo, want = _replay_while_tempo_is_down(live, tmp_path, "outage")
    supervisor.Supervisor().rpc().startProcess("tempo")
    wait_for("every span accepted during the outage in Tempo", lambda: _stored(tempo, want), lambda got: got == want, deadline_s=90)


def test_the_queue_survives_a_collector_kill(live, tmp_path):
    tempo, want = _replay_while_tempo_is_down(live, tmp_path, "kill")
    sup = supervisor.Supervisor()
    pid = sup.processes()["collector"]["pid"]
    os.kill(pid, signal.SIGKILL)  # supervisord restarts it (an unexpected exit)
    wait_for("the collector restarted", lambda: sup.processes()["collector"],
             lambda p: p["statename"] == "RUNNING" and p["pid"] not in (0, pid), deadline_s=30)
    sup.rpc().startProcess("tempo")
    wait_for("every span accepted before the kill in Tempo", lambda: _stored(tempo, want), lambda got: got == want, deadline_s=90)


def _sent_to_tempo(live) -> float:
    """Spans the collector's Tempo exporter has had acknowledged (not its file exporters')."""
    text = requests.get(f"http://127.0.0.1:{live['ports']['collectorTelemetry']}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(("otelcol_exporter_sent_spans{", "otelcol_exporter_sent_spans_total{"))
               and 'exporter="otlp_grpc/tempo"' in line)


def _guard_counter(live, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{live['ports']['tempoGuard']}/metrics", timeout=5).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(f"plano_tempo_guard_{name}_total "))


def test_a_tempo_sigkill_right_after_it_acknowledged_loses_nothing(live, tmp_path):
    """Tempo acknowledges spans it holds only in memory (the loss window); a SIGKILL just after
    it acknowledged a replay loses those it had not written yet. The Tempo guard re-sends them
    from the collector's copy once Tempo is back (docs/reliability.md#the-tempo-guard)."""
    tempo = component(live, "tempo")
    component(live, "tempoGuard")
    log = supervisor.Supervisor().state / "logs" / "tempoGuard.log"
    lines_before = len(log.read_text().splitlines())
    restarts, resent = _guard_counter(live, "restarts"), _guard_counter(live, "resent_spans")
    copy = tmp_path / "sigkill.jsonl"
    ids = with_new_ids(FIXTURES["plano-mixed.jsonl"], copy, uuid.uuid4().hex)
    want = {ids[t]: n for t, n in spans_per_trace(FIXTURES["plano-mixed.jsonl"]).items()}
    sent0 = _sent_to_tempo(live)
    r = invoke("traces.replay", str(copy), "--speed", "0", "--keep-ids")
    assert r.returncode == 0, r.stderr
    # the moment Tempo has acknowledged every span: the collector's sent counter says so
    wait_for("Tempo to acknowledge the replay", lambda: _sent_to_tempo(live) - sent0,
             lambda n: n >= sum(want.values()), deadline_s=30, interval=0.05)
    sup = supervisor.Supervisor()
    pid = sup.processes()["tempo"]["pid"]
    os.kill(pid, signal.SIGKILL)  # supervisord restarts it
    wait_for("every acknowledged span in Tempo after the SIGKILL", lambda: _stored(tempo, want), lambda got: got == want,
             deadline_s=120, interval=1)
    said = wait_for("the guard's line about the restart", lambda: log.read_text().splitlines()[lines_before:],
                    lambda new: any(line.startswith("tempo-guard: Tempo restarted") for line in new), deadline_s=30)
    assert _guard_counter(live, "restarts") == restarts + 1
    print(f"\n{[line for line in said if line.startswith('tempo-guard:')][-1]}; "
          f"re-sent now: {_guard_counter(live, 'resent_spans') - resent:.0f} of {sum(want.values())} spans")

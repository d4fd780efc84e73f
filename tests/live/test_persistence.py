"""Traces outlive the stack: replayed before `invoke down && invoke up`, retrievable after
(native mode keeps Tempo's data in the state folder). Runs last: it restarts the shared stack."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.fixtures.counts import FIXTURES, spans_per_trace, with_new_ids
from tests.live.conftest import MODE, REUSE, component, invoke, wait_for
from tests.live.test_tempo import _span_count

pytestmark = pytest.mark.skipif(MODE != "native" or REUSE, reason="restarts the stack: needs a native stack this suite owns")


def test_traces_replayed_before_down_and_up_are_retrievable_after(live, tmp_path):
    tempo = component(live, "tempo")
    copy = tmp_path / "direct.jsonl"
    ids = with_new_ids(FIXTURES["plano-direct.json"], copy, uuid.uuid4().hex)
    want = {ids[t]: n for t, n in spans_per_trace(FIXTURES["plano-direct.json"]).items()}
    r = invoke("traces.replay", str(copy), "--speed", "0", "--keep-ids")
    assert r.returncode == 0, r.stderr

    def stored() -> dict[str, int]:
        return {tid: _span_count(requests.get(f"{tempo}/api/v2/traces/{tid}", timeout=5).json()) for tid in want}

    wait_for("the replayed traces in Tempo", stored, lambda got: got == want, deadline_s=60)
    r = invoke("down", "--mode", "native")
    assert r.returncode == 0, r.stderr
    r = invoke("up", "--mode", "native")
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    wait_for("the same traces after down and up", stored, lambda got: got == want, deadline_s=60)

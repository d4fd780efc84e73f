"""What `invoke up` and `invoke status` say: only what runs is advertised, and each missing
component gets one line with what is lost, why, and how to add it."""
from __future__ import annotations

from plano_obs.config import settings
from plano_obs.runtime import report

INFO = settings.load("native")
EVERYTHING = list(INFO["startOrder"])


def test_a_full_stack_ends_in_one_short_block_without_a_not_running_part():
    text = report.block(INFO, EVERYTHING, {}, "native", "stack ready in 3.0s (native mode):")
    lines = text.splitlines()
    assert lines[0] == "stack ready in 3.0s (native mode):"
    assert "not running:" not in text
    # one line per component a user opens; the mocks that serve the dev Envoy and dev Plano are folded in
    assert len(lines) == 1 + len(EVERYTHING) - len(report.FOLDED)
    ports = INFO["ports"]
    assert "  Grafana " in text and f"http://127.0.0.1:{ports['grafana']}" in text and "password in .secrets/grafana.env" in text
    assert f"Prometheus      http://127.0.0.1:{ports['prometheus']}" in text


def test_a_missing_component_is_never_advertised_and_says_what_is_lost_and_how_to_add_it():
    running = [c for c in EVERYTHING if c not in ("tempo", "grafana", "brightstaff", "mockAgents")]
    missing = {"tempo": "no tempo binary", "grafana": "no grafana binary", "brightstaff": "no brightstaff binary",
               "mockAgents": "no brightstaff binary"}
    text = report.block(INFO, running, missing, "native", "stack ready in 1.0s (native mode):")
    head, tail = text.split("not running:\n")
    assert f":{INFO['ports']['grafana']}" not in head and f":{INFO['ports']['tempo']}" not in head  # not offered
    lines = tail.splitlines()
    assert len(lines) == 3  # the mock agents are folded into the dev Plano's line
    tempo, grafana, plano = lines
    assert tempo.startswith("  no traces: Tempo is not running (no tempo binary) — add it: ")
    assert f"PLANO_TEMPO_BIN=<Tempo {INFO['versions']['tempo']}>" in tempo and "invoke stack.install --binary tempo=FILE" in tempo
    assert grafana.startswith("  no dashboards in a browser: Grafana is not running (no grafana binary)")
    assert "invoke dashboards.check" in grafana and "PLANO_GRAFANA_BIN" in grafana
    assert plano.startswith("  no real Plano traffic (`invoke traffic`): dev Plano is not running")


def test_a_stopped_component_is_started_with_invoke_up():
    text = report.block(INFO, ["collector"], {"prometheus": report.STOPPED}, "native", "running:")
    assert text.splitlines()[-1] == "  no metrics: Prometheus is stopped — start it: `invoke up`"


def test_compose_gives_the_compose_remedy():
    text = report.block(INFO, ["collector", "prometheus", "tempo"], {"grafana": "cannot be pulled"},
                        "compose", "stack ready:")
    assert f"pull grafana/grafana:{INFO['versions']['grafana']} where a registry answers" in text

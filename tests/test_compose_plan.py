"""What `invoke up --mode compose` starts (runtime/compose.plan): every component that is a
Compose service, and none of those that are not (the dev Plano, the dev Envoy without
--dev-envoy, what only native mode runs)."""
from plano_obs.config import settings
from plano_obs.runtime import compose


def test_compose_starts_its_services_and_nothing_that_runs_only_natively(monkeypatch):
    monkeypatch.setattr(compose, "_pull_error", lambda tag: None)  # every image at hand
    stack = settings.load("compose")
    start, skipped = compose.plan(stack, local_images=False)
    assert set(start) == {"collector", "tempo", "prometheus", "grafana"}
    assert skipped == {}
    assert {"tempoGuard", "mockAgents", "brightstaff", "envoy", "mockLlm"} <= set(compose.host_side(stack))
    start, _ = compose.plan(stack, local_images=False, dev_envoy=True)
    assert set(start) == {"collector", "tempo", "prometheus", "grafana", "envoy", "mockLlm"}

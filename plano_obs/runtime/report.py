"""What `invoke up` and `invoke status` tell the user: what runs (each with where to open it),
and for each component that does not run, what is missing, what the user loses without it and
the one command or variable that adds it. Nothing here is advertised unless it answers."""
from __future__ import annotations

from dataclasses import dataclass

from plano_obs.runtime import health


@dataclass(frozen=True)
class Role:
    title: str
    loss: str  # what the user cannot have while it is not running, first
    native_fix: str  # how to add it in native mode
    compose_fix: str  # … in Compose mode


STOPPED = "stopped"  # a reason: the component could run, it just is not running now

ROLES: dict[str, Role] = {
    "collector": Role("OTel Collector", "no traces or span metrics", "`invoke stack.install` builds it (Go 1.24+)",
                      "`invoke logs -s collector` says why"),
    "prometheus": Role("Prometheus", "no metrics", "`invoke stack.install` builds it (Go 1.24+, Node.js 18+ for its UI)",
                       "`invoke images.build`, then `invoke up --mode compose --local-images`"),
    "tempo": Role("Tempo", "no traces", "`invoke stack.install --binary tempo=FILE`, or PLANO_TEMPO_BIN=<Tempo {version}>",
                  "`invoke stack.install --binary tempo=FILE`, then `invoke images.build`"),
    "grafana": Role("Grafana", "no dashboards in a browser",
                    "PLANO_GRAFANA_BIN=<Grafana {version}>, or `invoke stack.install --binary grafana=FILE`; "
                    "meanwhile `invoke dashboards.check` runs every panel's queries",
                    "pull grafana/grafana:{version} where a registry answers; meanwhile `invoke dashboards.check` "
                    "runs every panel's queries"),
    "envoy": Role("dev Envoy", "no dev Envoy", "`invoke up` without --no-envoy", "`invoke up --mode compose --dev-envoy`"),
    "mockLlm": Role("mock LLM", "no mock LLM", "`invoke up` without --no-envoy", "`invoke up --mode compose --dev-envoy`"),
    "brightstaff": Role("dev Plano", "no real Plano traffic (`invoke traffic`)",
                        "`invoke stack.install --binary brightstaff=FILE`, or PLANO_BRIGHTSTAFF_BIN=<brightstaff {version}>",
                        "`invoke up --mode native` (the dev Plano runs on the host)"),
    "mockAgents": Role("mock agents", "no mock agents", "comes with the dev Plano", "comes with the dev Plano"),
    "tempoGuard": Role("Tempo guard", "no re-send of what a Tempo crash loses", "comes with Tempo",
                       "`invoke up --mode native` (Compose mode does not run it yet)"),
}
# Helpers that serve only one component: reported with it, not on lines of their own.
FOLDED = {"mockAgents": "brightstaff", "mockLlm": "envoy", "tempoGuard": "tempo"}


def _where(info: dict, component: str) -> str:
    """Where the user opens or reaches a running component."""
    url = lambda port: health.url(info, port)  # noqa: E731
    host, p = health.host(info), info["ports"]
    where = {
        "grafana": lambda: f"{url('grafana')}  (user {info['grafanaUser']}, password in .secrets/grafana.env)",
        "prometheus": lambda: f"{url('prometheus')}  (UI and API)",
        "tempo": lambda: f"{url('tempo')}  (TraceQL API)",
        "collector": lambda: f"OTLP {host}:{p['otlpGrpc']} (gRPC), {host}:{p['otlpHttp']} (HTTP): point Plano's tracing here",
        "envoy": lambda: f"{url('envoyListener')} (listener), admin {url('envoyAdmin')}",
        "brightstaff": lambda: f"{url('brightstaff')} (API), {url('brightstaffMetrics')}/metrics",
    }
    return where[component]() if component in where else url(info["components"][component]["port"])


def running_lines(info: dict, running: list[str]) -> list[str]:
    """One line per running component, in start order, each with where to reach it."""
    order = [c for c in info["startOrder"] if c in running and c not in FOLDED]
    width = max((len(ROLES[c].title) for c in order), default=0)
    return [f"  {ROLES[c].title:<{width}}  {_where(info, c)}" for c in order]


def missing_lines(info: dict, missing: dict[str, str], mode: str) -> list[str]:
    """One line per component that does not run: what the user loses, why it is not running,
    and the one command or variable that adds it."""
    out = []
    for comp in info["startOrder"]:
        if comp not in missing or (comp in FOLDED and FOLDED[comp] in missing):
            continue
        role = ROLES[comp]
        if missing[comp] == STOPPED:
            out.append(f"  {role.loss}: {role.title} is stopped — start it: `invoke up`")
            continue
        fix = (role.native_fix if mode == "native" else role.compose_fix).format(version=info["versions"].get(comp, ""))
        out.append(f"  {role.loss}: {role.title} is not running ({missing[comp]}) — add it: {fix}")
    return out


def block(info: dict, running: list[str], missing: dict[str, str], mode: str, header: str) -> str:
    """The closing block of `invoke up` (and the tail of `invoke status`)."""
    lines = [header, *running_lines(info, running)]
    gone = missing_lines(info, missing, mode)
    if gone:
        lines += ["not running:", *gone]
    return "\n".join(lines)

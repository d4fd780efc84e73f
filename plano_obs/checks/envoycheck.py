"""Checks that Plano's Envoy admin endpoint is where the stack scrapes it and exports Plano's
WASM metrics. Each failure is a cause, a remedy and an exit code (docs/envoy.md)."""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

import requests
from prometheus_client.parser import text_string_to_metric_families

# Envoy ≥ 1.20 exports custom WASM stats as the bare name; older ones as envoy_wasmcustom_<name>.
# Plano's metric names and where its admin usually is come from the settings (_config.plano).
LEGACY_PREFIX = "envoy_wasmcustom_"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "host.docker.internal", "::1"}

OK, UNREACHABLE, NOT_METRICS, NO_WASM_METRICS, ADDRESS_MISMATCH, TARGET_DOWN, PROMETHEUS_UNREACHABLE = 0, 2, 3, 4, 5, 6, 7
EXIT_CODES = {
    OK: "all checks passed",
    UNREACHABLE: "no Envoy admin endpoint answered",
    NOT_METRICS: "the admin endpoint does not serve Prometheus metrics at /stats/prometheus",
    NO_WASM_METRICS: "none of Plano's WASM metrics are exported",
    ADDRESS_MISMATCH: "Prometheus scrapes a different address than the one that answered",
    TARGET_DOWN: "Prometheus has no healthy `envoy` scrape target",
    PROMETHEUS_UNREACHABLE: "the stack's Prometheus did not answer",
}


@dataclass
class Finding:
    code: int
    cause: str
    remedy: str


@dataclass
class Report:
    admin: str | None = None
    admin_source: str = ""
    envoy_version: str | None = None
    envoy_state: str | None = None
    naming: str | None = None  # "plain" or "envoy_wasmcustom_"
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    target: dict | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.findings[0].code if self.findings else OK

    def as_dict(self) -> dict:
        d = asdict(self)
        d["exit_code"] = self.exit_code
        return d


def _norm(address: str) -> str:
    return address if "://" in address else f"http://{address}"


def _host_port(url: str) -> tuple[str, int]:
    u = urlparse(_norm(url))
    return (u.hostname or ""), (u.port or 80)


def _get(url: str, timeout: float) -> requests.Response | None:
    try:
        return requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None


def find_admin(explicit: str | None, configured: str | None, candidates: list[str],
               timeout: float) -> tuple[str | None, str, list[str]]:
    """(base URL that answered /server_info, how it was chosen, addresses tried)."""
    if explicit:
        tried = [_norm(explicit)]
        return (tried[0] if _get(tried[0] + "/server_info", timeout) is not None else None), "--admin", tried
    options: list[tuple[str, str]] = []
    if configured:
        host, port = _host_port(configured)
        # the stack's config may name the Docker host; from here that is this machine
        options.append((f"http://127.0.0.1:{port}" if host in LOCAL_HOSTS else _norm(configured), "the stack's config"))
    options += [(f"http://{c}", "known candidates") for c in candidates]
    tried: list[str] = []
    for url, source in options:
        if url in tried:
            continue
        tried.append(url)
        if _get(url + "/server_info", timeout) is not None:
            return url, source, tried
    return None, "", tried


def check(admin: str | None, prometheus: str, settings: dict, timeout: float = 3.0,
          first_scrape_s: float = 20.0) -> Report:
    """settings: the stack's (envoyAdmin, envoyAdminCandidates, wasmMetrics)."""
    r = Report()
    wasm_metrics = list(settings["wasmMetrics"])
    base, r.admin_source, tried = find_admin(admin, settings["envoyAdmin"], settings["envoyAdminCandidates"], timeout)
    if base is None:
        r.findings.append(Finding(UNREACHABLE, f"no Envoy admin endpoint answered at {', '.join(tried)}",
                                  "start Plano or the dev Envoy (`invoke up`), or pass --admin HOST:PORT"))
        return r
    r.admin = base
    info = _get(base + "/server_info", timeout)
    try:
        data = info.json()  # type: ignore[union-attr]
        found = re.search(r"\d+\.\d+\.\d+", str(data.get("version", "")))
        r.envoy_version = found.group(0) if found else data.get("version")
        r.envoy_state = data.get("state")
    except (ValueError, AttributeError):
        pass

    stats = _get(base + "/stats/prometheus", timeout)
    text = stats.text if stats is not None else ""
    ctype = (stats.headers.get("Content-Type", "") if stats is not None else "").lower()
    families = None
    if stats is not None and stats.ok and "html" not in ctype and not text.lstrip().startswith("<"):
        try:
            families = {f.name: f for f in text_string_to_metric_families(text)}
        except ValueError:
            families = None
    if families is None:
        what = f"HTTP {stats.status_code}, {ctype or 'no content type'}" if stats is not None else "no answer"
        r.findings.append(Finding(NOT_METRICS, f"{base}/stats/prometheus does not serve Prometheus metrics ({what})",
                                  "point --admin at Envoy's admin port (not its listener, not another server)"))
        return r

    names = set(families) | {s.name for f in families.values() for s in f.samples}
    for metric in wasm_metrics:
        if metric in names or f"{metric}_bucket" in names:
            r.present.append(metric)
            r.naming = r.naming or "plain"
        elif f"{LEGACY_PREFIX}{metric}" in names or f"{LEGACY_PREFIX}{metric}_bucket" in names:
            r.present.append(metric)
            r.naming = r.naming or LEGACY_PREFIX
        else:
            r.missing.append(metric)
    if not r.present:
        r.findings.append(Finding(NO_WASM_METRICS, f"{base} exports none of Plano's WASM metrics ({', '.join(wasm_metrics[:3])}, …)",
                                  "this Envoy runs no Plano WASM filter: is it Plano's Envoy?"))

    # Right after `invoke up` Prometheus may not have discovered or scraped the target yet:
    # wait (up to first_scrape_s) until it has a verdict, instead of failing on "unknown".
    end = time.monotonic() + first_scrape_s
    while True:
        targets = _get(prometheus.rstrip("/") + "/api/v1/targets?state=active", timeout)
        if targets is None or not targets.ok:
            r.findings.append(Finding(PROMETHEUS_UNREACHABLE, f"the stack's Prometheus at {prometheus} did not answer",
                                      "start the stack (`invoke up`) or pass --prometheus URL"))
            return r
        envoy_targets = [t for t in targets.json()["data"]["activeTargets"] if t["labels"].get("job") == "envoy"]
        if (envoy_targets and envoy_targets[0]["health"] != "unknown") or time.monotonic() >= end:
            break
        time.sleep(0.5)
    if not envoy_targets:
        r.findings.append(Finding(TARGET_DOWN, "Prometheus has no active `envoy` scrape target",
                                  "if Prometheus just started, wait a few seconds; else restart the stack "
                                  "(`invoke down`, then `invoke up`: it renders the configs again)"))
        return r
    t = envoy_targets[0]
    r.target = {"scrapeUrl": t["scrapeUrl"], "health": t["health"], "lastError": t.get("lastError", "")}
    a_host, a_port = _host_port(base)
    t_host, t_port = _host_port(t["scrapeUrl"])
    # the dev Envoy on the Compose network: Prometheus scrapes its service name, the host its published port
    compose_envoy = settings.get("devEnvoyAdmin") or {}
    if f"{t_host}:{t_port}" == compose_envoy.get("scraped"):
        t_host, t_port = _host_port(compose_envoy["host"])
    same = a_port == t_port and (a_host == t_host or {a_host, t_host} <= LOCAL_HOSTS)
    if not same:
        r.findings.append(Finding(ADDRESS_MISMATCH, f"Prometheus scrapes {t['scrapeUrl']} but Envoy's admin answered at {base}",
                                  f"set _config.plano.envoyAdmin to port {a_port} in stack/local.libsonnet, then `invoke up` again"))
    if t["health"] != "up":
        r.findings.append(Finding(TARGET_DOWN, f"Prometheus's envoy target {t['scrapeUrl']} is {t['health']}: "
                                  f"{t.get('lastError') or 'not scraped yet'}",
                                  "wait one scrape interval after starting Envoy, or fix the address above"))
    r.findings.sort(key=lambda f: f.code)
    return r

"""Readiness probes of the stack's components, on their host ports."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests



@dataclass
class Probe:
    component: str
    url: str
    ok: bool
    detail: str


def host(info: dict) -> str:
    return "127.0.0.1" if info["bindAddress"] in ("0.0.0.0", "") else info["bindAddress"]


def url(info: dict, port_name: str, path: str = "") -> str:
    return f"http://{host(info)}:{info['ports'][port_name]}{path}"


def probe(info: dict, component: str, timeout: float = 2.0) -> Probe:
    spec = info["components"][component]  # from stack.json: port name and readiness path
    target = url(info, spec["port"], spec["ready"])
    try:
        resp = requests.get(target, timeout=timeout)
    except requests.RequestException as err:
        return Probe(component, target, False, type(err).__name__)
    return Probe(component, target, resp.ok, f"HTTP {resp.status_code}")


def wait_ready(info: dict, components: list[str], deadline_s: float) -> dict[str, Probe]:
    """Polls until every component is ready or the deadline passes; returns the last probes."""
    end = time.monotonic() + deadline_s
    last: dict[str, Probe] = {}
    pending = list(components)
    while True:
        for name in list(pending):
            last[name] = probe(info, name)
            if last[name].ok:
                pending.remove(name)
        if not pending or time.monotonic() >= end:
            return last
        time.sleep(0.25)


def running_version(info: dict, component: str, timeout: float = 2.0) -> str | None:
    """The version a running component reports (build-info JSON or a metric label)."""
    spec = info["components"][component]["version"]
    if spec is None:
        return None
    try:
        resp = requests.get(url(info, spec["port"], spec["path"]), timeout=timeout)
        resp.raise_for_status()
    except requests.RequestException:
        return None
    if "field" in spec:
        value = resp.json()
        for key in spec["field"].split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if not value:
            return None
        # Envoy reports "<sha>/X.Y.Z/Clean/RELEASE/BoringSSL": keep the release
        found = re.search(r"\d+\.\d+\.\d+", str(value))
        return found.group(0) if found else str(value)
    from prometheus_client.parser import text_string_to_metric_families
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            if sample.name == spec["metric"] and spec["label"] in sample.labels:
                return sample.labels[spec["label"]]
    return None


def collector_counters(info: dict, timeout: float = 5.0) -> dict[str, float]:
    """The collector's own span counters (otelcol_*_spans), summed over labels, read from its
    telemetry endpoint (exact now, no scrape delay). Names without a `_total` suffix."""
    from prometheus_client.parser import text_string_to_metric_families
    text = requests.get(url(info, "collectorTelemetry", "/metrics"), timeout=timeout).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name.removesuffix("_total")
            if key.startswith("otelcol_") and key.endswith("_spans"):
                out[key] = out.get(key, 0.0) + s.value
    return out

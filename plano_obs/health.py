"""Readiness probes of the stack's components, on their host ports."""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests

# component -> (port name in stack.json, readiness path)
PROBES = {
    "collector": ("collectorHealth", "/"),
    "tempo": ("tempo", "/ready"),
    "prometheus": ("prometheus", "/-/ready"),
    "grafana": ("grafana", "/api/health"),
}


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
    port_name, path = PROBES[component]
    target = url(info, port_name, path)
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

"""Minimal OTLP/JSON trace requests for the live tests (the wire format of OTLP/HTTP JSON)."""
from __future__ import annotations

import os
import time


def span(name: str, attrs: dict, duration_ms: float, trace_id: str | None = None) -> dict:
    end = time.time_ns()
    def value(v):
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        return {"stringValue": str(v)}
    return {
        "traceId": trace_id or os.urandom(16).hex(),
        "spanId": os.urandom(8).hex(),
        "name": name,
        "kind": 1,  # INTERNAL, as Plano's brightstaff
        "startTimeUnixNano": str(end - int(duration_ms * 1e6)),
        "endTimeUnixNano": str(end),
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()],
        "status": {},
    }


def request(service: str, spans: list[dict]) -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "plano-observability-tests"}, "spans": spans}],
    }]}

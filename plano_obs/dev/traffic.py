"""Plano-shaped load through the real brightstaff of the dev Plano: model requests with and
without provider prefix, streaming and not, upstream errors and 429s from the mock LLM and
from Envoy, agent requests through the orchestrator, tenants. Every request's outcome is
recorded, so the smoke suite can hold every panel to exactly what was sent."""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import requests

from plano_obs.errors import PlanoError


class TrafficError(PlanoError):
    """The dev Plano could not be driven."""


@dataclass
class Request:
    """One request to brightstaff and what the stack should see of it."""
    kind: str  # model | agent
    model: str  # as the client names it (model requests), or "" (agent requests)
    stream: bool
    fault: str  # none | upstream-429 | upstream-503 | upstream-reset | envoy-429
    tenant: str
    agents: list[str] = field(default_factory=list)  # agent requests: the agents named in the message
    status: int = 0  # what brightstaff answered
    seconds: float = 0.0


# The mix, one entry per request in a cycle: (kind, model index or agents, stream, fault).
# Model indexes point into the configured models; "bare" names a model without its provider.
_MIX = [
    ("model", (0, "full"), False, "none"),
    ("model", (0, "full"), True, "none"),
    ("model", (2, "bare"), False, "none"),
    ("agent", ["weather_agent"], False, "none"),
    ("model", (1, "full"), False, "upstream-503"),
    ("model", (2, "full"), True, "none"),
    ("agent", ["flight_agent"], True, "none"),
    ("model", (1, "bare"), False, "upstream-429"),
    ("model", (0, "full"), False, "envoy-429"),
    ("agent", ["weather_agent", "flight_agent"], False, "none"),
    ("model", (2, "bare"), False, "upstream-reset"),
    ("agent", [], False, "none"),  # no agent named: the listener's default agent
]
_FAULT_HEADERS = {"upstream-429": {"x-mock-status": "429"}, "upstream-503": {"x-mock-status": "503"},
                  "upstream-reset": {"x-mock-close": "1"}, "envoy-429": {"x-plano-ratelimit": "exceeded"}}


def plan(count: int, models: list[str], agent_ids: list[str], tenants: list[str], seed: int | None = None) -> list[Request]:
    """The first `count` requests of the mix (shuffled within each cycle when seeded)."""
    if count < 1:
        raise TrafficError(f"--requests must be 1 or more, got {count}")
    rng = random.Random(seed)
    out: list[Request] = []
    while len(out) < count:
        entries = list(_MIX)
        if seed is not None:
            rng.shuffle(entries)
        for kind, what, stream, fault in entries:
            tenant = tenants[(len(out)) % len(tenants)]
            if kind == "model":
                index, form = what
                full = models[index % len(models)]
                name = full if form == "full" else full.split("/", 1)[1]
                out.append(Request("model", name, stream, fault, tenant))
            else:
                named = [a for a in what if a in agent_ids]
                out.append(Request("agent", "", stream, fault, tenant, named))
            if len(out) == count:
                break
    return out


def _body(req: Request, model: str) -> dict:
    if req.kind == "agent":
        text = ("please ask " + " then ".join(req.agents)) if req.agents else "hello there"
    else:
        text = f"request for {model}"
    return {"model": model, "stream": req.stream, "messages": [{"role": "user", "content": text}]}


def send(base_url: str, listener: str, header_prefix: str, reqs: list[Request], default_model: str,
         timeout: float = 30.0) -> list[Request]:
    """Sends each request in order and records brightstaff's answer (streams are read to the end)."""
    session = requests.Session()
    for req in reqs:
        headers = {"content-type": "application/json", f"{header_prefix}tenant-id": req.tenant, **_FAULT_HEADERS.get(req.fault, {})}
        if req.kind == "agent":
            url, model = f"{base_url}/agents/v1/chat/completions", default_model
            headers["x-arch-agent-listener-name"] = listener
        else:
            url, model = f"{base_url}/v1/chat/completions", req.model
        start = time.monotonic()
        try:
            with session.post(url, data=json.dumps(_body(req, model)), headers=headers, timeout=timeout, stream=req.stream) as resp:
                for _ in resp.iter_content(chunk_size=None):
                    pass
                req.status = resp.status_code
        except requests.ConnectionError as err:
            raise TrafficError(f"Plano at {base_url} does not answer ({type(err).__name__})",
                               "start the dev Plano: `invoke up` (needs a brightstaff binary, see docs/dev-plano.md)") from err
        req.seconds = time.monotonic() - start
    return reqs


def summary(reqs: list[Request]) -> dict[str, Counter]:
    """Counts per (what, status brightstaff answered)."""
    by = Counter()
    for r in reqs:
        what = f"agent {'+'.join(r.agents) or '(default)'}" if r.kind == "agent" else f"model {r.model}"
        by[(what, r.fault, r.status)] += 1
    return {"requests": by}


def as_json(reqs: list[Request]) -> str:
    return json.dumps([asdict(r) for r in reqs], indent=2)

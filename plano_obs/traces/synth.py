"""Synthetic Plano traffic, shaped like what brightstaff and Plano's Envoy really emit
(see docs/fixtures.md): one OTLP resource per component, INTERNAL spans with UNSET status,
`http.status_code` as the only error signal, token and time-to-first-token attributes,
orchestrator → agent → llm trees and direct llm → routing calls."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from plano_obs.errors import PlanoError

INTERNAL, SERVER = Span.SPAN_KIND_INTERNAL, Span.SPAN_KIND_SERVER
PATH = "/v1/chat/completions"
# Rough per-model latency (median ms) so percentiles differ by model.
_SPEED = {"gpt-4o-mini": 450.0, "gpt-4o": 900.0, "claude-sonnet-4": 1200.0, "claude-haiku-4": 500.0}
# List prices in USD per million input and output tokens (public list prices), so that calls
# carry Plano's cost attributes as they do when Plano has a price source.
_PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "claude-sonnet-4": (3.00, 15.00),
           "claude-haiku-4": (1.00, 5.00)}
_PROVIDER_GUESS = (("gpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("claude", "anthropic"),
                   ("gemini", "gemini"), ("mistral", "mistral"), ("llama", "groq"), ("deepseek", "deepseek"))


class SynthError(PlanoError):
    """Bad synthesis options."""


@dataclass
class Options:
    models: list[str] = field(default_factory=lambda: ["openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4"])
    agents: list[str] = field(default_factory=lambda: ["weather_agent", "flight_agent"])
    filters: list[str] = field(default_factory=lambda: ["input_guard"])  # each agent call passes these first
    listener: str = "travel_agents"
    rps: float = 5.0
    duration_s: float = 60.0
    error_share: float = 0.05  # upstream failures: 5xx, or no status when the call itself failed
    ratelimit_share: float = 0.05  # 429s
    agent_share: float = 0.5  # requests that go through the orchestrator and agents
    # tenant.id per request (Plano's custom span attribute from a tenant header); none: no attribute
    tenants: list[str] = field(default_factory=lambda: ["tenant-a", "tenant-b"])
    cache_share: float = 0.3  # successful calls that read part of their prompt from the provider's cache
    seed: int | None = None

    def validate(self) -> None:
        if self.rps <= 0 or self.duration_s <= 0:
            raise SynthError(f"--rps and --duration must be positive (got {self.rps}, {self.duration_s})")
        for name, share in (("--error-share", self.error_share), ("--ratelimit-share", self.ratelimit_share),
                            ("agent share", self.agent_share)):
            if not 0 <= share <= 1:
                raise SynthError(f"{name} must be between 0 and 1, got {share}")
        if self.error_share + self.ratelimit_share > 1:
            raise SynthError("--error-share plus --ratelimit-share must not exceed 1")
        if not self.models:
            raise SynthError("at least one model is needed", "e.g. --models openai/gpt-4o")
        if not self.agents and self.agent_share > 0:
            raise SynthError("at least one agent is needed", "e.g. --agents weather_agent")


def split_model(spec: str) -> tuple[str, str]:
    """'openai/gpt-4o' → ('openai', 'gpt-4o'); a bare name gets its usual provider."""
    if "/" in spec:
        provider, model = spec.split("/", 1)
        return provider, model
    provider = next((p for prefix, p in _PROVIDER_GUESS if spec.startswith(prefix)), "openai")
    return provider, spec


def _value(v: object) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


class _Builder:
    """Collects spans per service.name into one request per trace."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.by_service: dict[str, list[Span]] = {}
        self.tenant: str | None = None  # of the request being built

    def id(self, n: int) -> bytes:
        return self.rng.getrandbits(n * 8).to_bytes(n, "big")

    def span(self, service: str, trace_id: bytes, parent: Span | None, name: str, start: int, end: int,
             attrs: dict, kind: int = INTERNAL) -> Span:
        s = Span(trace_id=trace_id, span_id=self.id(8), name=name, kind=kind,
                 start_time_unix_nano=start, end_time_unix_nano=end,
                 parent_span_id=parent.span_id if parent else b"")
        s.attributes.extend(KeyValue(key=k, value=_value(v)) for k, v in attrs.items() if v is not None)
        self.by_service.setdefault(service, []).append(s)
        return s

    def request(self) -> ExportTraceServiceRequest:
        req = ExportTraceServiceRequest()
        for service, spans in self.by_service.items():
            rs = req.resource_spans.add()
            rs.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
            ss = rs.scope_spans.add()
            ss.scope.name = "brightstaff" if service not in ("plano(inbound)", "plano(outbound)") else "envoy"
            ss.spans.extend(spans)
        return req


def _llm(b: _Builder, opts: Options, trace_id: bytes, parent: Span | None, start: int, requested: str) -> tuple[Span, int]:
    """One upstream LLM call; returns the span and its end."""
    rng = b.rng
    provider, model = split_model(requested)
    roll = rng.random()
    if roll < opts.ratelimit_share:
        status, ms = 429, rng.uniform(2, 15)
    elif roll < opts.ratelimit_share + opts.error_share:
        # most failures carry the upstream's 5xx; some calls fail before any status
        status, ms = (rng.choice([500, 502, 503]) if rng.random() < 0.8 else None), rng.uniform(50, 3000)
    else:
        status, ms = 200, rng.lognormvariate(0, 0.35) * _SPEED.get(model, 800.0)
    end = start + int(ms * 1e6)
    ok = status == 200
    prompt = rng.randint(40, 2400)
    completion = rng.randint(10, 900) if ok else 0
    ttft = round(ms * rng.uniform(0.15, 0.45)) if ok else None
    cached = rng.randint(1, prompt) if ok and rng.random() < opts.cache_share else None
    price = _PRICES.get(model) if ok else None  # costs: only for a 2xx with a known price
    cost_in = round(prompt * price[0] / 1e6, 9) if price else None
    cost_out = round(completion * price[1] / 1e6, 9) if price else None
    name = f"POST {PATH} {model}" if rng.random() < 0.7 else f"POST {PATH} {requested.split('/')[-1]}-latest -> {model}"
    attrs = {
        "llm.model": model, "llm.provider": provider, "http.method": "POST", "http.path": PATH,
        "http.status_code": status, "request_id": b.id(8).hex(),
        "llm.temperature": 0.7, "llm.tools": "", "llm.user_message_preview": "What's the weather in Seattle?",
        "llm.time_to_first_token": ttft, "llm.duration_ms": round(ms),
        "llm.response_bytes": completion * 4 if ok else 0,
        "llm.usage.prompt_tokens": prompt if ok else None, "llm.usage.completion_tokens": completion if ok else None,
        "llm.usage.total_tokens": prompt + completion if ok else None, "llm.usage.cached_input_tokens": cached,
        "llm.usage.input_cost_usd": cost_in, "llm.usage.output_cost_usd": cost_out,
        "llm.usage.total_cost_usd": round(cost_in + cost_out, 9) if price else None, "tenant.id": b.tenant,
        "plano.route.name": "default", "plano.session_id": b.id(8).hex(),
    }
    span = b.span("plano(llm)", trace_id, parent, name, start, end, attrs)
    if ttft is not None:
        ev = span.events.add(name="llm.time_to_first_token", time_unix_nano=start + int(ttft * 1e6))
        ev.attributes.append(KeyValue(key="llm.time_to_first_token", value=AnyValue(int_value=ttft)))
    if status is not None:  # the call reached Plano's egress Envoy: its span, a child through traceparent
        _egress(b, trace_id, span, provider, status, start + int(1e6), end - int(5e5))
    return span, end


def _egress(b: _Builder, trace_id: bytes, parent: Span, provider: str, status: int, start: int, end: int) -> None:
    """Envoy's span on Plano's egress listener (12001): the upstream call to the provider's
    cluster. As Envoy 1.40 emits it (checked against the dev Envoy): kind SERVER (the listener
    has no traffic direction), tags as string attributes, status ERROR with `error` on 5xx."""
    authority = "localhost:12001"
    span = b.span("plano(outbound)", trace_id, parent, f"POST {authority}{PATH}", start, max(start, end), {
        "node_id": "", "zone": "", "guid:x-request-id": b.id(16).hex(), "http.url": f"http://{authority}{PATH}",
        "http.method": "POST", "downstream_cluster": "-", "user_agent": "-", "http.protocol": "HTTP/1.1",
        "peer.address": "127.0.0.1", "request_size": str(b.rng.randint(300, 9000)),  # not a port
        "response_size": str(b.rng.randint(90, 6000)), "component": "proxy", "upstream_cluster": provider,
        "upstream_cluster.name": provider, "http.status_code": str(status),
        "response_flags": "UF" if status == 503 and b.rng.random() < 0.5 else "-",
    }, kind=SERVER)
    if status >= 500:
        span.attributes.append(KeyValue(key="error", value=AnyValue(string_value="true")))
        span.status.code = span.status.STATUS_CODE_ERROR


def _direct(b: _Builder, opts: Options, start: int) -> None:
    trace_id = b.id(16)
    requested = b.rng.choice(opts.models)
    routing_ms = b.rng.uniform(0.2, 3.0)
    llm_start = start + int(routing_ms * 1e6)
    llm, end = _llm(b, opts, trace_id, None, llm_start, requested)
    # the root is the llm span; routing is its child (started first, as brightstaff records it)
    llm.start_time_unix_nano = start
    model = split_model(requested)[1]
    b.span("plano(routing)", trace_id, llm, "routing", start, llm_start, {
        "model.requested": model, "model.alias_resolved": model, "route.selected_model": model,
        "routing.determination_ms": round(routing_ms, 2)})


def _agents(b: _Builder, opts: Options, start: int) -> None:
    rng = b.rng
    trace_id = b.id(16)
    chosen = rng.sample(opts.agents, k=rng.randint(1, min(2, len(opts.agents))))
    select_ms = rng.uniform(20, 120)
    inbound = b.span("plano(inbound)", trace_id, None, f"ingress {PATH}", start, start, {}, kind=SERVER)
    orch_start = start + int(1e6)
    orch = b.span("plano(orchestrator)", trace_id, inbound, opts.listener, orch_start, orch_start, {
        "selection.listener": opts.listener, "selection.agent_count": len(chosen),
        "selection.agents": ",".join(chosen), "selection.determination_ms": f"{select_ms:.2f}", "tenant.id": b.tenant})
    t = orch_start + int(select_ms * 1e6)
    for agent in chosen:
        f_end = t
        for name in opts.filters:  # brightstaff's raw filter call: span fields as in pipeline.rs
            f_start, f_end = f_end, f_end + int(rng.uniform(0.5, 4) * 1e6)
            b.span("plano(filter)", trace_id, orch, f"execute_raw_filter ({name})", f_start, f_end, {
                "agent_id": name, "agent_url": f"http://127.0.0.1:10510/{name}", "filter_name": name,
                "bytes_len": rng.randint(200, 4000)})
        ag = b.span("plano(agent)", trace_id, orch, f"{agent} {PATH}", f_end, f_end, {
            "agent_id": agent, "message_count": rng.randint(1, 12), "tenant.id": b.tenant})
        _, llm_end = _llm(b, opts, trace_id, ag, f_end + int(2e6), rng.choice(opts.models))
        ag.end_time_unix_nano = llm_end + int(1e6)
        t = ag.end_time_unix_nano
    orch.end_time_unix_nano = t + int(1e6)
    inbound.end_time_unix_nano = orch.end_time_unix_nano + int(1e6)


def generate(opts: Options, start_ns: int) -> list[ExportTraceServiceRequest]:
    """One request per trace, starting at start_ns, `rps` per second for `duration_s`."""
    opts.validate()
    rng = random.Random(opts.seed)
    requests_ = []
    count = max(1, round(opts.rps * opts.duration_s))
    for i in range(count):
        b = _Builder(rng)
        b.tenant = rng.choice(opts.tenants) if opts.tenants else None
        start = start_ns + int(i / opts.rps * 1e9)
        (_agents if rng.random() < opts.agent_share else _direct)(b, opts, start)
        requests_.append(b.request())
    return requests_

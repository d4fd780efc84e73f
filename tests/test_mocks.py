"""The mock LLM and the mock agents, served in-process on free ports and driven over HTTP."""
from __future__ import annotations

import http.client
import json
import time
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from plano_obs.dev import mockagents, mockllm
from plano_obs.dev.mockllm import ANSWER, MockServer

SUFFIX = "-2024-07-18"
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
USAGE = {"prompt_tokens": 6, "completion_tokens": 5, "total_tokens": 11}  # 8//4+1 + 11//4+1; 5 words
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

# the pinned brightstaff's orchestrator prompt (router/orchestrator_model_v1.rs), tags mentioned inline too.
ORCHESTRATOR_PROMPT = """
You are a helpful assistant that selects the most suitable routes based on user intent.
You are provided with a list of available routes enclosed within <routes></routes> XML tags:
<routes>
{routes}
</routes>

You are also given the conversation context enclosed within <conversation></conversation> XML tags:
<conversation>
{conversation}
</conversation>

## Instructions
1. Analyze the latest user intent from the conversation.
"""
ROUTES = [{"name": "weather_agent", "description": "weather forecasts"},
          {"name": "flight_agent", "description": "flight search"}]


@contextmanager
def serving(server: MockServer) -> Iterator[MockServer]:
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def llm() -> Iterator[MockServer]:
    with serving(mockllm.make_server("127.0.0.1", 0, reported_model_suffix=SUFFIX)) as server:
        yield server


@pytest.fixture
def agents(llm: MockServer) -> Iterator[MockServer]:
    plano = f"http://127.0.0.1:{llm.server_address[1]}"
    server = mockagents.make_server("127.0.0.1", 0, plano, {"weather_agent": "openai/gpt-4o-mini",
                                                            "flight_agent": "anthropic/claude-sonnet-4"},
                                    ["input_guard"])
    with serving(server) as server:
        yield server


def call(server: MockServer, path: str, body: object = None, headers: dict[str, str] | None = None,
         method: str = "POST") -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request on its own connection; `body` may be bytes, a JSON-able object or an iterator
    of bytes (sent chunked)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        data = body if isinstance(body, bytes) or hasattr(body, "__next__") or body is None else json.dumps(body)
        connection.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response, response.read()
    finally:
        connection.close()


def events(data: bytes) -> list[object]:
    """The `data:` payloads of an SSE body, JSON-decoded except the final [DONE]."""
    blocks = data.decode().split("\n\n")
    assert blocks[-1] == "", data
    payloads = [b.removeprefix("data: ") for b in blocks[:-1]]
    assert all(b.startswith("data: ") for b in blocks[:-1]), data
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


def assert_stream(data: bytes, model: str, usage: dict[str, int]) -> None:
    *chunks, done = events(data)
    assert done == "[DONE]"
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {model}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    words = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert words == ["This ", "is ", "a ", "mock ", "answer."]
    assert chunks[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert chunks[-1]["usage"] == usage
    assert all("usage" not in c for c in chunks[:-1])


# --- mock LLM ---------------------------------------------------------------------------------

def test_health(llm: MockServer, agents: MockServer) -> None:
    for server in (llm, agents):
        status, _, data = call(server, "/health", method="GET")
        assert (status, json.loads(data)) == (200, {"status": "ok"})


def test_completion_reports_the_suffixed_model_and_exact_usage(llm: MockServer, capsys) -> None:
    status, response, data = call(llm, "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES})
    body = json.loads(data)
    assert (status, response.getheader("Content-Type")) == (200, "application/json")
    assert body["model"] == "gpt-4o-mini-2024-07-18" and body["object"] == "chat.completion"
    assert body["choices"] == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}]
    assert body["usage"] == USAGE
    assert capsys.readouterr().out.splitlines() == ["POST /v1/chat/completions model=gpt-4o-mini status=200"]


def test_without_a_suffix_the_model_is_reported_as_requested() -> None:
    with serving(mockllm.make_server("127.0.0.1", 0)) as server:
        _, _, data = call(server, "/openai/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES})
    assert json.loads(data)["model"] == "gpt-4o-mini"


def test_stream_is_role_words_then_usage_then_done(llm: MockServer) -> None:
    status, response, data = call(llm, "/v1/chat/completions",
                                  {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True})
    assert (status, response.getheader("Content-Type")) == (200, "text/event-stream")
    assert_stream(data, "gpt-4o-mini" + SUFFIX, USAGE)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("code,kind", [(429, "rate_limit_exceeded"), (500, "server_error"),
                                       (502, "bad_gateway"), (503, "service_unavailable")])
def test_x_mock_status_answers_an_openai_error(llm: MockServer, code: int, kind: str, stream: bool) -> None:
    status, response, data = call(llm, "/v1/chat/completions",
                                  {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": stream},
                                  {"x-mock-status": str(code)})
    assert (status, response.getheader("Content-Type")) == (code, "application/json")
    error = json.loads(data)["error"]
    assert (error["type"], error["code"]) == (kind, kind) and error["message"] == mockllm.ERRORS[code][0]


def test_an_unknown_x_mock_status_is_a_bad_request(llm: MockServer) -> None:
    status, _, data = call(llm, "/v1/chat/completions", {"model": "m"}, {"x-mock-status": "418"})
    assert status == 400 and "'418'" in json.loads(data)["error"]["message"]


def test_x_mock_close_drops_the_connection_without_an_answer(llm: MockServer) -> None:
    with pytest.raises(ConnectionError):
        call(llm, "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}, {"x-mock-close": "1"})
    assert call(llm, "/health", method="GET")[0] == 200  # the server itself is fine


def test_x_mock_delay_ms_holds_the_answer_back(llm: MockServer) -> None:
    started = time.monotonic()
    status, _, _ = call(llm, "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}, {"x-mock-delay-ms": "150"})
    assert status == 200 and time.monotonic() - started >= 0.150


@pytest.mark.parametrize("wanted", ["-1", "1.5", "60001", "soon"])
def test_a_bad_x_mock_delay_ms_is_a_bad_request(llm: MockServer, wanted: str) -> None:
    status, _, data = call(llm, "/v1/chat/completions", {"model": "m"}, {"x-mock-delay-ms": wanted})
    assert status == 400 and f"{wanted!r}" in json.loads(data)["error"]["message"]


def test_chunked_request_body(llm: MockServer) -> None:
    raw = json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES}).encode()
    status, _, data = call(llm, "/v1/chat/completions", iter([raw[:7], raw[7:30], raw[30:]]))
    assert status == 200 and json.loads(data)["usage"] == USAGE
    assert llm.received[-1].headers["transfer-encoding"] == "chunked"


def test_a_body_that_is_not_json_is_a_bad_request(llm: MockServer) -> None:
    status, _, data = call(llm, "/v1/chat/completions", b"{not json")
    assert status == 400 and "not JSON" in json.loads(data)["error"]["message"]


def orchestrate(llm: MockServer, *turns: tuple[str, str], model: str = "Plano-Orchestrator") -> dict:
    """Asks the mock as brightstaff does: one user message holding routes and conversation."""
    prompt = ORCHESTRATOR_PROMPT.format(
        routes="\n".join(json.dumps(r) for r in ROUTES),
        conversation=json.dumps([{"role": r, "content": c} for r, c in turns], indent=4))
    status, _, data = call(llm, "/v1/chat/completions",
                           {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.01})
    assert status == 200, data
    body = json.loads(data)
    body["prompt"] = prompt
    return body


@pytest.mark.parametrize("text,routes", [
    ("ask weather_agent then flight_agent", ["weather_agent", "flight_agent"]),
    ("flight_agent first, and weather_agent after it", ["flight_agent", "weather_agent"]),
    ("only flight_agent please", ["flight_agent"]),
    ("what is the weather like?", []),
])
def test_orchestrator_routes_are_the_names_in_the_last_user_message(llm: MockServer, text: str, routes: list) -> None:
    body = orchestrate(llm, ("user", "hi"), ("assistant", "Hello!"), ("user", text))
    content = body["choices"][0]["message"]["content"]
    assert json.loads(content) == {"route": routes}
    assert body["model"] == "Plano-Orchestrator" + SUFFIX
    prompt = len(body["prompt"]) // 4 + 1
    completion = len(content.split())
    assert body["usage"] == {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def test_orchestrator_ignores_earlier_turns_and_model_case(llm: MockServer) -> None:
    body = orchestrate(llm, ("user", "ask weather_agent"), ("assistant", "flight_agent?"), ("user", "thanks"),
                       model="plano-orchestrator")
    assert body["choices"][0]["message"]["content"] == '{"route": []}'


def test_orchestrator_prompt_without_routes_is_a_bad_request(llm: MockServer) -> None:
    status, _, data = call(llm, "/v1/chat/completions",
                           {"model": "Plano-Orchestrator", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and "<routes>" in json.loads(data)["error"]["message"]


# --- mock agents ------------------------------------------------------------------------------

AGENT_HEADERS = {"x-arch-upstream": "weather_agent", "traceparent": TRACEPARENT, "x-request-id": "req-1",
                 "x-katanemo-tenant-id": "tenant-a", "x-envoy-max-retries": "3"}


def test_agent_asks_plano_with_its_model_and_the_callers_trace_context(llm: MockServer, agents: MockServer,
                                                                        capsys) -> None:
    status, _, data = call(agents, "/v1/chat/completions", {"model": "x", "messages": MESSAGES}, AGENT_HEADERS)
    assert status == 200
    body = json.loads(data)
    assert body["model"] == "openai/gpt-4o-mini" + SUFFIX and body["usage"] == USAGE
    seen = llm.received[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.body == {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "stream": False}
    assert {k: seen.headers.get(k) for k in ("traceparent", "x-request-id", "x-katanemo-tenant-id")} == {
        "traceparent": TRACEPARENT, "x-request-id": "req-1", "x-katanemo-tenant-id": "tenant-a"}
    assert "x-arch-upstream" not in seen.headers and "x-envoy-max-retries" not in seen.headers
    assert capsys.readouterr().out.splitlines() == [
        "POST /v1/chat/completions model=openai/gpt-4o-mini status=200",
        "POST /v1/chat/completions agent=weather_agent model=openai/gpt-4o-mini status=200"]


def test_each_agent_asks_for_its_own_model(llm: MockServer, agents: MockServer) -> None:
    call(agents, "/v1/chat/completions", {"messages": MESSAGES}, {"x-arch-upstream": "flight_agent"})
    assert llm.received[-1].body["model"] == "anthropic/claude-sonnet-4"


@pytest.mark.parametrize("stream", [False, True])
def test_agent_passes_plano_errors_through(llm: MockServer, agents: MockServer, stream: bool) -> None:
    status, _, data = call(agents, "/v1/chat/completions", {"messages": MESSAGES, "stream": stream},
                           {**AGENT_HEADERS, "x-mock-status": "503"})
    assert status == 503
    assert json.loads(data) == mockllm.error_body(*mockllm.ERRORS[503])
    assert llm.received[-1].headers["x-mock-status"] == "503"


def test_agent_answers_502_when_plano_drops_the_connection(agents: MockServer) -> None:
    status, _, data = call(agents, "/v1/chat/completions", {"messages": MESSAGES}, {**AGENT_HEADERS, "x-mock-close": "1"})
    assert status == 502 and json.loads(data)["error"]["message"].startswith("weather_agent: the call to Plano failed")


def test_agent_restreams_the_answer_when_asked_to_stream(llm: MockServer, agents: MockServer) -> None:
    status, response, data = call(agents, "/v1/chat/completions", {"messages": MESSAGES, "stream": True},
                                  AGENT_HEADERS)
    assert (status, response.getheader("Content-Type")) == (200, "text/event-stream")
    assert_stream(data, "openai/gpt-4o-mini" + SUFFIX, USAGE)
    assert llm.received[-1].body["stream"] is False


def test_unknown_agent_is_a_404_naming_it(llm: MockServer, agents: MockServer) -> None:
    status, _, data = call(agents, "/v1/chat/completions", {"messages": MESSAGES}, {"x-arch-upstream": "hotel_agent"})
    assert status == 404 and "'hotel_agent'" in json.loads(data)["error"]["message"]
    assert len(llm.received) == 0


def test_filter_returns_the_body_unchanged(agents: MockServer) -> None:
    raw = json.dumps({"model": "openai/gpt-4o-mini", "messages": MESSAGES}, indent=1).encode()
    status, _, data = call(agents, "/input_guard/v1/chat/completions", raw)
    assert (status, data) == (200, raw)
    status, _, data = call(agents, "/input_guard/v1/chat/completions", iter([raw[:5], raw[5:]]))
    assert (status, data) == (200, raw)
    assert agents.received[-1].headers["transfer-encoding"] == "chunked"


def test_unknown_filter_is_a_404_naming_it(agents: MockServer) -> None:
    status, _, data = call(agents, "/output_guard/v1/chat/completions", {"messages": MESSAGES})
    assert status == 404 and "'output_guard'" in json.loads(data)["error"]["message"]

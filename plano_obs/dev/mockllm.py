"""A mock LLM upstream for the development Envoy and Plano's brightstaff: answers OpenAI-style
chat completions, as JSON or as a stream. The one fake in the stack — it stands in for a paid
model, nothing else. Standard library only, so it also runs in a bare python container (the
Compose `dev-envoy` profile).

Plano forwards client headers verbatim, so a client can make the upstream misbehave through it:
  x-mock-status: 429|500|502|503   that status, with an OpenAI-style error body
  x-mock-close: 1                  the connection dropped without an answer
  x-mock-delay-ms: N               the answer starts N ms later (0..60000), on top of --latency-ms
The model `Plano-Orchestrator` (brightstaff's agent-selection call) is answered with the routes
the conversation's last user message names, so a test chooses its agents in plain words."""
from __future__ import annotations

import argparse
import json
import re
import socket
import struct
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, NamedTuple
from urllib.parse import urlsplit

ANSWER = "This is a mock answer."
MAX_DELAY_MS = 60_000  # x-mock-delay-ms: at most a minute (Envoy's route timeout)
ORCHESTRATOR_MODEL = "plano-orchestrator"  # compared case-insensitively
ERRORS = {  # status -> (message, OpenAI error type), what the real providers answer
    429: ("Rate limit reached for requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request", "server_error"),
    502: ("Bad gateway", "bad_gateway"),
    503: ("The engine is currently overloaded", "service_unavailable"),
}
# The blocks of brightstaff's orchestrator prompt. The prompt also mentions the tags inline
# ("enclosed within <routes></routes> XML tags"), so a block is a tag followed by a newline;
# the conversation match is greedy so a user quoting the closing tag cannot cut it short.
_ROUTES = re.compile(r"<routes>\n(.*?)\n</routes>", re.S)
_CONVERSATION = re.compile(r"<conversation>\n(.*)\n</conversation>", re.S)


class BadRequest(ValueError):
    """A request the mock cannot answer; the handler turns it into a 400 naming the problem."""


class Received(NamedTuple):
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]


def error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Deterministic, so tests and dashboards can assert exact token counts."""
    return sum(len(str(m.get("content", ""))) // 4 + 1 for m in messages)


def usage(prompt: int, answer: str) -> dict[str, int]:
    completion = len(answer.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_chunks(completion_id: str, model: str, answer: str, counts: dict[str, Any] | None) -> list[dict]:
    """The `chat.completion.chunk` objects of an OpenAI stream: the role, one chunk per word,
    then a final chunk with the finish reason and usage (where brightstaff reads the tokens)."""
    base = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    words = re.findall(r"\S+\s*", answer) or [answer]
    return [chunk({"role": "assistant", "content": ""}), *(chunk({"content": w}) for w in words),
            {**chunk({}, "stop"), "usage": counts}]


def route_answer(prompt: str) -> str:
    """The orchestrator's answer: every route named in the last user message, in the order it
    names them (`{"route": []}` makes brightstaff fall back to the default agent)."""
    routes, conversation = _ROUTES.search(prompt), _CONVERSATION.search(prompt)
    if not routes or not conversation:
        raise BadRequest("Plano-Orchestrator prompt needs a <routes> and a <conversation> block")
    try:
        names = [json.loads(line)["name"] for line in routes[1].splitlines() if line.strip()]
        turns = json.loads(conversation[1])
    except (ValueError, KeyError, TypeError) as err:
        raise BadRequest(f"Plano-Orchestrator prompt is malformed: {err!r}") from err
    last = next((str(t.get("content", "")) for t in reversed(turns) if t.get("role") == "user"), "")
    found = {n: m.start() for n in names if (m := re.search(rf"(?<!\w){re.escape(n)}(?!\w)", last))}
    return json.dumps({"route": sorted(found, key=found.__getitem__)})


class MockServer(ThreadingHTTPServer):
    """Keeps the last requests it received, so a test (or a developer in a debugger) sees what a
    caller really sent. Does not wait for open keep-alive connections when it closes."""
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.received: deque[Received] = deque(maxlen=100)


class JsonHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (Envoy and brightstaff keep connections open), request bodies in either framing,
    JSON and SSE answers, one log line per request. Shared with `mockagents`."""
    protocol_version = "HTTP/1.1"
    server: MockServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming); the readiness probe of both mocks
        if self.path == "/health":
            self.log_line(status=200)
            self.send_json(200, {"status": "ok"})
        else:
            self.reject(404, f"no route {self.path}", "not_found")


    def _read_body(self) -> bytes:
        try:
            if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
            return b"".join(parts)
        except ValueError as err:
            raise BadRequest(f"bad body framing: {err}") from err

    def read_json(self) -> tuple[bytes, dict[str, Any]]:
        """The raw body and its JSON object; records the request on the server."""
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError as err:
            raise BadRequest(f"body is not JSON: {err}") from err
        if not isinstance(body, dict):
            raise BadRequest("body is not a JSON object")
        self.server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        return raw, body

    def send_raw(self, status: int, data: bytes, content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.send_raw(status, json.dumps(body).encode(), headers=headers)

    def send_sse(self, events: Iterable[dict[str, Any]]) -> None:
        """Each event a `data:` line in its own HTTP chunk, then `data: [DONE]`."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for data in [*(json.dumps(e) for e in events), "[DONE]"]:
            line = f"data: {data}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.write(b"0\r\n\r\n")

    def reject(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        """An error answer; a 400 also closes the connection (its framing may be unreadable)."""
        self.log_line(status=status)
        self.send_json(status, error_body(message, kind), {"Connection": "close"} if status == 400 else None)

    def log_line(self, **fields: object) -> None:
        """Printed before the answer is written, so a caller that has its answer sees the line."""
        print(f"{self.command} {self.path} " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # log_line says more (model, agent) in one line

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        print(f"{self.address_string()} {format % args}", flush=True)


class _LLMServer(MockServer):
    def __init__(self, address: tuple[str, int], latency_s: float, model_suffix: str) -> None:
        super().__init__(address, _Handler)
        self.latency_s, self.model_suffix = latency_s, model_suffix


class _Handler(JsonHandler):
    server_version = "mock-llm/1"
    server: _LLMServer

    def do_POST(self) -> None:  # noqa: N802
        try:
            _, request = self.read_json()
            if not urlsplit(self.path).path.endswith("/chat/completions"):
                return self.reject(404, f"no route {self.path}", "not_found")
            self._complete(request)
        except BadRequest as err:
            self.reject(400, str(err))

    def _delay_s(self) -> float:
        wanted = self.headers.get("x-mock-delay-ms")
        if wanted is None:
            return 0.0
        if not wanted.isdigit() or int(wanted) > MAX_DELAY_MS:
            raise BadRequest(f"x-mock-delay-ms {wanted!r} is not a whole number of milliseconds from 0 to {MAX_DELAY_MS}")
        return int(wanted) / 1000

    def _complete(self, request: dict[str, Any]) -> None:
        model = str(request.get("model") or "mock-model")
        messages = request.get("messages") or []
        time.sleep(self.server.latency_s + self._delay_s())
        if self.headers.get("x-mock-close") == "1":
            self.log_line(model=model, status="closed")
            # Linger 0: the close is a TCP reset, what a crashed upstream looks like.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if wanted := self.headers.get("x-mock-status"):
            if not wanted.isdigit() or int(wanted) not in ERRORS:
                raise BadRequest(f"x-mock-status {wanted!r} is not one of {sorted(ERRORS)}")
            message, kind = ERRORS[int(wanted)]
            self.log_line(model=model, status=wanted)
            self.send_json(int(wanted), error_body(message, kind), {"Retry-After": "1"} if wanted == "429" else None)
            return
        answer = ANSWER
        if model.lower() == ORCHESTRATOR_MODEL:
            answer = route_answer("\n".join(str(m.get("content", "")) for m in messages))
        reported, counts = model + self.server.model_suffix, usage(prompt_tokens(messages), answer)
        completion_id = f"chatcmpl-mock-{time.time_ns()}"
        self.log_line(model=model, status=200)
        if request.get("stream"):
            self.send_sse(completion_chunks(completion_id, reported, answer, counts))
            return
        self.send_json(200, {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": reported,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}],
            "usage": counts,
        })


def make_server(host: str, port: int, latency_ms: float = 0.0, reported_model_suffix: str = "") -> MockServer:
    """A bound, not yet serving mock LLM (port 0 picks a free port: `server.server_address`)."""
    return _LLMServer((host, port), latency_ms / 1000, reported_model_suffix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the stack runs it on ports.mockLlm")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="delay before each answer")
    parser.add_argument("--reported-model-suffix", default="",
                        help="appended to the model in answers, as providers report dated ids; "
                             "give it with `=` (--reported-model-suffix=-2024-07-18): a leading - reads as an option")
    args = parser.parse_args()
    server = make_server(args.host, args.port, args.latency_ms, args.reported_model_suffix)
    print(f"mock LLM listening on http://{args.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

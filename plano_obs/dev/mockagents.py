"""Mock Plano agents and HTTP filters behind one port, for the development stack.

brightstaff sends every agent call to a fixed localhost port (Plano's agent listener, ports.agentEgress) with
`x-arch-upstream: <agent id>`; the dev Envoy's agent listener forwards those here. An agent does
what a real Plano agent does for the traces: it asks Plano's model endpoint, forwarding the trace
context, so its `plano(llm)` span joins the agent's trace. It also forwards `x-mock-*` and
`x-katanemo-*`, so a client can make the model call fail or tag a tenant through the whole
chain. HTTP filters (brightstaff POSTs them straight to `<filter url>/v1/chat/completions`) let
the messages through unchanged. Standard library only, like the mock LLM it shares its HTTP
plumbing with."""
from __future__ import annotations

import argparse
import http.client
import json
import re
from typing import Any, Iterable
from urllib.parse import SplitResult, urlsplit

try:
    from plano_obs.dev.mockllm import BadRequest, JsonHandler, MockServer, completion_chunks
except ImportError:  # run as a script beside mockllm.py, as in a bare python container
    from mockllm import BadRequest, JsonHandler, MockServer, completion_chunks  # type: ignore[no-redef]

FORWARDED = ("traceparent", "tracestate", "x-request-id")  # W3C trace context and Plano's request id
FORWARDED_PREFIXES = ("x-mock-", "x-katanemo-")  # failure injection and custom span attributes
PLANO_TIMEOUT_S = 60.0
_FILTER_PATH = re.compile(r"/([^/]+)/v1/chat/completions")


class _AgentsServer(MockServer):
    def __init__(self, address: tuple[str, int], plano: SplitResult, agents: dict[str, str],
                 filters: set[str]) -> None:
        super().__init__(address, _Handler)
        self.plano, self.agents, self.filters = plano, agents, filters


class _Handler(JsonHandler):
    server_version = "mock-agents/1"
    server: _AgentsServer

    def do_POST(self) -> None:  # noqa: N802
        try:
            raw, body = self.read_json()
        except BadRequest as err:
            return self.reject(400, str(err))
        path = urlsplit(self.path).path
        if path == "/v1/chat/completions":
            self._agent(body)
        elif not (match := _FILTER_PATH.fullmatch(path)):
            self.reject(404, f"no route {self.path}", "not_found")
        elif match[1] not in self.server.filters:
            self.reject(404, f"unknown filter {match[1]!r}", "not_found")
        else:
            self.log_line(filter=match[1], status=200)
            self.send_raw(200, raw)

    def _agent(self, body: dict[str, Any]) -> None:
        agent = self.headers.get("x-arch-upstream", "")
        model = self.server.agents.get(agent)
        if model is None:
            return self.reject(404, f"unknown agent {agent!r} (x-arch-upstream)", "not_found")
        try:
            status, content_type, data = self._ask_plano(model, body.get("messages") or [])
        except (OSError, http.client.HTTPException) as err:
            return self.reject(502, f"{agent}: the call to Plano failed: {err!r}", "bad_gateway")
        if status != 200 or not body.get("stream"):
            self.log_line(agent=agent, model=model, status=status)
            return self.send_raw(status, data, content_type)
        try:
            answer = json.loads(data)
            events = completion_chunks(answer["id"], answer["model"], answer["choices"][0]["message"]["content"],
                                       answer.get("usage"))
        except (ValueError, KeyError, IndexError, TypeError) as err:
            return self.reject(502, f"{agent}: Plano's answer is not a chat completion: {err!r}", "bad_gateway")
        self.log_line(agent=agent, model=model, status=200, stream=True)
        self.send_sse(events)

    def _ask_plano(self, model: str, messages: list[Any]) -> tuple[int, str, bytes]:
        """Plano's status, content type and body for the agent's model call (never streamed:
        the agent re-streams the whole answer itself)."""
        plano = self.server.plano
        headers = {"Content-Type": "application/json"}
        for name, value in self.headers.items():
            if name.lower() in FORWARDED or name.lower().startswith(FORWARDED_PREFIXES):
                headers[name] = value
        connection_class = http.client.HTTPSConnection if plano.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(plano.netloc, timeout=PLANO_TIMEOUT_S)
        try:
            connection.request("POST", plano.path.rstrip("/") + "/v1/chat/completions",
                               json.dumps({"model": model, "messages": messages, "stream": False}), headers)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", "application/json"), response.read()
        finally:
            connection.close()


def make_server(host: str, port: int, plano: str, agents: dict[str, str],
                filters: Iterable[str] = ()) -> MockServer:
    """A bound, not yet serving agents server (port 0 picks a free port: `server.server_address`).
    `agents` maps an agent id to the model it asks Plano for."""
    url = urlsplit(plano)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"Plano URL {plano!r} is not http(s)://host:port")
    return _AgentsServer((host, port), url, dict(agents), set(filters))


def _agent_option(text: str) -> tuple[str, str]:
    agent, _, model = text.partition("=")
    if not agent or not model:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID=MODEL")
    return agent, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the stack runs it on ports.mockAgents")
    parser.add_argument("--plano", required=True,
                        help="Plano's model endpoint base URL; agents POST {URL}/v1/chat/completions")
    parser.add_argument("--agent", type=_agent_option, action="append", default=[], metavar="ID=MODEL",
                        help="an agent and the model it asks Plano for (repeatable)")
    parser.add_argument("--filter", action="append", default=[], metavar="ID",
                        help="an HTTP filter served at /ID/v1/chat/completions (repeatable)")
    args = parser.parse_args()
    try:
        server = make_server(args.host, args.port, args.plano, dict(args.agent), args.filter)
    except ValueError as err:
        parser.error(str(err))
    agents = ", ".join(f"{a}={m}" for a, m in args.agent) or "none"
    print(f"mock agents listening on http://{args.host}:{server.server_address[1]} "
          f"(agents: {agents}; filters: {', '.join(args.filter) or 'none'}; Plano: {args.plano})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

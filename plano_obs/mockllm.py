"""A mock LLM upstream for the development Envoy: answers OpenAI-style chat completions.
The one fake in the stack — it stands in for a paid model, nothing else. Standard library
only, so it also runs in a bare python container (the Compose `dev-envoy` profile)."""
from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server_version = "mock-llm/1"
    latency_s = 0.0

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/health":
            self._reply(200, {"status": "ok"})
        else:
            self._reply(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._reply(400, {"error": {"message": "body is not JSON"}})
            return
        if not self.path.endswith("/chat/completions"):
            self._reply(404, {"error": {"message": f"no route {self.path}"}})
            return
        time.sleep(self.latency_s)
        model = request.get("model", "mock-model")
        prompt = sum(len(str(m.get("content", ""))) // 4 + 1 for m in request.get("messages", []))
        self._reply(200, {
            "id": f"chatcmpl-mock-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "This is a mock answer."}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 6, "total_tokens": prompt + 6},
        })

    def log_message(self, fmt: str, *args) -> None:
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19100)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="delay before each answer")
    args = parser.parse_args()
    _Handler.latency_s = args.latency_ms / 1000
    server = ThreadingHTTPServer((args.host, args.port), _Handler)
    print(f"mock LLM listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

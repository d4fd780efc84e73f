"""The dev Envoy's WASM filter (envoy/plano-ratelimit.wat), run in a proxy-wasm host with a
clock the test sets: every one of Plano's eight metrics, to the millisecond and the token."""
from __future__ import annotations

import json

import pytest

from plano_obs.config import settings
from plano_obs.dev import mockllm
from tests.wasmhost import Host

SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}
END_OF_REQUEST = ("request_latency", "time_per_output_token", "tokens_per_second",
                  "input_sequence_length", "output_sequence_length")


def _recorded(host: Host) -> dict[str, list[int]]:
    return {name: list(values) for name, values in host.samples.items() if values}


def _usage_chunk(prompt: int, completion: int) -> bytes:
    return b"data: " + json.dumps({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                            "total_tokens": prompt + completion}}).encode() + b"\n\n"


def test_defines_plano_s_eight_metrics_with_their_types():
    host = Host()
    assert host.kinds == settings.load("native")["wasmMetrics"]


def test_a_streamed_answer_records_every_histogram():
    host = Host("100")
    ctx, action = host.request()
    assert action == 0 and host.counters["active_http_calls"] == 1
    host.advance_ms(40)
    host.response_headers(ctx, SSE)
    host.advance_ms(15)
    host.response_body(ctx, b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n')  # first token: 55 ms
    host.advance_ms(100)
    host.response_body(ctx, b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n')
    host.advance_ms(95)
    host.response_body(ctx, _usage_chunk(12, 7))
    host.response_body(ctx, b"", end_of_stream=True)  # 250 ms in all
    host.end(ctx)
    assert _recorded(host) == {"time_to_first_token": [55], "request_latency": [250],
                               "time_per_output_token": [250 // 7], "tokens_per_second": [1000 // (250 // 7)],
                               "input_sequence_length": [12], "output_sequence_length": [7]}
    assert host.counters["active_http_calls"] == 0


def test_a_json_answer_has_no_first_token_and_reads_the_mock_llm_s_usage():
    host = Host("100")
    ctx, _ = host.request()
    host.advance_ms(80)
    host.response_headers(ctx, JSON)
    messages = [{"role": "user", "content": "how many tokens is this prompt"}]
    counts = mockllm.usage(mockllm.prompt_tokens(messages), mockllm.ANSWER)
    host.response_body(ctx, json.dumps({"object": "chat.completion", "usage": counts}).encode(), end_of_stream=True)
    assert _recorded(host) == {"request_latency": [80], "time_per_output_token": [80 // counts["completion_tokens"]],
                               "tokens_per_second": [1000 // (80 // counts["completion_tokens"])],
                               "input_sequence_length": [counts["prompt_tokens"]],
                               "output_sequence_length": [counts["completion_tokens"]]}
    assert host.counters["active_http_calls"] == 0


def test_an_answer_faster_than_a_millisecond_per_token_skips_tokens_per_second():
    """Plano's own rule (its issue 999): time per output token rounds down to 0, so tokens per
    second would divide by zero and is not recorded; the rest is."""
    host = Host("100")
    ctx, _ = host.request()
    host.advance_ms(5)
    host.response_headers(ctx, JSON)
    host.response_body(ctx, b'{"usage": {"prompt_tokens": 3, "completion_tokens": 10}}', end_of_stream=True)
    recorded = _recorded(host)
    assert recorded["time_per_output_token"] == [0] and "tokens_per_second" not in recorded
    assert recorded["output_sequence_length"] == [10] and recorded["request_latency"] == [5]


def test_an_error_answer_without_usage_records_zero_output_and_no_input():
    host = Host("100")
    ctx, _ = host.request()
    host.advance_ms(30)
    host.response_headers(ctx, JSON)
    host.response_body(ctx, json.dumps(mockllm.error_body(*mockllm.ERRORS[503])).encode(), end_of_stream=True)
    assert _recorded(host) == {"request_latency": [30], "output_sequence_length": [0]}


def test_a_response_without_body_ends_at_its_headers():
    host = Host("100")
    ctx, _ = host.request()
    host.advance_ms(12)
    host.response_headers(ctx, {}, end_of_stream=True)
    host.end(ctx)
    assert _recorded(host) == {"request_latency": [12], "output_sequence_length": [0]}
    assert host.counters["active_http_calls"] == 0


def test_a_stream_reset_before_its_end_records_nothing_and_leaves_the_gauge():
    host = Host("100")
    ctx, _ = host.request()
    host.response_headers(ctx, SSE)
    host.advance_ms(20)
    host.response_body(ctx, b"data: {}\n\n")
    host.end(ctx)  # the client went away mid-stream
    assert _recorded(host) == {"time_to_first_token": [20]}
    assert host.counters["active_http_calls"] == 0


def test_a_rate_limited_request_records_only_the_counter():
    host = Host("1")
    first, _ = host.request()
    second, action = host.request()
    assert action == 1 and [s for s, _ in host.local_replies] == [429]
    host.response_headers(second, {":status": "429"}, end_of_stream=True)
    host.end(second)
    assert host.counters["ratelimited_rq"] == 1 and _recorded(host) == {}
    assert host.counters["active_http_calls"] == 1  # the first one is still in flight
    host.response_headers(first, {}, end_of_stream=True)
    assert host.counters["active_http_calls"] == 0


@pytest.mark.parametrize("body, prompt, completion", [
    (b'{"prompt_tokens" :\n 4, "completion_tokens":\t9}', 4, 9),  # whitespace around the colon
    (b'{"prompt_tokens": "4", "completion_tokens": -9}', None, 0),  # not numbers: unknown
    (b'{"prompt_tokens": 1234567890, "completion_tokens": 123456789}', None, 123456789),  # 10 digits: refused
    (b'{"xprompt_tokens": 5, "completion_tokens"}', None, 0),  # another key; no colon
])
def test_usage_numbers_are_read_only_when_well_formed(body, prompt, completion):
    host = Host("100")
    ctx, _ = host.request()
    host.response_headers(ctx, JSON)
    host.response_body(ctx, body, end_of_stream=True)
    recorded = _recorded(host)
    assert recorded.get("input_sequence_length") == ([prompt] if prompt is not None else None)
    assert recorded["output_sequence_length"] == [completion]


def test_interleaved_streams_keep_their_own_numbers():
    host = Host("100")
    a, _ = host.request()
    host.advance_ms(10)
    b, _ = host.request()
    host.response_headers(a, SSE)
    host.response_headers(b, JSON)
    host.advance_ms(10)
    host.response_body(a, _usage_chunk(2, 5))  # a's first token at 20 ms
    host.response_body(b, b'{"usage": {"prompt_tokens": 8, "completion_tokens": 1}}', end_of_stream=True)  # b: 10 ms
    host.advance_ms(30)
    host.response_body(a, b"", end_of_stream=True)  # a: 50 ms
    assert _recorded(host) == {"time_to_first_token": [20], "request_latency": [10, 50],
                               "time_per_output_token": [10, 10], "tokens_per_second": [100, 100],
                               "input_sequence_length": [8, 2], "output_sequence_length": [1, 5]}
    assert host.counters["active_http_calls"] == 0


def test_memory_stays_bounded_over_many_large_streams():
    host = Host("1000000")
    chunk = b"x" * 60_000 + _usage_chunk(1, 2)
    for _ in range(300):
        ctx, _ = host.request()
        host.response_headers(ctx, SSE)
        host.response_body(ctx, chunk, end_of_stream=True)
        host.end(ctx)
    assert host.samples["output_sequence_length"] == [2] * 300
    assert host.memory.size(host.store) <= 3  # 64 KiB pages: the heap wraps instead of growing

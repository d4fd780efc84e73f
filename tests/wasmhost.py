"""A proxy-wasm (ABI 0.2.1) host in Python, just enough of Envoy's side to drive the dev
filter (envoy/plano-ratelimit.wat) stream by stream with a clock the test sets. The live tests
run the same module in real Envoy; this host makes its arithmetic checkable to the millisecond."""
from __future__ import annotations

import struct
from collections import defaultdict

import wasmtime

from plano_obs.dev import wasm

KINDS = {0: "counter", 1: "gauge", 2: "histogram"}
REQUEST_HEADERS, RESPONSE_HEADERS = 0, 2  # proxy-wasm map types
RESPONSE_BODY, PLUGIN_CONFIGURATION = 1, 7  # proxy-wasm buffer types
ROOT = 1


class Host:
    def __init__(self, configuration: str = "") -> None:
        self.now_ns = 1_700_000_000_000_000_000
        self.kinds: dict[str, str] = {}
        self._names: list[str] = []
        self.counters: dict[str, int] = defaultdict(int)  # counters and gauges
        self.samples: dict[str, list[int]] = defaultdict(list)  # histograms
        self.local_replies: list[tuple[int, bytes]] = []
        self.logs: list[str] = []
        self.configuration = configuration.encode()
        self._headers: dict[int, dict[str, str]] = {}
        self._body = b""
        self._next_ctx = ROOT + 1

        store = wasmtime.Store()
        module = wasmtime.Module(store.engine, wasmtime.wat2wasm(wasm.SOURCE.read_text()))
        self.store = store
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

        def func(params, results, fn):
            return wasmtime.Func(store, wasmtime.FuncType(params, results), fn)

        imports = {
            "proxy_log": func([i32] * 3, [i32], self._log),
            "proxy_define_metric": func([i32] * 4, [i32], self._define),
            "proxy_increment_metric": func([i32, i64], [i32], self._increment),
            "proxy_record_metric": func([i32, i64], [i32], self._record),
            "proxy_get_current_time_nanoseconds": func([i32], [i32], self._now),
            "proxy_get_buffer_bytes": func([i32] * 5, [i32], self._buffer),
            "proxy_send_local_response": func([i32] * 8, [i32], self._local_reply),
            "proxy_get_header_map_value": func([i32] * 5, [i32], self._header),
        }
        self.instance = wasmtime.Instance(store, module, [imports[i.name] for i in module.imports])
        self.memory = self.instance.exports(store)["memory"]
        self.call("proxy_on_context_create", ROOT, 0)
        assert self.call("proxy_on_vm_start", ROOT, 0) == 1
        assert self.call("proxy_on_configure", ROOT, len(self.configuration)) == 1

    # ---- driving the filter ----------------------------------------------------------------
    def call(self, name: str, *args: int):
        return self.instance.exports(self.store)[name](self.store, *args)

    def advance_ms(self, ms: int) -> None:
        self.now_ns += ms * 1_000_000

    def request(self, headers: dict[str, str] | None = None) -> tuple[int, int]:
        """A new stream's request headers: (context id, the filter's action)."""
        ctx, self._next_ctx = self._next_ctx, self._next_ctx + 1
        self.call("proxy_on_context_create", ctx, ROOT)
        self._headers[REQUEST_HEADERS] = dict(headers or {})
        return ctx, self.call("proxy_on_request_headers", ctx, len(self._headers[REQUEST_HEADERS]), 0)

    def response_headers(self, ctx: int, headers: dict[str, str], end_of_stream: bool = False) -> int:
        self._headers[RESPONSE_HEADERS] = headers
        return self.call("proxy_on_response_headers", ctx, len(headers), int(end_of_stream))

    def response_body(self, ctx: int, chunk: bytes, end_of_stream: bool = False) -> int:
        self._body = chunk
        return self.call("proxy_on_response_body", ctx, len(chunk), int(end_of_stream))

    def end(self, ctx: int) -> None:
        """What Envoy calls when a stream is over, completed or reset."""
        self.call("proxy_on_done", ctx)
        self.call("proxy_on_log", ctx)
        self.call("proxy_on_delete", ctx)

    # ---- host functions --------------------------------------------------------------------
    def _read(self, ptr: int, size: int) -> bytes:
        return bytes(self.memory.read(self.store, ptr, ptr + size))

    def _write_u32(self, ptr: int, value: int) -> None:
        self.memory.write(self.store, struct.pack("<I", value), ptr)

    def _copy_in(self, data: bytes, ret_ptr: int, ret_size: int) -> int:
        ptr = self.call("proxy_on_memory_allocate", len(data))
        if ptr == 0:
            return 2  # ResultInternalFailure
        self.memory.write(self.store, data, ptr)
        self._write_u32(ret_ptr, ptr)
        self._write_u32(ret_size, len(data))
        return 0

    def _log(self, level: int, ptr: int, size: int) -> int:
        self.logs.append(self._read(ptr, size).decode())
        return 0

    def _define(self, kind: int, ptr: int, size: int, ret: int) -> int:
        name = self._read(ptr, size).decode()
        self.kinds[name] = KINDS[kind]
        self._names.append(name)
        self._write_u32(ret, len(self._names))  # ids from 1, as Envoy's are never 0 here
        return 0

    def _increment(self, metric: int, offset: int) -> int:
        self.counters[self._names[metric - 1]] += offset
        return 0

    def _record(self, metric: int, value: int) -> int:
        self.samples[self._names[metric - 1]].append(value)
        return 0

    def _now(self, ret: int) -> int:
        self.memory.write(self.store, struct.pack("<Q", self.now_ns), ret)
        return 0

    def _buffer(self, kind: int, start: int, max_size: int, ret_ptr: int, ret_size: int) -> int:
        data = {PLUGIN_CONFIGURATION: self.configuration, RESPONSE_BODY: self._body}.get(kind)
        if data is None:
            return 1  # NotFound
        return self._copy_in(data[start:start + max_size], ret_ptr, ret_size)

    def _local_reply(self, status: int, _dp: int, _ds: int, body_ptr: int, body_size: int, *_rest: int) -> int:
        self.local_replies.append((status, self._read(body_ptr, body_size)))
        return 0

    def _header(self, kind: int, key_ptr: int, key_size: int, ret_ptr: int, ret_size: int) -> int:
        value = self._headers.get(kind, {}).get(self._read(key_ptr, key_size).decode())
        if value is None:
            return 1  # NotFound
        return self._copy_in(value.encode(), ret_ptr, ret_size)

;; plano-ratelimit.wat — a tiny proxy-wasm (ABI 0.2.1) HTTP filter for Envoy, hand-written in
;; WebAssembly text format. It stands in for Plano's WASM filter in tests of the observability
;; stack: it emits the same eight custom metrics Plano's llm_gateway filter does, with Plano's
;; names, types and units, so dashboards and alerts built on them can be exercised against a
;; real Envoy without building Plano.
;;
;; Behaviour
;;   * Metrics (defined once per VM in proxy_on_vm_start; Envoy stores them as
;;     "wasmcustom.<name>" and its Prometheus endpoint strips that prefix):
;;       ratelimited_rq          counter   requests answered with a local 429
;;       active_http_calls       gauge     requests that passed the limiter and are still in flight
;;       request_latency         histogram ms from request headers to the end of the response
;;       time_to_first_token     histogram ms from request headers to the first body bytes of a
;;                                         streamed (text/event-stream) response
;;       time_per_output_token   histogram request_latency / completion tokens, in whole ms
;;       tokens_per_second       histogram 1000 / time_per_output_token (not recorded when that
;;                                         is 0, as Plano skips it rather than divide by zero)
;;       input_sequence_length   histogram the response's usage.prompt_tokens
;;       output_sequence_length  histogram the response's usage.completion_tokens (0 when the
;;                                         response reports none)
;;     Plano records the last five at the end of the response body, as this filter does. Where
;;     Plano counts tokens itself (its tokenizer over the request; content length / 4 per streamed
;;     delta), this filter reads the numbers the upstream reports in its OpenAI `usage` object
;;     ("prompt_tokens": N, "completion_tokens": N, found in any body chunk; the last one wins),
;;     so the values are exact for an upstream that reports usage. A number split across two
;;     body chunks is not seen.
;;   * Plugin configuration: a plain decimal integer string, e.g. "5" = request limit.
;;     Absent, empty or invalid (anything but optional whitespace around 1..9 digits) -> 10.
;;   * Every request increments a global counter (one per VM, i.e. per Envoy worker thread;
;;     run Envoy with --concurrency 1 for one global count). It is never reset, not even when
;;     proxy_on_configure runs again, so it counts all requests since the VM started.
;;     Once the counter exceeds the limit, or when the request carries the header
;;     `x-plano-ratelimit` (any value: its selector is exhausted), the request gets a local reply:
;;       429, body "exceeded limit provider=mock, selector=x-plano-observability, tokens_used=<n>"
;;     where <n> is the counter value, and ratelimited_rq is incremented.
;;     Otherwise the start time is remembered, active_http_calls goes +1 and the request
;;     continues. The response headers say whether it streams; each body chunk is scanned for
;;     the usage numbers, and the first chunk of a stream records time_to_first_token. At the
;;     end of the response (headers or body with end_of_stream) the stream is settled: the five
;;     end-of-request histograms are recorded and active_http_calls goes -1.
;;     If a tracked stream ends without a complete response (downstream reset, upstream failure),
;;     proxy_on_done / proxy_on_log / proxy_on_delete undo the +1 instead, recording nothing.
;;
;; Linear memory layout (1 page = 64 KiB initially; grows only if the host asks for more)
;;   0      .. 15      unused, so that no valid pointer is 0
;;   16     .. 23      scratch: u64 returned by proxy_get_current_time_nanoseconds
;;   24     .. 27      scratch: u32 metric id returned by proxy_define_metric
;;   32     .. 35      scratch: pointer returned by proxy_get_buffer_bytes / header value
;;   36     .. 39      scratch: size returned by proxy_get_buffer_bytes / header value
;;   64     .. 127     constant strings: metric names
;;   128    .. 159     constant: local reply details string
;;   160    .. 176     constant: the header name x-plano-ratelimit
;;   192    .. 255     constant: serialized additional response headers for the 429
;;   256    .. 511     log line buffer: constant prefix, then a decimal number appended
;;   512    .. 767     constant strings: more metric names, the usage keys, content-type
;;   1024   .. 1279    429 body buffer: constant prefix, then the decimal count appended
;;   2048   .. 10239   per-stream table, 256 slots x 32 bytes, slot = context_id & 255:
;;                       +0 i64 start time (ns)   +8 i32 tracked flag   +12 i32 context_id
;;                       +16 i32 flags (1 = streamed response, 2 = first token recorded)
;;                       +20 i32 prompt tokens (-1 unknown)  +24 i32 completion tokens (-1 unknown)
;;   10240  .. end     heap for proxy_on_memory_allocate (bump allocator that wraps around)
;;
;; Return values: proxy_on_request_headers / proxy_on_response_headers return a
;; FilterHeadersStatus: 0 = Continue, 1 = StopIteration. Host calls return a WasmResult
;; (0 = Ok); this filter does not need to act on failures other than the configuration read.
(module
  ;; ---- host functions (proxy-wasm ABI 0.2.1, module "env") -------------------------------
  ;; proxy_log(level, message_ptr, message_size) -> result; levels 0 trace .. 2 info .. 5 critical
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))
  ;; proxy_define_metric(type, name_ptr, name_size, return_metric_id_ptr) -> result
  ;; type: 0 counter, 1 gauge, 2 histogram
  (import "env" "proxy_define_metric"
    (func $proxy_define_metric (param i32 i32 i32 i32) (result i32)))
  ;; proxy_increment_metric(metric_id, offset i64) -> result (gauges accept negative offsets)
  (import "env" "proxy_increment_metric"
    (func $proxy_increment_metric (param i32 i64) (result i32)))
  ;; proxy_record_metric(metric_id, value i64) -> result (histogram sample / gauge set)
  (import "env" "proxy_record_metric"
    (func $proxy_record_metric (param i32 i64) (result i32)))
  ;; proxy_get_current_time_nanoseconds(return_time_ptr) -> result; writes a u64 (wall clock)
  (import "env" "proxy_get_current_time_nanoseconds"
    (func $proxy_get_current_time_nanoseconds (param i32) (result i32)))
  ;; proxy_get_buffer_bytes(buffer_type, start, max_size, return_data_ptr, return_size_ptr)
  ;; The host calls proxy_on_memory_allocate for the copy and writes its pointer and size.
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_send_local_response(status, details_ptr, details_size, body_ptr, body_size,
  ;;                           headers_ptr, headers_size, grpc_status) -> result
  ;; grpc_status -1 means "not a gRPC reply".
  (import "env" "proxy_send_local_response"
    (func $proxy_send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  ;; proxy_get_header_map_value(map_type, key_ptr, key_size, return_value_ptr, return_size_ptr)
  ;; -> result: 0 Ok when the header is present, 1 NotFound; map_type 0 = request headers.
  (import "env" "proxy_get_header_map_value"
    (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))

  ;; ---- memory and constants ------------------------------------------------------------------
  (memory (export "memory") 1)

  ;; metric names (offset, length): 64/14, 80/15, 96/17
  (data (i32.const 64) "ratelimited_rq")
  (data (i32.const 80) "request_latency")
  (data (i32.const 96) "active_http_calls")
  ;; response code details shown in Envoy's access log (%RESPONSE_CODE_DETAILS%): 128/24
  (data (i32.const 128) "plano_ratelimit_exceeded")
  ;; request header that marks a request as over its rate limit (a selector already exhausted,
  ;; as Plano's ratelimits[].selector would): 160/17
  (data (i32.const 160) "x-plano-ratelimit")
  ;; Additional headers for the 429, in proxy-wasm's serialized map format:
  ;;   u32 pair count, then per pair u32 key length and u32 value length (little endian),
  ;;   then per pair the key bytes, a NUL, the value bytes, a NUL.
  ;; One pair "x-plano-ratelimited: true" -> 4 + 8 + (19+1) + (4+1) = 37 bytes at 192.
  (data (i32.const 192)
    "\01\00\00\00" "\13\00\00\00" "\04\00\00\00" "x-plano-ratelimited\00" "true\00")
  ;; more metric names (offset, length): 512/19, 544/21, 576/17, 608/21, 640/22
  (data (i32.const 512) "time_to_first_token")
  (data (i32.const 544) "time_per_output_token")
  (data (i32.const 576) "tokens_per_second")
  (data (i32.const 608) "input_sequence_length")
  (data (i32.const 640) "output_sequence_length")
  ;; the usage keys of an OpenAI response, quotes included: 672/15, 704/19
  (data (i32.const 672) "\"prompt_tokens\"")
  (data (i32.const 704) "\"completion_tokens\"")
  ;; response header name and the media type of a streamed answer: 736/12, 752/17
  (data (i32.const 736) "content-type")
  (data (i32.const 752) "text/event-stream")
  ;; log line prefix at 256, 17 bytes; the limit is appended at 273 (Envoy itself prefixes
  ;; the line with the plugin name and root id)
  (data (i32.const 256) "request limit is ")
  ;; 429 body prefix at 1024, 74 bytes; the request count is appended at 1098
  (data (i32.const 1024)
    "exceeded limit provider=mock, selector=x-plano-observability, tokens_used=")

  ;; ---- global state (one copy per VM = per worker thread) ------------------------------------
  (global $limit (mut i32) (i32.const 10))          ;; requests allowed before 429s start
  (global $count (mut i64) (i64.const 0))           ;; requests seen since the VM started
  (global $m_ratelimited (mut i32) (i32.const 0))   ;; metric id of ratelimited_rq
  (global $m_latency (mut i32) (i32.const 0))       ;; metric id of request_latency
  (global $m_active (mut i32) (i32.const 0))        ;; metric id of active_http_calls
  (global $m_ttft (mut i32) (i32.const 0))          ;; metric id of time_to_first_token
  (global $m_tpot (mut i32) (i32.const 0))          ;; metric id of time_per_output_token
  (global $m_tps (mut i32) (i32.const 0))           ;; metric id of tokens_per_second
  (global $m_input (mut i32) (i32.const 0))         ;; metric id of input_sequence_length
  (global $m_output (mut i32) (i32.const 0))        ;; metric id of output_sequence_length
  (global $heap_next (mut i32) (i32.const 10240))    ;; next free byte of the bump heap

  ;; ---- ABI marker ----------------------------------------------------------------------------
  ;; Envoy picks the ABI version from the name of this (empty) export.
  (func (export "proxy_abi_version_0_2_1"))

  ;; ---- allocator -----------------------------------------------------------------------------
  ;; proxy_on_memory_allocate(size) -> pointer. Envoy calls it whenever it copies data into the
  ;; module (the plugin configuration in proxy_on_configure, response body chunks and header
  ;; values). Bump allocation from
  ;; 10240, 8-byte aligned; when the request does not fit before the end of memory the pointer
  ;; wraps back to 10240 (earlier blocks are always consumed before the next host call that
  ;; allocates, so reusing them is safe); if it still does not fit, memory grows. Returns 0
  ;; on failure. Memory use is therefore bounded no matter how many requests pass.
  (func $proxy_on_memory_allocate (export "proxy_on_memory_allocate")
    (param $size i32) (result i32)
    (local $ptr i32) (local $end i32) (local $mem_end i32)
    ;; refuse absurd sizes (also guards the alignment add below against overflow)
    (if (i32.gt_u (local.get $size) (i32.const 0x40000000)) (then (return (i32.const 0))))
    ;; round the size up to a multiple of 8
    (local.set $size (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8)))
    (local.set $mem_end (i32.mul (memory.size) (i32.const 65536)))
    (local.set $ptr (global.get $heap_next))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.gt_u (local.get $end) (local.get $mem_end))
      (then
        ;; wrap around to the heap base
        (local.set $ptr (i32.const 10240))
        (local.set $end (i32.add (local.get $ptr) (local.get $size)))
        (if (i32.gt_u (local.get $end) (local.get $mem_end))
          (then
            ;; grow by the number of 64 KiB pages still missing
            (if (i32.eq
                  (memory.grow
                    (i32.shr_u
                      (i32.add (i32.sub (local.get $end) (local.get $mem_end)) (i32.const 65535))
                      (i32.const 16)))
                  (i32.const -1))
              (then (return (i32.const 0))))))))
    (global.set $heap_next (local.get $end))
    (local.get $ptr))

  ;; ---- helpers -------------------------------------------------------------------------------
  ;; $fmt_u64(dst, value) -> length: writes value in decimal ASCII at dst (no terminator).
  (func $fmt_u64 (param $dst i32) (param $v i64) (result i32)
    (local $len i32) (local $t i64) (local $p i32)
    ;; count the digits
    (local.set $len (i32.const 1))
    (local.set $t (local.get $v))
    (block $counted
      (loop $more
        (br_if $counted (i64.lt_u (local.get $t) (i64.const 10)))
        (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $more)))
    ;; write them from the last one backwards
    (local.set $p (i32.add (local.get $dst) (local.get $len)))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    (local.get $len))

  ;; $is_space(byte) -> 1 for space, tab, CR, LF
  (func $is_space (param $c i32) (result i32)
    (i32.or
      (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
      (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13)))))

  ;; $parse_limit(ptr, size) -> value, or -1 if the text is not 1..9 decimal digits
  ;; (surrounded by optional whitespace).
  (func $parse_limit (param $ptr i32) (param $size i32) (result i32)
    (local $end i32) (local $v i32) (local $c i32)
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    ;; trim leading whitespace
    (block $done
      (loop $lead
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (br_if $done (i32.eqz (call $is_space (i32.load8_u (local.get $ptr)))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $lead)))
    ;; trim trailing whitespace
    (block $done
      (loop $trail
        (br_if $done (i32.ge_u (local.get $ptr) (local.get $end)))
        (br_if $done
          (i32.eqz (call $is_space (i32.load8_u (i32.sub (local.get $end) (i32.const 1))))))
        (local.set $end (i32.sub (local.get $end) (i32.const 1)))
        (br $trail)))
    ;; 1..9 digits only (9 digits cannot overflow an i32)
    (if (i32.or
          (i32.eq (local.get $ptr) (local.get $end))
          (i32.gt_u (i32.sub (local.get $end) (local.get $ptr)) (i32.const 9)))
      (then (return (i32.const -1))))
    (loop $digit
      (local.set $c (i32.sub (i32.load8_u (local.get $ptr)) (i32.const 48)))
      (if (i32.gt_u (local.get $c) (i32.const 9)) (then (return (i32.const -1))))
      (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
      (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
      (br_if $digit (i32.lt_u (local.get $ptr) (local.get $end))))
    (local.get $v))

  ;; $now_ns() -> current wall-clock time in nanoseconds (0 if the host call fails)
  (func $now_ns (result i64)
    (i64.store (i32.const 16) (i64.const 0))
    (drop (call $proxy_get_current_time_nanoseconds (i32.const 16)))
    (i64.load (i32.const 16)))

  ;; $slot(context_id) -> address of the context's 32-byte slot in the stream table
  (func $slot (param $ctx i32) (result i32)
    (i32.add (i32.const 2048) (i32.shl (i32.and (local.get $ctx) (i32.const 255)) (i32.const 5))))

  ;; $define(type, name_ptr, name_size) -> metric id (0 if the host refused)
  (func $define (param $type i32) (param $name i32) (param $len i32) (result i32)
    (i32.store (i32.const 24) (i32.const 0))
    (drop (call $proxy_define_metric
      (local.get $type) (local.get $name) (local.get $len) (i32.const 24)))
    (i32.load (i32.const 24)))

  ;; $bytes_eq(a, b, n) -> 1 if the n bytes at a and b are equal
  (func $bytes_eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; $usage_number(text, size, key, key_size) -> the number after the first `key` in the text
  ;; (then optional whitespace, a colon, optional whitespace, 1..9 digits), or -1 if there is
  ;; none. The key is a JSON member name with its quotes, e.g. "completion_tokens".
  (func $usage_number (param $p i32) (param $size i32) (param $key i32) (param $klen i32) (result i32)
    (local $end i32) (local $v i32) (local $digits i32) (local $c i32)
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    ;; find the key
    (block $found
      (loop $search
        (if (i32.gt_u (i32.add (local.get $p) (local.get $klen)) (local.get $end))
          (then (return (i32.const -1))))
        (br_if $found (call $bytes_eq (local.get $p) (local.get $key) (local.get $klen)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $search)))
    (local.set $p (i32.add (local.get $p) (local.get $klen)))
    ;; whitespace, a colon, whitespace
    (block $done
      (loop $ws
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.eqz (call $is_space (i32.load8_u (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $ws)))
    (if (i32.or (i32.ge_u (local.get $p) (local.get $end))
                (i32.ne (i32.load8_u (local.get $p)) (i32.const 58)))
      (then (return (i32.const -1))))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (block $done
      (loop $ws
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (br_if $done (i32.eqz (call $is_space (i32.load8_u (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $ws)))
    ;; 1..9 digits (no overflow of an i32)
    (block $done
      (loop $digit
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
        (if (i32.eq (local.get $digits) (i32.const 9)) (then (return (i32.const -1))))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digit)))
    (select (local.get $v) (i32.const -1) (i32.gt_u (local.get $digits) (i32.const 0))))

  ;; $elapsed_ms(slot) -> whole milliseconds since the slot's start time; the wall clock can
  ;; step backwards, so never negative.
  (func $elapsed_ms (param $s i32) (result i64)
    (local $ms i64)
    (local.set $ms
      (i64.div_s (i64.sub (call $now_ns) (i64.load (local.get $s))) (i64.const 1000000)))
    (select (local.get $ms) (i64.const 0) (i64.ge_s (local.get $ms) (i64.const 0))))

  ;; $tracked(context_id) -> 1 if the stream passed the limiter and is not settled yet
  (func $tracked (param $ctx i32) (result i32)
    (local $s i32)
    (local.set $s (call $slot (local.get $ctx)))
    (i32.and
      (i32.ne (i32.load offset=8 (local.get $s)) (i32.const 0))
      (i32.eq (i32.load offset=12 (local.get $s)) (local.get $ctx))))

  ;; $untrack(context_id) -> 1 if the stream was tracked (passed the limiter, no response
  ;; headers seen yet); clears the flag so that the stream is settled exactly once.
  (func $untrack (param $ctx i32) (result i32)
    (local $s i32)
    (local.set $s (call $slot (local.get $ctx)))
    (if (call $tracked (local.get $ctx))
      (then
        (i32.store offset=8 (local.get $s) (i32.const 0))
        (return (i32.const 1))))
    (i32.const 0))

  ;; $finish(context_id): the response is complete. For a tracked stream, record the
  ;; end-of-request histograms the way Plano's filter does, and take it off the gauge.
  (func $finish (param $ctx i32)
    (local $s i32) (local $ms i64) (local $out i64) (local $tpot i64)
    (if (i32.eqz (call $untrack (local.get $ctx))) (then (return)))
    (local.set $s (call $slot (local.get $ctx)))
    (local.set $ms (call $elapsed_ms (local.get $s)))
    (drop (call $proxy_record_metric (global.get $m_latency) (local.get $ms)))
    (local.set $out (i64.extend_i32_s (i32.load offset=24 (local.get $s))))
    (if (i64.lt_s (local.get $out) (i64.const 0)) (then (local.set $out (i64.const 0))))
    (if (i64.gt_s (local.get $out) (i64.const 0))
      (then
        (local.set $tpot (i64.div_u (local.get $ms) (local.get $out)))
        (drop (call $proxy_record_metric (global.get $m_tpot) (local.get $tpot)))
        (if (i64.gt_u (local.get $tpot) (i64.const 0))
          (then
            (drop (call $proxy_record_metric (global.get $m_tps)
              (i64.div_u (i64.const 1000) (local.get $tpot))))))))
    (drop (call $proxy_record_metric (global.get $m_output) (local.get $out)))
    (if (i32.ge_s (i32.load offset=20 (local.get $s)) (i32.const 0))
      (then
        (drop (call $proxy_record_metric (global.get $m_input)
          (i64.extend_i32_u (i32.load offset=20 (local.get $s)))))))
    (drop (call $proxy_increment_metric (global.get $m_active) (i64.const -1))))

  ;; $abandon(context_id): a stream ends; if it is still tracked, take it off the gauge.
  (func $abandon (param $ctx i32)
    (if (call $untrack (local.get $ctx))
      (then (drop (call $proxy_increment_metric (global.get $m_active) (i64.const -1))))))

  ;; ---- lifecycle callbacks -------------------------------------------------------------------
  ;; proxy_on_context_create(context_id, parent_context_id): called for the root context
  ;; (parent 0) and for every HTTP stream. Clears the stream's slot.
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (local $s i32)
    (local.set $s (call $slot (local.get $ctx)))
    (i32.store offset=8 (local.get $s) (i32.const 0))
    (i32.store offset=12 (local.get $s) (local.get $ctx))
    (i32.store offset=16 (local.get $s) (i32.const 0)))

  ;; proxy_on_vm_start(root_context_id, vm_configuration_size) -> 1 (ok).
  ;; Defines the eight metrics once per VM.
  (func (export "proxy_on_vm_start") (param $root i32) (param $vm_config_size i32) (result i32)
    (global.set $m_ratelimited (call $define (i32.const 0) (i32.const 64) (i32.const 14)))
    (global.set $m_latency (call $define (i32.const 2) (i32.const 80) (i32.const 15)))
    (global.set $m_active (call $define (i32.const 1) (i32.const 96) (i32.const 17)))
    (global.set $m_ttft (call $define (i32.const 2) (i32.const 512) (i32.const 19)))
    (global.set $m_tpot (call $define (i32.const 2) (i32.const 544) (i32.const 21)))
    (global.set $m_tps (call $define (i32.const 2) (i32.const 576) (i32.const 17)))
    (global.set $m_input (call $define (i32.const 2) (i32.const 608) (i32.const 21)))
    (global.set $m_output (call $define (i32.const 2) (i32.const 640) (i32.const 22)))
    (i32.const 1))

  ;; proxy_on_configure(root_context_id, plugin_configuration_size) -> 1 (ok).
  ;; Reads the plugin configuration (buffer type 7) and parses the limit; default 10.
  ;; The request counter is deliberately left alone.
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (local $v i32) (local $n i32)
    (local.set $v (i32.const -1))
    (if (i32.gt_s (local.get $size) (i32.const 0))
      (then
        (if (i32.eqz (call $proxy_get_buffer_bytes
                       (i32.const 7) (i32.const 0) (local.get $size) (i32.const 32) (i32.const 36)))
          (then
            (local.set $v (call $parse_limit (i32.load (i32.const 32)) (i32.load (i32.const 36))))))))
    (global.set $limit
      (select (local.get $v) (i32.const 10) (i32.ge_s (local.get $v) (i32.const 0))))
    ;; log "request limit is <n>" at info level
    (local.set $n (call $fmt_u64 (i32.const 273) (i64.extend_i32_u (global.get $limit))))
    (drop (call $proxy_log (i32.const 2) (i32.const 256) (i32.add (i32.const 17) (local.get $n))))
    (i32.const 1))

  ;; ---- HTTP callbacks ------------------------------------------------------------------------
  ;; proxy_on_request_headers(context_id, num_headers, end_of_stream) -> action.
  ;; Counts the request; over the limit -> local 429 and StopIteration (1), else track and
  ;; Continue (0).
  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $num_headers i32) (param $eos i32) (result i32)
    (local $s i32) (local $n i32)
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (local.set $s (call $slot (local.get $ctx)))
    (i32.store offset=12 (local.get $s) (local.get $ctx))
    (if (i32.or
          (i64.gt_u (global.get $count) (i64.extend_i32_u (global.get $limit)))
          (i32.eqz (call $proxy_get_header_map_value
            (i32.const 0) (i32.const 160) (i32.const 17) (i32.const 32) (i32.const 36))))
      (then
        ;; not tracked: no latency sample and no gauge change for this stream
        (i32.store offset=8 (local.get $s) (i32.const 0))
        ;; body = constant prefix at 1024 (74 bytes) + the count written at 1098
        (local.set $n (call $fmt_u64 (i32.const 1098) (global.get $count)))
        (drop (call $proxy_send_local_response
          (i32.const 429)
          (i32.const 128) (i32.const 24)                      ;; details
          (i32.const 1024) (i32.add (i32.const 74) (local.get $n)) ;; body
          (i32.const 192) (i32.const 37)                      ;; extra headers
          (i32.const -1)))                                    ;; not gRPC
        (drop (call $proxy_increment_metric (global.get $m_ratelimited) (i64.const 1)))
        (return (i32.const 1))))
    ;; allowed: remember the start time and count the call as active; nothing known yet of
    ;; the response
    (i64.store (local.get $s) (call $now_ns))
    (i32.store offset=8 (local.get $s) (i32.const 1))
    (i32.store offset=16 (local.get $s) (i32.const 0))
    (i32.store offset=20 (local.get $s) (i32.const -1))
    (i32.store offset=24 (local.get $s) (i32.const -1))
    (drop (call $proxy_increment_metric (global.get $m_active) (i64.const 1)))
    (i32.const 0))

  ;; proxy_on_response_headers(context_id, num_headers, end_of_stream) -> 0 (Continue).
  ;; For a tracked stream: note whether the answer streams (content-type text/event-stream);
  ;; a response without a body ends here. Envoy also runs this for the local 429 reply; that
  ;; stream is untracked and skipped.
  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $num_headers i32) (param $eos i32) (result i32)
    (local $s i32)
    (if (call $tracked (local.get $ctx))
      (then
        (local.set $s (call $slot (local.get $ctx)))
        (if (i32.eqz (call $proxy_get_header_map_value
                       (i32.const 2) (i32.const 736) (i32.const 12) (i32.const 32) (i32.const 36)))
          (then
            (if (i32.ge_u (i32.load (i32.const 36)) (i32.const 17))
              (then
                (if (call $bytes_eq (i32.load (i32.const 32)) (i32.const 752) (i32.const 17))
                  (then (i32.store offset=16 (local.get $s) (i32.const 1))))))))
        (if (local.get $eos) (then (call $finish (local.get $ctx))))))
    (i32.const 0))

  ;; proxy_on_response_body(context_id, body_size, end_of_stream) -> 0 (Continue).
  ;; For a tracked stream: the first bytes of a streamed answer record time_to_first_token;
  ;; every chunk is scanned for the usage numbers; end_of_stream settles the stream.
  (func (export "proxy_on_response_body")
    (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (local $s i32) (local $ptr i32) (local $len i32) (local $v i32)
    (if (call $tracked (local.get $ctx))
      (then
        (local.set $s (call $slot (local.get $ctx)))
        (if (i32.gt_s (local.get $size) (i32.const 0))
          (then
            (if (i32.eq (i32.load offset=16 (local.get $s)) (i32.const 1))
              (then
                (drop (call $proxy_record_metric (global.get $m_ttft) (call $elapsed_ms (local.get $s))))
                (i32.store offset=16 (local.get $s) (i32.const 3))))
            (if (i32.eqz (call $proxy_get_buffer_bytes
                           (i32.const 1) (i32.const 0) (local.get $size) (i32.const 32) (i32.const 36)))
              (then
                (local.set $ptr (i32.load (i32.const 32)))
                (local.set $len (i32.load (i32.const 36)))
                (local.set $v (call $usage_number (local.get $ptr) (local.get $len) (i32.const 672) (i32.const 15)))
                (if (i32.ge_s (local.get $v) (i32.const 0))
                  (then (i32.store offset=20 (local.get $s) (local.get $v))))
                (local.set $v (call $usage_number (local.get $ptr) (local.get $len) (i32.const 704) (i32.const 19)))
                (if (i32.ge_s (local.get $v) (i32.const 0))
                  (then (i32.store offset=24 (local.get $s) (local.get $v))))))))
        (if (local.get $eos) (then (call $finish (local.get $ctx))))))
    (i32.const 0))

  ;; proxy_on_response_trailers(context_id, num_trailers) -> 0: trailers end the response.
  (func (export "proxy_on_response_trailers") (param $ctx i32) (param $num i32) (result i32)
    (call $finish (local.get $ctx))
    (i32.const 0))

  ;; proxy_on_done(context_id) -> 1: the stream is finished (also after a reset).
  (func (export "proxy_on_done") (param $ctx i32) (result i32)
    (call $abandon (local.get $ctx))
    (i32.const 1))

  ;; proxy_on_log(context_id): access-log time; settles the stream if on_done did not.
  (func (export "proxy_on_log") (param $ctx i32)
    (call $abandon (local.get $ctx)))

  ;; proxy_on_delete(context_id): the context is gone; last chance to settle the gauge.
  (func (export "proxy_on_delete") (param $ctx i32)
    (call $abandon (local.get $ctx)))
)

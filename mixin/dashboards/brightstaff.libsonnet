// Plano - Brightstaff: brightstaff's own /metrics (HTTP, LLM upstream, routing) and Plano's
// eight WASM metrics and the bright_staff cluster on Envoy's admin, with units, descriptions
// and the fixed datasource.
{
  dashboardPages+:: {
    local p = $.panels,
    local q = $.queries,
    local t = p.target,

    brightstaff: {
      title: 'Plano - Brightstaff',
      description: "Plano's brightstaff from its own Prometheus endpoint (:9092/metrics): HTTP handlers, LLM upstream calls, routing and the process; and Plano's WASM metrics on Envoy's admin (docs/dashboards.md#brightstaff).",
      variables: ['provider', 'model'],
      rows: [
        [
          p.rate('HTTP Requests/sec by Handler', "Requests per second brightstaff's HTTP handlers served (brightstaff_http_requests_total).", [t(q.bsHttpRate(), '{{handler}}')]),
          p.share('HTTP 5xx Share by Handler', 'Share of requests per handler answered with a 5xx status.', [t(q.bsHttp5xxShare(), '{{handler}}')]),
          p.timeseries('HTTP Latency p50/p95/p99 by Handler', 'Request duration percentiles per handler (brightstaff_http_request_duration_seconds).', 's', [
            t(q.bsHttpLatency('0.5'), 'p50 {{handler}}'),
            t(q.bsHttpLatency('0.95'), 'p95 {{handler}}'),
            t(q.bsHttpLatency('0.99'), 'p99 {{handler}}'),
          ]),
          p.timeseries('HTTP In-Flight Requests by Handler', 'Requests being served right now per handler (a gauge).', 'short', [t(q.bsHttpInFlight(), '{{handler}}')]),
        ],
        [
          p.rate('LLM Upstream Calls/sec by Model and Status', "brightstaff's calls to LLM providers per provider, model and status class (error: no upstream status).", [t(q.bsUpstreamRate(), '{{provider}} {{model}} {{status_class}}')]),
          p.rate('LLM Upstream Failures/sec by Provider and Class', 'Failed upstream calls per provider: a 5xx answer (error_class none), or no answer (status_class error: timeout, connect, parse, stream, other).', [t(q.bsUpstreamFailures(), '{{provider}} {{status_class}} {{error_class}}')]),
          p.timeseries('LLM Upstream Latency p95 by Model', 'Upstream call duration, 95th percentile, per provider and model (brightstaff_llm_upstream_duration_seconds).', 's', [t(q.bsUpstreamLatency('0.95'), '{{provider}} {{model}}')]),
          p.timeseries('Time to First Token p95 by Model', "Time to the upstream's first byte, 95th percentile, per provider and model (brightstaff_llm_time_to_first_token_seconds).", 's', [t(q.bsTtft('0.95'), '{{provider}} {{model}}')]),
        ],
        [
          p.rate('Tokens/sec by Model and Kind', 'Token throughput per provider, model and kind (prompt, completion, cache_read, cache_write).', [t(q.bsTokensRate(), '{{provider}} {{model}} {{kind}}')], unit='short'),
          p.rate('Calls Without Usage/sec', 'Upstream answers that reported no token usage, per provider and model (brightstaff_llm_tokens_usage_missing_total): their tokens are missing from every token panel.', [t(q.bsUsageMissing(), '{{provider}} {{model}}')], unit='short'),
          p.rate('Prompt Cache Requests/sec by Outcome', 'Provider prompt-cache outcomes per provider and model.', [t(q.bsPromptCache(), '{{provider}} {{model}} {{outcome}}')]),
        ],
        [
          p.rate('Router Decisions/sec by Selected Model', "The router's model selection distribution (brightstaff_router_decisions_total).", [t(q.bsModelSelection(), '{{selected_model}}')]),
          p.share('Router Fallback Share by Route', 'Share of routing decisions per route that fell back to the default model.', [t(q.bsFallbackShare(), '{{route}}')]),
          p.timeseries('Router Decision p95 by Route', 'Time the router took to decide, 95th percentile, per route.', 's', [t(q.bsRouterLatency('0.95'), '{{route}}')]),
        ],
        [
          p.latency('Envoy Request Latency p50/p95 (WASM)', "Plano's WASM request_latency histogram on Envoy's admin: request headers to the end of the response (ms).", [
            t(q.wasmQuantile('0.5', 'request_latency'), 'p50'),
            t(q.wasmQuantile('0.95', 'request_latency'), 'p95'),
          ]),
          p.latency('Time to First Token p50/p95 (WASM)', "Plano's WASM time_to_first_token: request headers to the first bytes of a streamed answer (ms).", [
            t(q.wasmQuantile('0.5', 'time_to_first_token'), 'p50'),
            t(q.wasmQuantile('0.95', 'time_to_first_token'), 'p95'),
          ]),
          p.latency('Time per Output Token p50/p95 (WASM)', "Plano's WASM time_per_output_token: request latency divided by the answer's tokens, in whole ms.", [
            t(q.wasmQuantile('0.5', 'time_per_output_token'), 'p50'),
            t(q.wasmQuantile('0.95', 'time_per_output_token'), 'p95'),
          ]),
          p.timeseries('Tokens per Second p50/p5 (WASM)', "Plano's WASM tokens_per_second (1000 / time per output token); p5 is the slow tail.", 'short', [
            t(q.wasmQuantile('0.5', 'tokens_per_second'), 'p50'),
            t(q.wasmQuantile('0.05', 'tokens_per_second'), 'p5'),
          ]),
        ],
        [
          p.timeseries('Sequence Lengths p50/p95 (WASM)', "Plano's WASM input_sequence_length and output_sequence_length: tokens per call in and out.", 'short', [
            t(q.wasmQuantile('0.5', 'input_sequence_length'), 'input p50'),
            t(q.wasmQuantile('0.95', 'input_sequence_length'), 'input p95'),
            t(q.wasmQuantile('0.5', 'output_sequence_length'), 'output p50'),
            t(q.wasmQuantile('0.95', 'output_sequence_length'), 'output p95'),
          ]),
          p.timeseries('Envoy Active HTTP Calls (WASM)', "Plano's WASM active_http_calls gauge: calls in flight through Envoy.", 'short', [t(q.wasmActive(), 'active')]),
          p.rate('Envoy → Brightstaff Requests/sec by Status', "Requests Envoy's listeners sent to brightstaff (cluster bright_staff), by the status class brightstaff answered.", [t(q.envoyToBrightstaff(), '{{envoy_response_code_class}}xx')]),
        ],
      ],
    },
  },
}

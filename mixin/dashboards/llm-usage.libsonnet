// Plano - LLM Usage: tokens, cost, time to first token and failure shares per model,
// provider and tenant, derived from spans alone (the collector's signal_to_metrics connector
// and span metrics), so it works wherever Plano's tracing reaches the stack.
{
  dashboardPages+:: {
    local p = $.panels,
    local q = $.queries,
    local t = p.target,

    'llm-usage': {
      title: 'Plano - LLM Usage',
      description: "Tokens, cost, time to first token and failure shares of Plano's LLM calls per model, provider and tenant, from trace-derived metrics (docs/dashboards.md#llm-usage).",
      variables: ['tenant', 'provider', 'model'],
      rows: [
        [
          p.rate('Tokens/sec by Model and Kind', 'Tokens per second in LLM calls, per model and kind (input, output, cache_read, cache_write, reasoning), from the usage attributes of plano(llm) spans.', [t(q.tokensRate(), '{{llm_model}} {{token_kind}}')], unit='short'),
          p.stat('Tokens in Range', 'Tokens used in the selected time range, per model, provider and kind: exactly what the counters grew by (a collector restart within the range shows as less).', [t(q.tokensInRange(), '{{llm_model}} ({{llm_provider}}) {{token_kind}}')]),
        ],
        [
          p.rate('Cost per Hour by Model', "Spend in USD per hour at the current rate, per model: Plano's llm.usage.total_cost_usd on plano(llm) spans (present when Plano has prices for the model).", [t(q.costPerHour(), '{{llm_model}}')], unit='currencyUSD'),
          p.stat('Cost in Range by Tenant', "Spend in USD in the selected time range per tenant (tenant.id, Plano's custom span attribute; none: requests without a tenant header).", [t(q.costInRange(), '{{tenant_id}}')], unit='currencyUSD'),
        ],
        [
          p.latency('Time to First Token p50/p95/p99 by Model', 'Time from the request to the first byte of the answer (llm.time_to_first_token), per model.', [
            t(q.ttftQuantile('0.5'), 'p50 {{llm_model}}'),
            t(q.ttftQuantile('0.95'), 'p95 {{llm_model}}'),
            t(q.ttftQuantile('0.99'), 'p99 {{llm_model}}'),
          ]),
          p.timeseries('Output Tokens/sec per Call p50 by Model', 'Median rate at which a call streams its output after the first token: output tokens / (duration − time to first token).', 'short', [
            t(q.tokensPerSecondQuantile('0.5'), '{{llm_model}}'),
          ]),
        ],
        [
          p.share('Upstream Error Share by Model', 'Share of LLM calls per model that failed upstream (HTTP 5xx, or no status: the call itself failed), from span metrics.', [t(q.llmErrorShare(), '{{llm_model}}')]),
          p.share('Rate-Limited Share by Model', 'Share of LLM calls per model answered 429 (rate limited), from span metrics.', [t(q.llmRateLimitedShare(), '{{llm_model}}')]),
        ],
        [
          p.traceTable('Slowest LLM Calls', 'plano(llm) spans in the range that took longer than %s (_config.dashboards.slowCall), from Tempo; a trace id opens the trace.' % $._config.dashboards.slowCall, q.slowLlmCalls()),
          p.traceTable('Failed LLM Calls', 'plano(llm) spans in the range whose upstream failed (HTTP 5xx or no answer: the collector marks them status error), from Tempo; a trace id opens the trace.', q.failedLlmCalls()),
        ],
      ],
    },
  },
}

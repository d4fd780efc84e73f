// PromQL, one small named function per question a panel or rule asks. Panels and
// recording rules share these, so a metric rename is fixed in one place.
{
  queries+:: {
    local c = $._config,
    local m = c.metricNames,
    local svc = c.plano.services,
    local sel(service, extra='') = '{service_name="%s"%s}' % [service, if extra == '' then '' else ', ' + extra],
    local llm(extra='') = sel(svc.llm, extra),
    // Grafana's model variable narrows the LLM panels; rules pass no filter.
    local joinMatchers(ms) = std.join(', ', std.filter(function(x) x != '', ms)),
    local modelFilter(filtered) = if filtered then 'llm_model=~"$model"' else '',

    llmRequestsByModel(window='$__rate_interval', filtered=true)::
      'sum by (llm_model) (rate(%s%s[%s]))' % [m.calls, llm(modelFilter(filtered)), window],

    agentRequestsByAgent(window='$__rate_interval')::
      'sum by (agent_id) (rate(%s%s[%s]))' % [m.calls, sel(svc.agent), window],

    // Regex over literal service names: parentheses are escaped for the regex (\\( in
    // a PromQL string). Raw `...` strings would be simpler but not every parser takes them.
    requestsByService(window='$__rate_interval')::
      local names = [std.strReplace(std.strReplace(s, '(', '\\\\('), ')', '\\\\)') for s in [svc.llm, svc.agent, svc.orchestrator]];
      'sum by (service_name) (rate(%s{service_name=~"%s"}[%s]))' % [m.calls, std.join('|', names), window],

    // Envoy exports Plano's WASM counter as plain `ratelimited_rq` (no labels).
    rateLimitedEnvoy(window='$__rate_interval')::
      'sum(rate(%s[%s]))' % [m.rateLimited, window],

    // Per-model 429s come from spans: http.status_code is Plano's only error signal.
    rateLimitedByModel(window='$__rate_interval', filtered=true)::
      local extra = joinMatchers(['http_status_code="429"', modelFilter(filtered)]);
      'sum by (llm_model) (rate(%s%s[%s]))' % [m.calls, llm(extra), window],

    // Upstream errors: 5xx, or no status at all (the upstream call itself failed).
    llmErrorsByModel(window='$__rate_interval', filtered=true)::
      local extra = joinMatchers(['http_status_code=~"5..|"', modelFilter(filtered)]);
      'sum by (llm_model) (rate(%s%s[%s]))' % [m.calls, llm(extra), window],

    // q is a string ('0.95'): Jsonnet prints the number 0.95 as 0.94999999999999996.
    llmLatencyQuantile(q, window='$__rate_interval', filtered=true)::
      'histogram_quantile(%s, sum by (le, llm_model) (rate(%s%s[%s])))' % [q, m.durationBucket, llm(modelFilter(filtered)), window],

    // Total since the collector started: the raw cumulative counter, read instantly.
    llmRequestsTotal(filtered=true)::
      'sum by (llm_model) (%s%s)' % [m.calls, llm(modelFilter(filtered))],

    modelValues()::
      'label_values(%s%s, llm_model)' % [m.calls, llm()],

    collectorRefusedSpans(window)::
      'sum(rate(%s[%s]))' % [m.collectorRefused, window],
  },
}

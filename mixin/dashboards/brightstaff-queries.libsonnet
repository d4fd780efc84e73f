// PromQL over brightstaff's own /metrics (Prometheus job `brightstaff`) and Plano's WASM
// metrics on Envoy's admin (job `envoy`), for the Plano - Brightstaff dashboard.
{
  queries+:: {
    local c = $._config,
    local vars = c.dashboards.variables,
    // brightstaff's LLM families carry provider and model: the dashboard's variables narrow them
    local llm(extra='') = '{%s}' % std.join(', ', std.filter(function(x) x != '', [
      '%s=~"$%s"' % [vars[v].brightstaff, v]
      for v in std.objectFields(vars)
      if std.objectHas(vars[v], 'brightstaff')
    ] + [extra])),
    local r(metric, sel='') = 'rate(%s%s[$__rate_interval])' % [metric, sel],
    local q(quantile, by, bucket, sel='') =
      'histogram_quantile(%s, sum by (le, %s) (%s))' % [quantile, by, r(bucket, sel)],

    // HTTP (brightstaff's handlers)
    bsHttpRate():: 'sum by (handler) (%s)' % r('brightstaff_http_requests_total'),
    bsHttp5xxShare()::
      'sum by (handler) (%s) / sum by (handler) (%s)'
      % [r('brightstaff_http_requests_total', '{status_class="5xx"}'), r('brightstaff_http_requests_total')],
    bsHttpLatency(quantile):: q(quantile, 'handler', 'brightstaff_http_request_duration_seconds_bucket'),
    bsHttpInFlight():: 'sum by (handler) (brightstaff_http_in_flight_requests)',
    // LLM upstream
    bsUpstreamRate():: 'sum by (provider, model, status_class) (%s)' % r('brightstaff_llm_upstream_requests_total', llm()),
    bsUpstreamFailures()::
      'sum by (provider, status_class, error_class) (%s)'
      % r('brightstaff_llm_upstream_requests_total', llm('status_class=~"5xx|error"')),
    bsUpstreamLatency(quantile):: q(quantile, 'provider, model', 'brightstaff_llm_upstream_duration_seconds_bucket', llm()),
    bsTtft(quantile):: q(quantile, 'provider, model', 'brightstaff_llm_time_to_first_token_seconds_bucket', llm()),
    bsTokensRate():: 'sum by (provider, model, kind) (%s)' % r('brightstaff_llm_tokens_total', llm()),
    bsUsageMissing():: 'sum by (provider, model) (%s)' % r('brightstaff_llm_tokens_usage_missing_total', llm()),
    // Routing
    bsModelSelection():: 'sum by (selected_model) (%s)' % r('brightstaff_router_decisions_total'),
    bsFallbackShare()::
      'sum by (route) (%s) / sum by (route) (%s)'
      % [r('brightstaff_router_decisions_total', '{fallback="true"}'), r('brightstaff_router_decisions_total')],
    bsRouterLatency(quantile):: q(quantile, 'route', 'brightstaff_router_decision_duration_seconds_bucket'),
    bsPromptCache():: 'sum by (provider, model, outcome) (%s)' % r('brightstaff_prompt_cache_requests_total', llm()),
    // Plano's WASM histograms and gauge on Envoy's admin (no labels)
    wasmQuantile(quantile, name):: 'histogram_quantile(%s, sum by (le) (%s))' % [quantile, r(name + '_bucket')],
    wasmActive():: 'sum(active_http_calls)',
    // Envoy's cluster for brightstaff, by the class of brightstaff's answers
    envoyToBrightstaff():: 'sum by (envoy_response_code_class) (%s)'
                           % r('envoy_cluster_upstream_rq_xx', '{envoy_cluster_name="%s"}' % c.plano.brightstaffCluster),
  },
}

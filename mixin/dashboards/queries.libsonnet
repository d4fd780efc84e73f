// PromQL, one small named function per question a panel or rule asks. Panels and
// recording rules share these, so a metric rename is fixed in one place.
{
  queries+:: {
    local c = $._config,
    local m = c.metricNames,
    local svc = c.plano.services,
    local sel(service, extra='') = '{service_name="%s"%s}' % [service, if extra == '' then '' else ', ' + extra],
    local llm(extra='') = sel(svc.llm, extra),
    // Grafana's variables narrow the panels (_config.dashboards.variables: each component's
    // queries honour the variables whose label its spans carry); rules pass no filter.
    local joinMatchers(ms) = std.join(', ', std.filter(function(x) x != '', ms)),
    // A regex matching exactly these literal values, written as a PromQL string's contents: each
    // RE2 metacharacter escaped with a backslash, which the string itself doubles (`plano\\(llm\\)`).
    local re2Meta = std.stringChars('\\.+*?()|[]{}^$'),
    local literal(s) = std.join('', [if std.member(re2Meta, ch) then '\\\\' + ch else ch for ch in std.stringChars(s)]),
    local anyOf(values) = std.join('|', [literal(x) for x in values]),
    local vars = c.dashboards.variables,
    local varsOf(component) = [
      '%s=~"$%s"' % [vars[v].label, v]
      for v in std.objectFields(vars)
      if std.member(vars[v].services, component)
    ],
    local filterOf(component, filtered) = if filtered then joinMatchers(varsOf(component)) else '',
    local modelFilter(filtered) = filterOf('llm', filtered),

    llmRequestsByModel(window='$__rate_interval', filtered=true)::
      'sum by (llm_model) (rate(%s%s[%s]))' % [m.calls, llm(modelFilter(filtered)), window],

    agentRequestsByAgent(window='$__rate_interval', filtered=true)::
      'sum by (agent_id) (rate(%s%s[%s]))' % [m.calls, sel(svc.agent, filterOf('agent', filtered)), window],

    orchestratorRequestsByListener(window='$__rate_interval', filtered=true)::
      'sum by (selection_listener) (rate(%s%s[%s]))' % [m.calls, sel(svc.orchestrator, filterOf('orchestrator', filtered)), window],

    requestsByService(window='$__rate_interval')::
      local tenant = '%s=~"$tenant"' % vars.tenant.label;
      'sum by (service_name) (rate(%s{service_name=~"%s", %s}[%s]))' % [m.calls, anyOf([svc.llm, svc.agent, svc.orchestrator]), tenant, window],

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

    // The values of a variable's label, from the span metrics of the components that carry it,
    // narrowed by the variables shown before it that narrow it (`narrowedBy`, Grafana's chained
    // variables). Grafana sends the selector as Prometheus's match[] (label_values(metric{…}, label)).
    variableValues(name, shownBefore=[])::
      local v = vars[name];
      local services = [svc[s] for s in v.services];
      local service = if std.length(services) == 1
      then 'service_name="%s"' % services[0]
      else 'service_name=~"%s"' % anyOf(services);
      local narrowing = ['%s=~"$%s"' % [vars[n].label, n] for n in v.narrowedBy if std.member(shownBefore, n)];
      'label_values(%s{%s}, %s)' % [m.calls, joinMatchers([service] + narrowing), v.label],

    // --- LLM usage (signal_to_metrics from plano(llm) spans; _config.usage) ---------------
    // Every usage panel honours the model, provider and tenant variables.
    local usageSel(extra='') = '{%s}' % joinMatchers(varsOf('llm') + [extra]),
    // What a counter grew by over the dashboard's range, exactly: now minus the value a range
    // ago, or all of it for a label set born within the range. (increase() would extrapolate to
    // the range's edges; a collector restart within the range shows here as less.)
    local inRange(by, metric, sel) =
      local now = 'sum by (%s) (%s%s)' % [by, metric, sel];
      '(%s - %s) or %s' % [now, 'sum by (%s) (%s%s offset $__range)' % [by, metric, sel], now],

    tokensRate(by='llm_model, token_kind')::
      'sum by (%s) (rate(%s%s[$__rate_interval]))' % [by, m.usageTokens, usageSel()],
    tokensInRange(by='llm_model, llm_provider, token_kind')::
      inRange(by, m.usageTokens, usageSel()),
    costPerHour(by='llm_model')::
      'sum by (%s) (rate(%s%s[$__rate_interval])) * 3600' % [by, m.usageCost, usageSel('cost_kind="total"')],
    costInRange(by='tenant_id')::
      inRange(by, m.usageCost, usageSel('cost_kind="total"')),
    ttftQuantile(q)::
      'histogram_quantile(%s, sum by (le, llm_model) (rate(%s%s[$__rate_interval])))' % [q, m.usageTtftBucket, usageSel()],
    tokensPerSecondQuantile(q)::
      'histogram_quantile(%s, sum by (le, llm_model) (rate(%s%s[$__rate_interval])))' % [q, m.usageTokensPerSecondBucket, usageSel()],
    // Shares of a model's calls, from the span metrics (which carry no tenant).
    llmErrorShare()::
      '%s / %s' % [self.llmErrorsByModel(), self.llmRequestsByModel()],
    llmRateLimitedShare()::
      '%s / %s' % [self.rateLimitedByModel(), self.llmRequestsByModel()],
    labelValues(label)::
      'label_values(%s, %s)' % [m.usageTokens, label],

    // --- TraceQL (Tempo), for the trace tables and the data links to traces ------------------
    // The LLM spans of the variables' models and providers (both are always set by the
    // collector's model normalization).
    local llmSpans(extra) = '{ resource.service.name = "%s" && span.llm.model =~ "$model" && span.llm.provider =~ "$provider"%s }'
                            % [svc.llm, if extra == '' then '' else ' && ' + extra],
    slowLlmCalls():: llmSpans('duration > %s' % c.dashboards.slowCall),
    failedLlmCalls():: llmSpans('status = error'),
    // one model's calls: a data link fills in the model of the series clicked
    modelTraces(model):: '{ resource.service.name = "%s" && span.llm.model = "%s" }' % [svc.llm, model],

    collectorRefusedSpans(window)::
      'sum(rate(%s[%s]))' % [m.collectorRefused, window],
  },
}

// Prometheus recording rules, named level:metric:operations after the alerts' window, from the
// same queries as the dashboards.
{
  // The rules' names, which the alerts read.
  recordingRuleNames:: {
    local w = $._config.alerts.window,
    requests: 'llm_model:plano_llm_requests:rate' + w,
    errors: 'llm_model:plano_llm_errors:rate' + w,
    ratelimited: 'llm_model:plano_llm_ratelimited:rate' + w,
  },

  prometheusRules+:: {
    local q = $.queries,
    local w = $._config.alerts.window,
    local rec = $.recordingRuleNames,
    groups+: [
      {
        name: 'plano-llm.rules',
        rules: [
          { record: rec.requests, expr: q.llmRequestsByModel(w, filtered=false) },
          { record: rec.errors, expr: q.llmErrorsByModel(w, filtered=false) },
          { record: rec.ratelimited, expr: q.rateLimitedByModel(w, filtered=false) },
        ],
      },
    ],
  },
}

// Prometheus recording rules (level:metric:operations) and alerts (PascalCase),
// built from the same queries as the dashboards.
{
  rules+:: {
    local q = $.queries,
    local w = '5m',

    config: {
      groups: [
        {
          name: 'plano-llm.rules',
          rules: [
            { record: 'llm_model:plano_llm_requests:rate5m', expr: q.llmRequestsByModel(w, filtered=false) },
            { record: 'llm_model:plano_llm_errors:rate5m', expr: q.llmErrorsByModel(w, filtered=false) },
            { record: 'llm_model:plano_llm_ratelimited:rate5m', expr: q.rateLimitedByModel(w, filtered=false) },
          ],
        },
        {
          name: 'plano-llm.alerts',
          rules: [
            {
              alert: 'PlanoLlmHighErrorRatio',
              expr: 'llm_model:plano_llm_errors:rate5m / llm_model:plano_llm_requests:rate5m > 0.05',
              'for': '5m',
              labels: { severity: 'warning' },
              annotations: {
                summary: 'More than 5% of LLM calls to {{ $labels.llm_model }} fail upstream.',
                description: 'Upstream 5xx or failed calls are {{ $value | humanizePercentage }} of requests to {{ $labels.llm_model }}.',
              },
            },
            {
              alert: 'PlanoCollectorRefusingSpans',
              expr: q.collectorRefusedSpans(w) + ' > 0',
              'for': '2m',
              labels: { severity: 'critical' },
              annotations: {
                summary: 'The OpenTelemetry Collector is refusing spans.',
                description: 'Spans are refused at {{ $value }}/s: traces and span metrics are incomplete (memory limit or a bad pipeline).',
              },
            },
          ],
        },
      ],
    },
  },
}

// Prometheus alerts (PascalCase), each with a severity, a summary and a description; built from
// the recording rules and the same queries as the dashboards.
{
  prometheusAlerts+:: {
    local q = $.queries,
    local c = $._config,
    local a = c.alerts,
    local w = a.window,
    local rec = $.recordingRuleNames,
    groups+: [
      {
        name: 'plano-llm.alerts',
        rules: [
          {
            alert: 'PlanoLlmHighErrorRatio',
            expr: '%s / %s > %g' % [rec.errors, rec.requests, a.llmErrorRatio],
            'for': a.llmErrorFor,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'More than %g%% of LLM calls to {{ $labels.llm_model }} fail upstream.' % (a.llmErrorRatio * 100),
              description: 'Upstream 5xx or failed calls are {{ $value | humanizePercentage }} of requests to {{ $labels.llm_model }}.',
            },
          },
          {
            alert: 'PlanoCollectorRefusingSpans',
            expr: q.collectorRefusedSpans(w) + ' > 0',
            'for': a.collectorRefusingFor,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'The OpenTelemetry Collector is refusing spans.',
              description: 'Spans are refused at {{ $value }}/s: traces and span metrics are incomplete (memory limit or a bad pipeline).',
            },
          },
          // The connector's cardinality guard is holding (docs/reliability.md#cardinality): spans
          // with a new label set past the limit lose their labels in one overflow series.
          {
            alert: 'PlanoSpanMetricsCardinalityOverflow',
            expr: 'sum by (exported_job) (increase(%s{otel_metric_overflow="true"}[%s])) > 0' % [c.metricNames.calls, w],
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Span metrics of {{ $labels.exported_job }} passed their cardinality limit.',
              description: '{{ $value | humanize }} spans in %s had a label set past the limit (spanMetrics.cardinalityLimit, %d per source) and count only in the series otel_metric_overflow="true", without model, status or agent: look for a span attribute with runaway values.'
                           % [w, a.spanMetricsCardinalityLimit],
            },
          },
          // Tempo 3's single binary acknowledges a span before it is on disk (up to
          // alerts.tempoUnflushedWindow, docs/reliability.md): a restart is when that window can bite.
          {
            alert: 'PlanoTempoRestarted',
            expr: 'changes(process_start_time_seconds{job="tempo"}[%s]) > 0' % w,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Tempo restarted ({{ $labels.instance }}).',
              description: 'Tempo started anew in the last %s. If it was killed or crashed, traces it acknowledged in the %s before are lost (kept in memory until then); a clean stop loses nothing. See docs/reliability.md.'
                           % [w, a.tempoUnflushedWindow],
            },
          },
          // Tempo dropped spans it had acknowledged: past a per-tenant limit (max_traces_per_user,
          // max_bytes_per_trace, the rate limit); only this counter tells.
          {
            alert: 'PlanoTempoDiscardedSpans',
            expr: 'sum by (job, instance, reason) (increase(%s[%s])) > 0' % [c.metricNames.tempoDiscardedSpans, w],
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Tempo discarded {{ $value | humanize }} acknowledged spans ({{ $labels.reason }}, {{ $labels.instance }}).',
              description: "Tempo dropped spans in the last %s after accepting them, for the reason in the label (a per-tenant limit: live traces, trace size, ingestion rate). Those spans are in no trace. Raise the limit in Tempo's overrides or find the client that exceeds it. See docs/reliability.md." % w,
            },
          },
          // Tempo could not complete or flush a WAL block: the traces in it are at risk (a full
          // disk drops them; docs/reliability.md#a-full-disk).
          {
            alert: 'PlanoTempoFlushFailed',
            // each count keeps its name as a label, so the two can be summed per instance
            expr: 'sum by (job, instance) (label_replace(increase(%s[%s]), "failed", "completion", "", "") or label_replace(increase(%s[%s]), "failed", "flush", "", "")) > 0'
                  % [c.metricNames.tempoFailedCompletions, w, c.metricNames.tempoFailedFlushes, w],
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Tempo failed to write traces to its disk ({{ $labels.instance }}).',
              description: 'Tempo failed {{ $value | humanize }} WAL block completions or flushes in the last %s: the traces in those blocks are lost if it cannot write them out. Check the state disk (full? failing?). See docs/reliability.md.' % w,
            },
          },
          // Prometheus could not write its WAL: the state disk was full (or failing). Prometheus
          // shares it with Tempo, and Tempo 3 stops writing blocks at a full disk and serves
          // none of the traces since until it restarts (docs/reliability.md#a-full-disk). Fires
          // once Prometheus can store samples again, which is when to restart Tempo.
          {
            alert: 'PlanoStateDiskWriteFailed',
            expr: 'increase(%s[%s]) > 0' % [c.metricNames.walWritesFailed, w],
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus could not write to its disk ({{ $labels.instance }}): the state disk was full or failing.',
              description: 'WAL writes failed in the last %s. If the disk the stack keeps its state on filled up, Tempo stores no traces until it restarts: free space, then `invoke down && invoke up` (or restart Tempo). See docs/reliability.md.' % w,
            },
          },
          // A target returned more samples than its job's sample_limit: Prometheus dropped the
          // whole scrape (up = 0). Needs extra_scrape_metrics (scrape_sample_limit).
          {
            alert: 'PlanoScrapeSampleLimitHit',
            expr: 'scrape_samples_scraped > (scrape_sample_limit > 0)',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Prometheus drops every scrape of {{ $labels.job }} ({{ $labels.instance }}): over its sample limit.',
              description: 'The target returned {{ $value }} samples, more than its sample_limit (prometheus.sampleLimit / spanMetricsSampleLimit): none of its metrics are stored until it returns fewer or the limit is raised.',
            },
          },
        ],
      },
    ],
  },
}

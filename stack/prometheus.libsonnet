// Prometheus: scrapes the span metrics, Envoy's admin stats, brightstaff and the
// stack itself; receives Tempo's service-graph metrics by remote write.
{
  prometheus+:: {
    local c = $._config,
    // The rule file Prometheus loads: the mixin's recording rules, then its alerts.
    ruleFile:: { groups: $.prometheusRules.groups + $.prometheusAlerts.groups },
    // Every job has a sample and a label limit (docs/reliability.md#cardinality): a target
    // that explodes fails its own scrapes (alert PlanoScrapeSampleLimitHit), not Prometheus.
    local job(name, target, extra={}) = {
      job_name: name,
      static_configs: [{ targets: [target] }],
      sample_limit: c.prometheus.sampleLimit,
      label_limit: c.prometheus.labelLimit,
    } + extra,

    config: {
      global: {
        scrape_interval: c.prometheus.scrapeInterval,
        evaluation_interval: c.prometheus.scrapeInterval,
        // scrape_sample_limit and scrape_body_size_bytes per target: the sample-limit alert
        // compares the first with scrape_samples_scraped
        extra_scrape_metrics: true,
      },
      rule_files: ['rules.yml'],
      scrape_configs: [
                        job('otel-collector-spanmetrics', c.address('collectorMetrics'), {
                          scrape_interval: c.prometheus.spanMetricsScrapeInterval,
                          // above what the connector's cardinality limit can produce: its overflow series, not
                          // a failed scrape, is what a burst of label values meets
                          sample_limit: c.prometheus.spanMetricsSampleLimit,
                          // Protobuf carries each counter's created timestamp (and exemplars); with
                          // created-timestamp-zero-ingestion a new series starts from 0, so rate() sees its
                          // first spans. Over text, a burst that creates a series shows no rate at all.
                          scrape_protocols: ['PrometheusProto', 'OpenMetricsText1.0.0', 'PrometheusText0.0.4'],
                        }),
                        job('otel-collector', c.address('collectorTelemetry')),
                        // as often as the span metrics: the rate-limit panel is about the last minutes
                        job('envoy', c.planoTarget('envoyAdmin'), {
                          metrics_path: '/stats/prometheus',
                          scrape_interval: c.prometheus.spanMetricsScrapeInterval,
                        }),
                        // brightstaff labels a model named without its provider prefix provider="unknown";
                        // fill in the provider from _config.plano.modelProviders, as the collector does for
                        // spans, so both sources agree per model and provider. Scraped as often as the span
                        // metrics, so the two can be compared at the same freshness.
                        job('brightstaff', c.planoTarget('brightstaff'), {
                          scrape_interval: c.prometheus.spanMetricsScrapeInterval,
                          // The original stays apart (provider_source="config"): brightstaff may also export
                          // the same model under its real provider, and two series may not share a label set.
                          metric_relabel_configs: std.flattenArrays([
                            local match = { source_labels: ['provider', 'model'], regex: 'unknown;%s' % std.strReplace(model, '.', '\\.') };
                            [
                              match { target_label: 'provider_source', replacement: 'config' },
                              match { target_label: 'provider', replacement: c.plano.modelProviders[model] },
                            ]
                            for model in std.objectFields(c.plano.modelProviders)
                          ]),
                        }),
                        job('prometheus', c.address('prometheus')),
                        job('tempo', c.address('tempo')),
                        job('grafana', c.address('grafana')),
                      ] + (if c.tempoGuardsCopy then [job('tempo-guard', '127.0.0.1:%d' % c.ports.tempoGuard)] else [])
                      + c.extraScrapeConfigs,
    },

    // Command-line flags, shared by the Compose service and the native process.
    flags(configFile, dataDir):: [
      '--config.file=' + configFile,
      '--storage.tsdb.path=' + dataDir,
      '--storage.tsdb.retention.time=' + c.prometheus.retention,
      '--web.listen-address=' + c.listen('prometheus'),
      // Tempo's metrics-generator remote-writes service graphs here.
      '--web.enable-remote-write-receiver',
      // Span-metric exemplars carry trace ids: keep them, so panels link to Tempo.
      '--enable-feature=exemplar-storage',
      // A 0 at each counter's created timestamp: the first spans of a new label set count in rate().
      '--enable-feature=created-timestamp-zero-ingestion',
    ],
  },
}

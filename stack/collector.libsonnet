// OpenTelemetry Collector: receives Plano's OTLP traces, forwards them to Tempo and
// derives RED metrics from spans for Prometheus.
{
  collector+:: {
    local c = $._config,
    local sm = c.spanMetrics,

    config: {
      extensions: {
        health_check: { endpoint: c.listen('collectorHealth') },
      },
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: c.listen('otlpGrpc') },
            http: { endpoint: c.listen('otlpHttp') },
          },
        },
      },
      processors: {
        // Refuse data before the process runs out of memory; first in every pipeline.
        memory_limiter: { check_interval: '1s', limit_percentage: 80, spike_limit_percentage: 25 },
        // Short timeout: batching must not eat into the freshness budget.
        batch: { timeout: '200ms', send_batch_size: 8192 },
      },
      connectors: {
        span_metrics: {
          namespace: sm.namespace,
          metrics_flush_interval: sm.flushInterval,
          aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
          histogram: { unit: 'ms', explicit: { buckets: sm.buckets } },
          dimensions: [{ name: d } for d in sm.dimensions],
          exemplars: { enabled: sm.exemplars },
        },
      },
      exporters: {
        [if c.record.enabled then 'file/record']: {
          path: c.recordFile,
          format: 'json',
          flush_interval: '1s',
          rotation: { max_megabytes: c.record.maxMegabytes, max_backups: 1 },
        },
        'otlp_grpc/tempo': {
          endpoint: c.address('tempoOtlpGrpc'),
          tls: { insecure: true },
        },
        prometheus: {
          endpoint: c.listen('collectorMetrics'),
          // OpenMetrics carries the exemplars (trace ids) to Prometheus.
          enable_open_metrics: true,
        },
      },
      service: {
        extensions: ['health_check'],
        telemetry: {
          metrics: {
            level: 'normal',
            readers: [{
              pull: {
                exporter: {
                  prometheus: {
                    host: c.listenHost('collectorTelemetry'),
                    port: c.listenPort('collectorTelemetry'),
                  },
                },
              },
            }],
          },
        },
        pipelines: {
          traces: {
            receivers: ['otlp'],
            processors: ['memory_limiter', 'batch'],
            exporters: ['otlp_grpc/tempo', 'span_metrics'],
          },
          [if c.record.enabled then 'traces/record']: {
            receivers: ['otlp'],
            processors: ['memory_limiter'],
            exporters: ['file/record'],
          },
          'metrics/span_metrics': {
            receivers: ['span_metrics'],
            processors: ['memory_limiter', 'batch'],
            exporters: ['prometheus'],
          },
        },
      },
    },
  },
}

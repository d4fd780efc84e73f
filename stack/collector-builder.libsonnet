// OpenTelemetry Collector Builder (ocb) manifest for a slim collector holding the component
// types that the rendered collector config uses, plus those of the remote backends
// (_config.remote) and the gateway tier, so one binary runs every config the project
// renders, at the pinned release.
{
  collectorBuild+:: {
    local c = $._config,
    local core = 'go.opentelemetry.io/collector/',
    local contrib = 'github.com/open-telemetry/opentelemetry-collector-contrib/',

    // Go module of each component type the collector config may use.
    modules:: {
      receivers: { otlp: core + 'receiver/otlpreceiver' },
      processors: {
        batch: core + 'processor/batchprocessor',
        memory_limiter: core + 'processor/memorylimiterprocessor',
        transform: contrib + 'processor/transformprocessor',
        delta_to_cumulative: contrib + 'processor/deltatocumulativeprocessor',
      },
      exporters: {
        otlp_grpc: core + 'exporter/otlpexporter',
        otlp_http: core + 'exporter/otlphttpexporter',
        prometheus_remote_write: contrib + 'exporter/prometheusremotewriteexporter',
        prometheus: contrib + 'exporter/prometheusexporter',
        file: contrib + 'exporter/fileexporter',
        debug: core + 'exporter/debugexporter',
      },
      connectors: {
        span_metrics: contrib + 'connector/spanmetricsconnector',
        signal_to_metrics: contrib + 'connector/signaltometricsconnector',
      },
      extensions: {
        health_check: contrib + 'extension/healthcheckextension',
        file_storage: contrib + 'extension/storage/filestorage',
        bearertokenauth: contrib + 'extension/bearertokenauthextension',
      },
    },

    local typeOf(id) = std.split(id, '/')[0],
    always:: {
      exporters: ['otlp_http', 'prometheus_remote_write'],
      extensions: ['bearertokenauth'],
    },
    local used(kind) = std.set([typeOf(id) for id in std.objectFields($.collector.config[kind])] + std.get(self.always, kind, [])),
    local module(kind, type) =
      if std.objectHas(self.modules[kind], type) then self.modules[kind][type]
      else error 'no Go module known for collector %s type "%s": add it to collectorBuild.modules in stack/collector-builder.libsonnet' % [kind, type],

    manifest: {
      dist: {
        name: 'otelcol-plano',
        description: 'OpenTelemetry Collector for plano-observability',
        version: c.versions.collector,
        output_path: './build',
      },
      providers: [
        { gomod: '%sconfmap/provider/%s v%s' % [core, p, c.versions.collectorStable] }
        for p in ['envprovider', 'fileprovider']
      ],
    } + {
      [kind]: [{ gomod: '%s v%s' % [module(kind, t), c.versions.collector] } for t in used(kind)]
      for kind in std.objectFields(self.modules)
    },
  },
}

// Native mode: the command line and environment of each local process. `invoke up`
// turns this into a supervisord config; ${VARS} are expanded when the process starts.
{
  native+:: {
    local c = $._config,
    local cfg(file) = '${PLANO_CONFIG_DIR}/' + file,

    processes: {
      mockLlm: {
        binary: 'python',
        args: [
          '-m',
          'plano_obs.dev.mockllm',
          '--host',
          c.bindAddress,
          '--port',
          std.toString(c.ports.mockLlm),
          '--reported-model-suffix=' + c.devPlano.reportedModelSuffix,
        ],
        env: {},
      },
      // The dev Plano (stack/plano.libsonnet): its agents and filters, and brightstaff itself.
      mockAgents: {
        binary: 'python',
        args: [
                '-m',
                'plano_obs.dev.mockagents',
                '--host',
                c.bindAddress,
                '--port',
                std.toString(c.ports.mockAgents),
                '--plano',
                'http://127.0.0.1:%d' % c.ports.brightstaff,
              ]
              + std.flattenArrays([['--agent', '%s=%s' % [a.id, a.model]] for a in c.devPlano.agents])
              + std.flattenArrays([['--filter', f] for f in c.devPlano.filters]),
        env: {},
      },
      brightstaff: {
        binary: 'brightstaff',
        args: [],
        env: {
          BIND_ADDRESS: '%s:%d' % [c.bindAddress, c.ports.brightstaff],
          METRICS_BIND_ADDRESS: '%s:%d' % [c.bindAddress, c.ports.brightstaffMetrics],
          // rendered from plano_config.yaml by planoai when `invoke up` starts it
          PLANO_CONFIG_PATH_RENDERED: '${PLANO_STATE_DIR}/plano/plano_config_rendered.yaml',
          LLM_PROVIDER_ENDPOINT: 'http://127.0.0.1:%d' % c.ports.envoyEgress,
          RUST_LOG: 'info',
        },
        renderPlanoConfig: 'plano_config.yaml',
      },
      envoy: {
        binary: 'envoy',
        // Envoy does not expand variables: `invoke up` writes an expanded copy of envoy.yaml.
        args: $.envoy.args('${PLANO_STATE_DIR}/config/envoy.yaml'),
        env: {},
        expandFiles: ['envoy.yaml'],
      },
      tempo: {
        binary: 'tempo',
        args: ['-config.file=' + cfg('tempo.yaml'), '-config.expand-env=true'],
        env: {},
        // Tempo 3.0.3 can hang on SIGTERM under load (docs/reliability.md): kill it after this
        stopWaitSecs: c.tempo.killAfterSeconds,
      },
      // The Tempo guard (plano_obs/traces/guard.py): watches Tempo and the collector's copy of
      // what it sent, and re-sends what a Tempo crash lost.
      tempoGuard: {
        binary: 'python',
        args: [
          '-m',
          'plano_obs.traces.guard',
          '--tempo',
          'http://127.0.0.1:%d' % c.ports.tempo,
          '--tempo-otlp',
          '127.0.0.1:%d' % c.ports.tempoOtlpGrpc,
          '--copy',
          c.tempoCopyFile,
          '--state-disk',
          c.dataDir('tempo'),
          '--collector-telemetry',
          'http://127.0.0.1:%d/metrics' % c.ports.collectorTelemetry,
          '--loss-window',
          std.toString(c.tempo.lossWindowSeconds),
          '--margin',
          std.toString(c.tempo.resend.marginSeconds),
          '--host',
          c.bindAddress,
          '--port',
          std.toString(c.ports.tempoGuard),
        ],
        env: {},
      },
      collector: {
        binary: 'otelcol-plano',
        args: ['--config=' + cfg('otel-collector.yaml')],
        env: {},
        // folders its exporters write into, made before it starts (the file exporter does not)
        local copy = std.split(c.tempoCopyFile, '/'),
        dirs: if c.tempoGuardsCopy then [std.join('/', copy[0:std.length(copy) - 1])] else [],
      },
      prometheus: {
        binary: 'prometheus',
        args: $.prometheus.flags(cfg('prometheus.yml'), c.dataDir('prometheus')),
        env: {},
      },
      grafana: {
        binary: 'grafana',
        args: ['server', '--homepath=${GRAFANA_HOME}'],
        env: $.grafana.env {
          GF_PATHS_PROVISIONING: cfg('grafana/provisioning'),
          GF_PATHS_DATA: c.dataDir('grafana'),
          GF_PATHS_LOGS: '${PLANO_STATE_DIR}/logs/grafana',
          GF_PATHS_PLUGINS: c.dataDir('grafana') + '/plugins',
          PLANO_DASHBOARDS_DIR: '${PLANO_GENERATED_DIR}/dashboards',
        },
      },
    },
  },
}

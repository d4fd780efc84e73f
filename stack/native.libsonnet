// Native mode: the command line and environment of each local process. `invoke up`
// turns this into a supervisord config; ${VARS} are expanded when the process starts.
{
  native+:: {
    local c = $._config,
    local cfg(file) = '${PLANO_CONFIG_DIR}/' + file,

    processes: {
      mockLlm: {
        binary: 'python',
        args: ['-m', 'plano_obs.mockllm', '--host', c.bindAddress, '--port', std.toString(c.ports.mockLlm)],
        env: {},
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
      },
      collector: {
        binary: 'otelcol-plano',
        args: ['--config=' + cfg('otel-collector.yaml')],
        env: {},
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

// Grafana provisioning: datasources with fixed uids linked both ways, and a provider
// that files the dashboards in one folder. Settings reach Grafana as GF_* variables.
{
  grafana+:: {
    local c = $._config,
    local url(port) = 'http://' + c.address(port),

    datasources: {
      apiVersion: 1,
      datasources: [
        {
          name: 'Prometheus',
          type: 'prometheus',
          uid: c.datasources.prometheus,
          access: 'proxy',
          url: url('prometheus'),
          isDefault: true,
          editable: false,
          jsonData: {
            httpMethod: 'POST',
            timeInterval: c.prometheus.spanMetricsScrapeInterval,
            // Which Prometheus this is: Grafana then asks /api/v1/label/<label>/values?match[]=…
            // for a variable's values (Prometheus ≥ 2.24), not the heavier /api/v1/series.
            prometheusType: 'Prometheus',
            prometheusVersion: c.versions.prometheus,
            // Exemplars carry trace ids: each one opens its trace in Tempo.
            exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: c.datasources.tempo }],
          },
        },
        {
          name: 'Tempo',
          type: 'tempo',
          uid: c.datasources.tempo,
          access: 'proxy',
          url: url('tempo'),
          editable: false,
          jsonData: {
            serviceMap: { datasourceUid: c.datasources.prometheus },
            nodeGraph: { enabled: true },
            search: { hide: false },
            tracesToMetrics: {
              datasourceUid: c.datasources.prometheus,
              spanStartTimeShift: '-5m',
              spanEndTimeShift: '5m',
              tags: [{ key: 'service.name', value: 'service_name' }, { key: 'llm.model', value: 'llm_model' }],
              queries: [{
                name: 'Request rate',
                query: 'sum(rate(%s{$$__tags}[5m]))' % c.metricNames.calls,
              }],
            },
          },
        },
      ],
    },

    dashboardProvider: {
      apiVersion: 1,
      providers: [{
        name: 'plano',
        orgId: 1,
        folder: c.grafana.folder,
        folderUid: c.grafana.folderUid,
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        // Expanded by Grafana at start: the folder differs between container and host.
        options: { path: '$PLANO_DASHBOARDS_DIR', foldersFromFilesStructure: false },
      }],
    },

    // Environment of the Grafana process (Compose service or native process).
    env: {
      GF_SERVER_HTTP_ADDR: c.listenHost('grafana'),
      GF_SERVER_HTTP_PORT: std.toString(c.listenPort('grafana')),
      GF_SECURITY_ADMIN_USER: c.grafana.adminUser,
      GF_AUTH_ANONYMOUS_ENABLED: std.toString(c.grafana.anonymous),
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      GF_ANALYTICS_REPORTING_ENABLED: 'false',
      GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
      GF_USERS_ALLOW_SIGN_UP: 'false',
    },
  },
}

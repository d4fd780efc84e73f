// What every entry point writes with: values only, as {format, value}. plano_obs/config/render.py
// turns them into YAML, JSON, env or Kubernetes files (the C++ Jsonnet's std.manifest* would be
// far slower), and a stack's own description for the Python tasks (stack.json).
{
  yaml(v):: { format: 'yaml', value: v },
  json(v):: { format: 'json', value: v },
  env(v):: { format: 'env', value: v },
  kubernetes(v):: { format: 'kubernetes', value: v },

  // The files both modes write, under '<mode>/': the components' configs and stack.json.
  mode(stack)::
    local c = stack._config;
    local dir = c.mode + '/';
    assert std.set(c.startOrder) == std.objectFields(c.components)
           : '_config.startOrder must name each of _config.components once: %s' % std.join(', ', std.objectFields(c.components));
    {
      [dir + 'otel-collector.yaml']: $.yaml(stack.collector.config),
      [dir + 'tempo.yaml']: $.yaml(stack.tempo.config),
      [dir + 'prometheus.yml']: $.yaml(stack.prometheus.config),
      [dir + 'rules.yml']: $.yaml(stack.prometheus.ruleFile),
      [dir + 'envoy.yaml']: $.yaml(stack.envoy.config),
      [dir + 'grafana/provisioning/datasources/plano.yaml']: $.yaml(stack.grafana.datasources),
      [dir + 'grafana/provisioning/dashboards/plano.yaml']: $.yaml(stack.grafana.dashboardProvider),
      // What the Python tasks need to know about this rendering (ports, probes, pins).
      [dir + 'stack.json']: $.json({
        mode: c.mode,
        bindAddress: c.bindAddress,
        versions: c.versions,
        images: c.images,
        localImages: c.localImages,
        composeHardening: c.compose,
        ports: c.ports,
        containerPorts: c.containerPorts,
        services: c.services,
        portOwner: c.portOwner,
        components: c.components,
        startOrder: c.startOrder,
        componentGroups: c.componentGroups,
        profiles: c.profiles,
        remoteBackends: { traces: c.remote.traces.endpoint, metrics: c.remote.metrics.remoteWriteUrl },
        datasources: c.datasources,
        grafanaUser: c.grafana.adminUser,
        devPlano: c.devPlano,
        modelProviders: c.plano.modelProviders,
        planoServices: c.plano.services,
        brightstaffLlmMetrics: c.plano.brightstaffLlmMetrics,
        brightstaffCluster: c.plano.brightstaffCluster,
        metricNames: c.metricNames,
        serviceGraph: c.serviceGraphRules,
        spanMetricsScrapeInterval: c.prometheus.spanMetricsScrapeInterval,
        spanMetricsFlushInterval: c.spanMetrics.flushInterval,
        spanMetricsDimensions: c.spanMetrics.dimensions,
        stateDisk: c.stateDisk,
        // the longest Tempo holds an acknowledged span in memory only (docs/reliability.md#tempos-loss-window)
        tempoLossWindowSeconds: c.tempo.lossWindowSeconds,
        // whether the collector keeps a copy for the Tempo guard (native, local Tempo, tempo.resend.enabled)
        tempoGuard: c.tempoGuardsCopy,
        dashboards: c.dashboards,
        usage: c.usage,
        grafanaFolder: { title: c.grafana.folder, uid: c.grafana.folderUid },
        // the collector's recording file (natively under ${PLANO_STATE_DIR}; in its container in Compose)
        record: { enabled: c.record.enabled, file: c.recordFile },
        envoyAdmin: c.planoTarget('envoyAdmin'),
        // The dev Envoy's admin as Prometheus scrapes it on the Compose network (`--dev-envoy`), and
        // where the host reaches it (published): `invoke envoy.check` takes one for the other.
        devEnvoyAdmin: { scraped: stack.compose.devEnvoyAdmin, host: '%s:%d' % [c.bindAddress, c.ports.envoyAdmin] },
        envoyAdminCandidates: c.plano.envoyAdminCandidates,
        wasmMetrics: c.plano.wasmMetrics,
        // a Grafana elsewhere: `invoke dashboards.push`, and the rulers `invoke rules.export` writes for
        externalDatasources: stack.kubernetes.externalDatasources.datasources,
        ruler: c.ruler,
        kubernetes: c.kubernetes,
      }),
    },
}

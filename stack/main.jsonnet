// Entry point: renders every generated file for one mode as {relative path: text}.
//   mode       'compose' or 'native'
//   overrides  the user's mixin from stack/local.libsonnet ({} when there is none)
local check = import 'check.libsonnet';

function(mode='compose', overrides={})
  local base =
    // the Plano mixin (dashboards, alerts, rules, and the settings they read), then the stack's own
    (import '../mixin/mixin.libsonnet') +
    (import 'config.libsonnet') +
    (import 'collector.libsonnet') +
    (import 'collector-builder.libsonnet') +
    (import 'tempo.libsonnet') +
    (import 'tempo-scaled.libsonnet') +
    (import 'prometheus.libsonnet') +
    (import 'grafana.libsonnet') +
    (import 'compose.libsonnet') +
    (import 'native.libsonnet') +
    (import 'gateway-tier.libsonnet') +
    (import 'kubernetes.libsonnet') +
    (import 'plano.libsonnet') +
    (import '../envoy/envoy.libsonnet');
  local stack = base + check.overrides(base, overrides) + { _config+:: { mode: mode } };
  // Values only: plano_obs/config/render.py writes them as YAML, JSON or env files (the
  // C++ Jsonnet manifests natively, far faster than std.manifestYamlDoc).
  local yaml(v) = { format: 'yaml', value: v };
  local json(v) = { format: 'json', value: v };
  local dir = mode + '/';
  local c = stack._config;
  // The stack with more _config on top (a part of the scale-out run).
  local part(config) = stack { _config+:: config };
  // The scale-out runs are test topologies of their own: the user's remote backends stay out.
  local isolated = part({ remote+: { traces+: { endpoint: '' }, metrics+: { remoteWriteUrl: '' } } });
  // Each dashboard evaluated once (array elements are), for generated/dashboards/ and Kubernetes.
  local dashboards = [stack.grafanaDashboards[file] for file in std.objectFields(stack.grafanaDashboards)];
  assert std.set(c.startOrder) == std.objectFields(c.components)
         : '_config.startOrder must name each of _config.components once: %s' % std.join(', ', std.objectFields(c.components));

  {
    [dir + 'otel-collector.yaml']: yaml(stack.collector.config),
    [dir + 'tempo.yaml']: yaml(stack.tempo.config),
    [dir + 'prometheus.yml']: yaml(stack.prometheus.config),
    [dir + 'rules.yml']: yaml(stack.prometheus.ruleFile),
    [dir + 'envoy.yaml']: yaml(stack.envoy.config),
    [dir + 'grafana/provisioning/datasources/plano.yaml']: yaml(stack.grafana.datasources),
    [dir + 'grafana/provisioning/dashboards/plano.yaml']: yaml(stack.grafana.dashboardProvider),
    // What the Python tasks need to know about this rendering (ports, probes, pins).
    [dir + 'stack.json']: json({
      mode: mode,
      bindAddress: stack._config.bindAddress,
      versions: stack._config.versions,
      images: stack._config.images,
      localImages: stack._config.localImages,
      composeHardening: stack._config.compose,
      ports: stack._config.ports,
      containerPorts: stack._config.containerPorts,
      services: stack._config.services,
      portOwner: stack._config.portOwner,
      components: stack._config.components,
      startOrder: stack._config.startOrder,
      componentGroups: stack._config.componentGroups,
      profiles: stack._config.profiles,
      remoteBackends: { traces: stack._config.remote.traces.endpoint, metrics: stack._config.remote.metrics.remoteWriteUrl },
      datasources: stack._config.datasources,
      grafanaUser: stack._config.grafana.adminUser,
      devPlano: stack._config.devPlano,
      modelProviders: stack._config.plano.modelProviders,
      planoServices: stack._config.plano.services,
      brightstaffLlmMetrics: stack._config.plano.brightstaffLlmMetrics,
      brightstaffCluster: stack._config.plano.brightstaffCluster,
      metricNames: stack._config.metricNames,
      serviceGraph: stack._config.serviceGraphRules,
      spanMetricsScrapeInterval: stack._config.prometheus.spanMetricsScrapeInterval,
      spanMetricsFlushInterval: stack._config.spanMetrics.flushInterval,
      spanMetricsDimensions: stack._config.spanMetrics.dimensions,
      stateDisk: stack._config.stateDisk,
      dashboards: stack._config.dashboards,
      usage: stack._config.usage,
      grafanaFolder: { title: stack._config.grafana.folder, uid: stack._config.grafana.folderUid },
      // the collector's recording file (natively under ${PLANO_STATE_DIR}; in its container in Compose)
      record: { enabled: stack._config.record.enabled, file: stack._config.recordFile },
      envoyAdmin: stack._config.planoTarget('envoyAdmin'),
      // The dev Envoy's admin as Prometheus scrapes it on the Compose network (`--dev-envoy`), and
      // where the host reaches it (published): `invoke envoy.check` takes one for the other.
      devEnvoyAdmin: { scraped: stack.compose.devEnvoyAdmin, host: '%s:%d' % [c.bindAddress, c.ports.envoyAdmin] },
      envoyAdminCandidates: stack._config.plano.envoyAdminCandidates,
      wasmMetrics: stack._config.plano.wasmMetrics,
      // a Grafana elsewhere: `invoke dashboards.push`, and the rulers `invoke rules.export` writes for
      externalDatasources: stack.kubernetes.externalDatasources.datasources,
      ruler: stack._config.ruler,
      kubernetes: stack._config.kubernetes,
    }),
  } + (
    if mode == 'compose' then {
      [dir + 'docker-compose.yaml']: yaml(stack.compose.config),
      [dir + 'docker-compose.local-images.yaml']: yaml(stack.compose.localImages),
      [dir + 'docker-compose.dev-envoy.yaml']: yaml(stack.compose.devEnvoy),
      // The same Prometheus, scraping the dev Envoy of the Compose network (`--dev-envoy`).
      [dir + 'prometheus.dev-envoy.yml']: yaml(part({ plano+: { envoyAdmin+: { compose: stack.compose.devEnvoyAdmin } } }).prometheus.config),
    } else {
      [dir + 'processes.json']: json(stack.native.processes),
      [dir + 'plano_config.yaml']: yaml(stack.devPlano.config),
      // The gateway tier of the scale-out run (stack/gateway-tier.libsonnet): each part is the stack's own
      // component with the scale run's _config on top.
      [dir + 'gateway-tier/agent-collector.yaml']: yaml(stack.gatewayTier.agent),
      [dir + 'gateway-tier/balancer-envoy.yaml']: yaml(stack.gatewayTier.balancer),
      [dir + 'gateway-tier/prometheus.yml']: yaml(stack.gatewayTier.prometheus),
      [dir + 'gateway-tier/remote-prometheus.yml']: yaml(stack.gatewayTier.remotePrometheus),
      [dir + 'gateway-tier/tempo.yaml']: yaml(part(stack.gatewayTier.backendConfig).tempo.config),
      [dir + 'gateway-tier/tier.json']: json({
        gateways: c.gatewayTier.gateways,
        gatewayLabel: c.gatewayTier.gatewayLabel,
        ports: c.gatewayTier.ports,
        gatewayIds: [stack.gatewayTier.gatewayId(i) for i in std.range(0, c.gatewayTier.gateways - 1)],
        prometheusFlags: part(stack.gatewayTier.backendConfig).prometheus.flags('${PLANO_CONFIG_DIR}/prometheus.yml', '${PLANO_STATE_DIR}/data'),
        remotePrometheusFlags: stack.gatewayTier.remoteFlags('${PLANO_CONFIG_DIR}/remote-prometheus.yml', '${PLANO_STATE_DIR}/data'),
        tempoArgs: ['-config.file=${PLANO_CONFIG_DIR}/tempo.yaml', '-config.expand-env=true'],
        // the combined run: these gateways instead, sending to the scaled-out Tempo (scale.json)
        combined: {
          gatewayConfigs: ['combined/gateway-%d.yaml' % i for i in std.range(0, c.gatewayTier.gateways - 1)],
          tempoOtlpGrpc: stack.tempoScaled.distributor.otlp,
        },
      }),
    } + {
      [dir + 'gateway-tier/gateway-%d.yaml' % i]: yaml(part(stack.gatewayTier.gatewayConfig(i)).collector.config)
      for i in std.range(0, c.gatewayTier.gateways - 1)
    } + {
      [dir + 'gateway-tier/combined/gateway-%d.yaml' % i]: yaml(part(stack.gatewayTier.combinedGatewayConfig(i)).collector.config)
      for i in std.range(0, c.gatewayTier.gateways - 1)
    } + {
      // Tempo scaled out (native only): one config per component, Kafka, the comparison.
      'scale/scale.json': json(isolated.tempoScaled.info),
      'scale/tempo-single.yaml': yaml(isolated.tempoScaled.single),
      'scale/kafka.properties': { format: 'env', value: isolated.tempoScaled.kafkaProperties },
      'scale/prometheus.yml': yaml(isolated.tempoScaled.prometheus),
      'scale/otel-collector.yaml': yaml(isolated.tempoScaled.collector),
    } + {
      ['scale/tempo-%s.yaml' % name]: yaml(isolated.tempoScaled.config(name))
      for name in std.objectFields(isolated.tempoScaled.components)
    }
  ) + {
    // Mode-independent: the slim collector build and the dashboards.
    'collector/otelcol-builder.yaml': yaml(stack.collectorBuild.manifest),
  } + {
    // Mode-independent: the gateway tier for Kubernetes (docs/scale-out.md#kubernetes).
    ['kubernetes/' + name]: { format: 'kubernetes', value: stack.kubernetes.manifests[name] }
    for name in std.objectFields(stack.kubernetes.manifests)
  } + {
    ['dashboards/%s.json' % d.uid]: json(d)
    for d in dashboards
  } + {
    ['kubernetes/grafana-dashboard-%s-configmap.yaml' % d.uid]: { format: 'kubernetes', value: stack.kubernetes.dashboardConfigMap(d) }
    for d in dashboards
  }

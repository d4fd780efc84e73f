// The collector gateway tier of the local scale-out run (stack/gateway-tier.libsonnet,
// docs/scale-out.md#gateway-tier): generated/native/gateway-tier/. Each part is the native
// stack's own component with the tier's _config on top.
local stackOf = import '../stack.libsonnet';
local files = import 'files.libsonnet';

function(overrides={})
  // a test topology: no Tempo guard (its copy and process belong to the stack's own collector)
  local stack = stackOf('native', overrides) { _config+:: { tempo+: { resend+: { enabled: false } } } };
  local c = stack._config;
  local part(config) = stack { _config+:: config };
  local dir = 'native/gateway-tier/';
  local gateways = std.range(0, c.gatewayTier.gateways - 1);
  {
    [dir + 'agent-collector.yaml']: files.yaml(stack.gatewayTier.agent),
    [dir + 'balancer-envoy.yaml']: files.yaml(stack.gatewayTier.balancer),
    [dir + 'prometheus.yml']: files.yaml(stack.gatewayTier.prometheus),
    [dir + 'remote-prometheus.yml']: files.yaml(stack.gatewayTier.remotePrometheus),
    [dir + 'tempo.yaml']: files.yaml(part(stack.gatewayTier.backendConfig).tempo.config),
    [dir + 'tier.json']: files.json({
      gateways: c.gatewayTier.gateways,
      gatewayLabel: c.gatewayTier.gatewayLabel,
      ports: c.gatewayTier.ports,
      gatewayIds: [stack.gatewayTier.gatewayId(i) for i in gateways],
      prometheusFlags: part(stack.gatewayTier.backendConfig).prometheus.flags('${PLANO_CONFIG_DIR}/prometheus.yml', '${PLANO_STATE_DIR}/data'),
      remotePrometheusFlags: stack.gatewayTier.remoteFlags('${PLANO_CONFIG_DIR}/remote-prometheus.yml', '${PLANO_STATE_DIR}/data'),
      tempoArgs: ['-config.file=${PLANO_CONFIG_DIR}/tempo.yaml', '-config.expand-env=true'],
      // the combined run: these gateways instead, sending to the scaled-out Tempo (scale.json)
      combined: {
        gatewayConfigs: ['combined/gateway-%d.yaml' % i for i in gateways],
        tempoOtlpGrpc: stack.tempoScaled.distributor.otlp,
      },
    }),
  } + {
    [dir + 'gateway-%d.yaml' % i]: files.yaml(part(stack.gatewayTier.gatewayConfig(i)).collector.config)
    for i in gateways
  } + {
    [dir + 'combined/gateway-%d.yaml' % i]: files.yaml(part(stack.gatewayTier.combinedGatewayConfig(i)).collector.config)
    for i in gateways
  }

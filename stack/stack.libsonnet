// The assembled stack for one mode: the Plano mixin (dashboards, alerts, rules and the settings
// they read), the stack's settings and every component, with the user's overrides checked and
// applied. Each entry point in stack/deploy/ renders the parts its deployment needs from it;
// Jsonnet evaluates lazily, so what an entry point does not read is never computed.
//   mode       'compose' or 'native'
//   overrides  the user's mixin from stack/local.libsonnet ({} when there is none)
local check = import 'check.libsonnet';

function(mode, overrides={})
  local base =
    (import '../mixin/mixin.libsonnet') +
    (import 'config.libsonnet') +
    (import 'dev-tools.libsonnet') +
    (import 'topologies.libsonnet') +
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
  base + check.overrides(base, overrides) + { _config+:: { mode: mode } }

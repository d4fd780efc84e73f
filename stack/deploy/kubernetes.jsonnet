// The gateway tier for Kubernetes (stack/kubernetes.libsonnet, docs/scale-out.md#kubernetes):
// generated/kubernetes/, the dashboards as ConfigMaps included. Its settings are
// `_config.kubernetes`; the stack's mode does not reach it.
local stackOf = import '../stack.libsonnet';
local files = import 'files.libsonnet';

function(overrides={})
  local stack = stackOf('compose', overrides);
  {
    ['kubernetes/' + name]: files.kubernetes(stack.kubernetes.manifests[name])
    for name in std.objectFields(stack.kubernetes.manifests)
  } + {
    ['kubernetes/grafana-dashboard-%s-configmap.yaml' % d.uid]: files.kubernetes(stack.kubernetes.dashboardConfigMap(d))
    for d in [stack.grafanaDashboards[f] for f in std.objectFields(stack.grafanaDashboards)]
  }

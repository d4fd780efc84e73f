// The Grafana dashboards (`invoke dashboards.build`): generated/dashboards/, from the mixin
// with the stack's settings and the user's overrides (datasource uids, selectors, windows).
local stackOf = import '../stack.libsonnet';
local files = import 'files.libsonnet';

function(overrides={})
  local stack = stackOf('compose', overrides);
  {
    ['dashboards/%s.json' % stack.grafanaDashboards[f].uid]: files.json(stack.grafanaDashboards[f])
    for f in std.objectFields(stack.grafanaDashboards)
  }

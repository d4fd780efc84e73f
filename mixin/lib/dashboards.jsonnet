// The dashboards alone, one file each: jsonnet -J vendor -m out/ lib/dashboards.jsonnet
(import '../mixin.libsonnet').grafanaDashboards

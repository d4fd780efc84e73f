// The Plano monitoring mixin: Grafana dashboards, Prometheus alerts and recording rules for the
// Plano LLM gateway's telemetry, as monitoring mixins have them:
//   grafanaDashboards  {'<uid>.json': dashboard}
//   prometheusAlerts   {groups: [...]}  (a Prometheus rule file)
//   prometheusRules    {groups: [...]}
// Override `_config` (config.libsonnet) to fit your Prometheus, e.g. the service names your
// Plano's spans carry, the alert thresholds or the datasource uids. lib/ renders each part alone.
(import 'config.libsonnet') +
(import 'dashboards/dashboards.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'alerts/alerts.libsonnet')

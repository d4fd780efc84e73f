// The alerts alone, as a Prometheus rule file: jsonnet -S -e "std.manifestYamlDoc(import 'lib/alerts.jsonnet')"
(import '../mixin.libsonnet').prometheusAlerts

// The recording rules alone, as a Prometheus rule file.
(import '../mixin.libsonnet').prometheusRules

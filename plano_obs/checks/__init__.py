"""checks of what the stack serves: Grafana's requests emulated, dashboards.check, PromQL, Envoy, the lint."""

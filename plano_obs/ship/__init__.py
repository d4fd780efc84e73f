"""shipping into systems that already run: dashboards into a Grafana, rules into a ruler."""

module plano-observability/healthcheck

go 1.24

"""plano-observability: config-as-code observability stack for the Plano LLM gateway."""

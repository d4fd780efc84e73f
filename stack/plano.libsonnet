// The development Plano's own config (Plano's plano_config.yaml format, v0.4.0), rendered at
// `invoke up` by Plano's `planoai` package into what brightstaff reads. Agents and filters
// are served by the mock agents; every model by the mock LLM behind the dev Envoy.
{
  devPlano+:: {
    local c = $._config,
    local d = c.devPlano,
    local mockAgents = 'http://127.0.0.1:%d' % c.ports.mockAgents,

    config: {
      version: 'v0.4.0',
      agents: [{ id: a.id, url: mockAgents } for a in d.agents],
      filters: [{ id: f, url: '%s/%s' % [mockAgents, f], type: 'http' } for f in d.filters],
      listeners: [
        {
          type: 'agent',
          name: d.listener,
          // Envoy's listener ports in a real Plano (its defaults); nothing binds them here.
          port: 10000,
          router: 'plano_orchestrator_v1',
          agents: [
            { id: d.agents[i].id, description: d.agents[i].description, input_filters: d.filters }
            + (if i == 0 then { default: true } else {})
            for i in std.range(0, std.length(d.agents) - 1)
          ],
        },
        { type: 'model', name: 'model_listener', port: 12000 },
      ],
      model_providers: [
        // the mock needs no key; planoai wants one for the hosted providers
        { model: c.devPlano.models[i], access_key: 'mock-key-not-secret' } + (if i == 0 then { default: true } else {})
        for i in std.range(0, std.length(d.models) - 1)
      ],
      tracing: {
        random_sampling: 100,
        opentracing_grpc_endpoint: 'http://' + c.address('otlpGrpc'),
        span_attributes: { header_prefixes: [d.headerPrefix] },
      },
    },
  },
}

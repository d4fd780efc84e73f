// Plano - Requests Overview: the seed's six panels, correct for current releases, with the
// orchestrator's requests per listener and Tempo's service graph: eight panels in four rows.
{
  dashboardPages+:: {
    local p = $.panels,
    local q = $.queries,
    local t = p.target,

    'requests-overview': {
      title: 'Plano - Requests Overview',
      description: 'LLM traffic through Plano: request rates per model and agent, rate limits, latency and totals, from trace-derived span metrics and Envoy stats.',
      variables: ['tenant', 'provider', 'model', 'agent', 'listener'],
      rows: [
        [
          p.rate('LLM Requests/sec by Model', 'Requests per second to each upstream model (plano(llm) spans); a series links to its traces.', [t(q.llmRequestsByModel(), '{{llm_model}}')])
          + p.withLinks([p.traceLink('Traces of ${__field.labels.llm_model}', q.modelTraces('MODEL'), { MODEL: '__field.labels.llm_model' })]),
          p.rate('Agent Requests/sec by Agent', 'Invocations per second of each agent chosen by the orchestrator (plano(agent) spans).', [t(q.agentRequestsByAgent(), '{{agent_id}}')]),
          p.rate('Orchestrator Requests/sec by Listener', "Requests per second the orchestrator routed to agents, per agent listener (plano(orchestrator) spans' selection.listener).", [t(q.orchestratorRequestsByListener(), '{{selection_listener}}')]),
        ],
        [
          p.rate('Total Requests/sec', 'Requests per second across the LLM, agent and orchestrator components.', [t(q.requestsByService(), '{{service_name}}')]),
          p.rate('Rate-Limited Requests/sec', "HTTP 429s per second: Envoy's global ratelimited_rq counter, and per model from spans with http.status_code 429.", [
            t(q.rateLimitedEnvoy(), 'envoy (all models)'),
            t(q.rateLimitedByModel(), '{{llm_model}}'),
          ]),
        ],
        [
          p.latency('LLM Latency p50/p95/p99 by Model', 'End-to-end latency percentiles of upstream LLM calls per model; exemplar points open the trace in Tempo.', [
            t(q.llmLatencyQuantile('0.5'), 'p50 {{llm_model}}'),
            t(q.llmLatencyQuantile('0.95'), 'p95 {{llm_model}}'),
            t(q.llmLatencyQuantile('0.99'), 'p99 {{llm_model}}'),
          ]),
          p.stat('Cumulative Request Count', 'LLM requests per model since the collector started (the cumulative span-metrics counter).', [t(q.llmRequestsTotal(), '{{llm_model}}')]),
        ],
        [
          p.serviceMap('Service Graph', "Calls between the user, Plano's components, its agents and filters, and the LLM providers, from Tempo's service-graph metrics over the dashboard's range (docs/architecture.md#service-graph)."),
        ],
      ],
    },
  },
}

// The Plano monitoring mixin's settings: only what its dashboards, alerts and rules read.
// Everything is under the hidden `_config` object; dashboards, alerts and rules read
// `$._config`, so an override reaches all of them:
//
//   (import 'mixin/mixin.libsonnet') + { _config+:: { alerts+: { llmErrorRatio: 0.1 } } }
//
// A deployment (stack/) adds its own settings on top of these.
{
  _config+:: {
    // The span-metrics connector's namespace: its Prometheus names are
    // <namespace with _>_calls_total and so on (set explicitly in the collector: its default
    // changed in collector 0.109).
    spanMetrics+: { namespace: 'traces.span.metrics' },
    // The LLM usage metrics' namespace (plano_llm_tokens_total, plano_llm_cost_usd_total, …).
    usage+: { namespace: 'plano.llm' },

    // Plano's components, as their spans' resource service.name: the label that selects them.
    plano+: {
      // OTLP resource service.name of each Plano component.
      services: {
        llm: 'plano(llm)',
        routing: 'plano(routing)',
        orchestrator: 'plano(orchestrator)',
        agent: 'plano(agent)',
        filter: 'plano(filter)',
        inbound: 'plano(inbound)',
        outbound: 'plano(outbound)',
      },
      // Plano's Envoy cluster for brightstaff (Envoy's cluster stats carry it as envoy_cluster_name).
      brightstaffCluster: 'bright_staff',
    },

    // Fixed datasource uids, so links between Prometheus and Tempo always resolve.
    datasources: {
      prometheus: 'plano-prometheus',
      tempo: 'plano-tempo',
    },

    // What every dashboard shares (dashboards/dashboards.libsonnet applies it once).
    dashboards: {
      uidPrefix: 'plano-',  // each dashboard's uid is this plus its name
      tags: ['plano', 'llm'],  // the first also links the dashboards to each other
      refresh: '10s',
      timeFrom: 'now-1h',  // default time range: from here to now
      timezone: 'browser',
      slowCall: '2s',  // the Slowest LLM Calls table lists plano(llm) spans longer than this
      traceRows: 20,  // rows of each trace table
      // Dashboard variables: the label each narrows, and the Plano components whose span metrics
      // carry it (the LLM usage metrics count as `llm`). Every query of such a component on a
      // dashboard with the variable must honour it (a lint rule). `narrowedBy`: the variables
      // whose selection narrows this one's values (Grafana's chained variables), where the
      // dashboard shows them before it: pick a tenant, and the model list holds its models only.
      // A dashboard lists its variables in the order it shows them.
      variables: {
        // `brightstaff`: the same label in brightstaff's own LLM metrics (plano.brightstaffLlmMetrics)
        tenant: { label: 'tenant_id', title: 'Tenant', services: ['llm', 'agent', 'orchestrator'], narrowedBy: [] },
        provider: { label: 'llm_provider', title: 'Provider', services: ['llm'], brightstaff: 'provider', narrowedBy: ['tenant'] },
        model: { label: 'llm_model', title: 'Model', services: ['llm'], brightstaff: 'model', narrowedBy: ['tenant', 'provider'] },
        agent: { label: 'agent_id', title: 'Agent', services: ['agent'], narrowedBy: ['tenant'] },
        listener: { label: 'selection_listener', title: 'Listener', services: ['orchestrator'], narrowedBy: ['tenant'] },
      },
    },


    // Alerts (alerts/) and recording rules (rules/): the window of their rates, and thresholds.
    alerts: {
      window: '5m',  // rate()/increase() window; recording rules are named after it (…:rate5m)
      llmErrorRatio: 0.05,  // PlanoLlmHighErrorRatio: share of a model's calls that fail upstream
      llmErrorFor: '5m',  // … for this long
      collectorRefusingFor: '2m',  // PlanoCollectorRefusingSpans: refusing spans for this long
      // Facts the descriptions quote; a deployment sets them from its own settings.
      spanMetricsCardinalityLimit: 2000,  // PlanoSpanMetricsCardinalityOverflow: the collector's limit per source
      tempoUnflushedWindow: '6s',  // PlanoTempoRestarted: the longest Tempo holds an acknowledged span in memory only
    },


    // Derived: the Prometheus names of the span metrics ('.' becomes '_').
    metricNames: {
      local prefix = std.strReplace($._config.spanMetrics.namespace, '.', '_'),
      calls: prefix + '_calls_total',
      durationBucket: prefix + '_duration_milliseconds_bucket',
      durationCount: prefix + '_duration_milliseconds_count',
      // Tempo's service-graph metrics (fixed names; Grafana's service map reads these).
      serviceGraphRequests: 'traces_service_graph_request_total',
      serviceGraphFailed: 'traces_service_graph_request_failed_total',
      serviceGraphServerSecondsSum: 'traces_service_graph_request_server_seconds_sum',
      // Plano's rate-limit counter, as Envoy exports it (one of plano.wasmMetrics, no labels).
      rateLimited: 'ratelimited_rq',
      // The collector's own receiver counters (0.161 exports counters without _total).
      collectorAccepted: 'otelcol_receiver_accepted_spans',
      collectorRefused: 'otelcol_receiver_refused_spans',
      collectorSent: 'otelcol_exporter_sent_spans',
      collectorSendFailed: 'otelcol_exporter_send_failed_spans',
      // The LLM usage metrics (_config.usage), as the collector's Prometheus exporter names them.
      local usage = std.strReplace($._config.usage.namespace, '.', '_'),
      usageTokens: usage + '_tokens_total',
      usageCost: usage + '_cost_usd_total',
      usageTtftBucket: usage + '_time_to_first_token_milliseconds_bucket',
      usageTokensPerSecondBucket: usage + '_output_tokens_per_second_bucket',
      // Prometheus's own count of failed WAL writes: a full disk, seen once it can write again.
      walWritesFailed: 'prometheus_tsdb_wal_writes_failed_total',
      // Tempo's own counts of acknowledged spans it lost: dropped at a limit (by `reason`), and
      // WAL blocks it could not complete or flush (a full or failing disk).
      tempoDiscardedSpans: 'tempo_discarded_spans_total',
      tempoFailedCompletions: 'tempo_live_store_failed_completions_total',
      tempoFailedFlushes: 'tempo_live_store_local_failed_flushes_total',
    },

  },
}

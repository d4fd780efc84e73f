// OpenTelemetry Collector: receives Plano's OTLP traces, forwards them to Tempo and
// derives RED metrics from spans for Prometheus.
{
  collector+:: {
    local c = $._config,
    local sm = c.spanMetrics,
    local svc = c.plano.services,
    local sg = c.serviceGraph,
    local isService(name) = 'resource.attributes["service.name"] == "%s"' % svc[name],

    // One model, one series (docs/architecture.md#one-model-one-series). brightstaff appends
    // `llm.model` twice: the model as the client named it (maybe `provider/model`), then the
    // one the upstream reported (maybe a dated id); span metrics would take the first, and
    // errors carry only the first. So: `llm.model` is the requested model without its provider
    // prefix (as brightstaff's own metrics label it), the two originals are kept as
    // `llm.model.requested` / `llm.model.reported`, and `llm.provider` is always set (from the
    // prefix, else from _config.plano.modelProviders). delete_key removes one copy at a time.
    local llm = isService('llm'),
    local a(key) = 'span.attributes["%s"]' % key,
    modelStatements:: [
      'set(%s, %s) where %s and %s != nil' % [a('llm.model.requested'), a('llm.model'), llm, a('llm.model')],
      'delete_key(span.attributes, "llm.model") where %s' % llm,
      'set(%s, %s) where %s and %s != nil' % [a('llm.model.reported'), a('llm.model'), llm, a('llm.model')],
      'delete_key(span.attributes, "llm.model") where %s' % llm,
      'set(%s, %s) where %s and %s != nil' % [a('llm.model'), a('llm.model.requested'), llm, a('llm.model.requested')],
      'set(%s, %s) where %s and %s == nil and IsMatch(%s, "^[^/]+/")' % [a('llm.provider'), a('llm.model.requested'), llm, a('llm.provider'), a('llm.model.requested')],
      'replace_pattern(%s, "^([^/]+)/.*$", "$$1") where %s' % [a('llm.provider'), llm],
      'replace_pattern(%s, "^[^/]+/", "") where %s' % [a('llm.model'), llm],
    ] + [
      'set(%s, "%s") where %s and %s == nil and %s == "%s"' % [a('llm.provider'), c.plano.modelProviders[m], llm, a('llm.provider'), a('llm.model'), m]
      for m in std.objectFields(c.plano.modelProviders)
    ],
    // Keys brightstaff writes twice with the same value: keep one.
    dedupeStatements:: std.flattenArrays([
      [
        'set(%s, %s) where %s != nil' % [a('plano.dedupe'), a(key), a(key)],
        'delete_key(span.attributes, "%s")' % key,
        'delete_key(span.attributes, "%s")' % key,
        'set(%s, %s) where %s != nil' % [a(key), a('plano.dedupe'), a('plano.dedupe')],
        'delete_key(span.attributes, "plano.dedupe")',
      ]
      for key in c.plano.duplicatedKeys
    ]),

    // OTTL statements that shape Plano's spans before Tempo and the span metrics see them.
    // Plano's own attributes are never removed; what is set is said in docs/architecture.md.
    planoStatements:: $.collector.modelStatements + $.collector.dedupeStatements + (
      if sg.enabled then std.flattenArrays([
        [
          'set(span.kind, SPAN_KIND_CLIENT) where %s' % isService(name),
          'set(span.attributes["peer.service"], span.attributes["%s"]) where %s and span.attributes["peer.service"] == nil and span.attributes["%s"] != nil'
          % [sg.clients[name], isService(name), sg.clients[name]],
        ]
        for name in std.objectFields(sg.clients)
      ]) + [
        'set(span.kind, SPAN_KIND_SERVER) where %s and IsRootSpan()' % isService(name)
        for name in sg.roots
      ] else []
    ) + [
      local status = 'span.attributes["http.status_code"]';
      'set(span.status.code, STATUS_CODE_ERROR) where %s and span.status.code == STATUS_CODE_UNSET and (%s%s >= %d)'
      % [isService('llm'), if c.errors.missingStatusIsError then '%s == nil or ' % status else '', status, c.errors.minHttpStatus],
    ],

    // LLM usage metrics from `plano(llm)` spans (_config.usage): one signal_to_metrics entry per
    // token kind and cost kind (same metric name, told apart by a label that no span carries,
    // so it always takes its default), a time-to-first-token and an output-rate histogram.
    local u = c.usage,
    local isLlm = 'resource.attributes["service.name"] == "%s"' % svc.llm,
    local has(key) = 'span.attributes["%s"] != nil' % key,
    local dims(extra) = [{ key: d, default_value: u.missing } for d in u.dimensions] + extra,
    local resource = { include_resource_attributes: [{ key: 'service.name' }] },
    usageMetrics:: [m + resource for m in $.collector.usageMetricsBare],
    usageMetricsBare:: [
      {
        name: u.namespace + '.tokens',
        description: 'Tokens of Plano LLM calls, by kind (input, output, cache_read, cache_write, reasoning)',
        unit: '{token}',
        conditions: ['%s and %s' % [isLlm, has(u.tokens[kind])]],
        attributes: dims([{ key: 'token_kind', default_value: kind }]),
        sum: { value: 'Int(span.attributes["%s"])' % u.tokens[kind] },
      }
      for kind in std.objectFields(u.tokens)
    ] + [
      {
        name: u.namespace + '.cost_usd',
        description: 'Cost of Plano LLM calls in USD, by kind (input, output, total), where Plano has prices',
        unit: '{USD}',
        conditions: ['%s and %s' % [isLlm, has(u.costs[kind])]],
        attributes: dims([{ key: 'cost_kind', default_value: kind }]),
        sum: { value: 'Double(span.attributes["%s"])' % u.costs[kind] },
      }
      for kind in std.objectFields(u.costs)
    ] + [
      {
        name: u.namespace + '.time_to_first_token',
        description: 'Time from the request to the first byte of the answer of Plano LLM calls',
        unit: 'ms',
        conditions: ['%s and %s' % [isLlm, has(u.ttft)]],
        attributes: dims([]),
        histogram: { buckets: u.ttftBuckets, value: 'Double(span.attributes["%s"])' % u.ttft },
      },
      {
        name: u.namespace + '.output_tokens_per_second',
        description: 'Output tokens per second after the first token, per Plano LLM call',
        unit: '{token}',
        conditions: ['%s and %s and %s and %s and span.attributes["%s"] > span.attributes["%s"]'
                     % [isLlm, has(u.tokens.output), has(u.duration), has(u.ttft), u.duration, u.ttft]],
        attributes: dims([]),
        histogram: {
          buckets: u.tokensPerSecondBuckets,
          value: 'Double(span.attributes["%s"]) * 1000.0 / Double(span.attributes["%s"] - span.attributes["%s"])' % [u.tokens.output, u.duration, u.ttft],
        },
      },
    ],

    // Remote backends (_config.remote): the exporters, their TLS, authenticator and headers.
    local remote = c.remote,
    local remoteTraces = remote.traces.endpoint != '',
    local remoteMetrics = remote.metrics.remoteWriteUrl != '',
    local tls(r) = { insecure: r.tls.insecure } + {
      [k[0]]: r.tls[k[1]]
      for k in [['ca_file', 'caFile'], ['cert_file', 'certFile'], ['key_file', 'keyFile']]
      if r.tls[k[1]] != ''
    },
    // bearer: the bearertokenauth extension (token from a variable, or a file it re-reads);
    // basic: an Authorization header from a variable holding base64 of user:password.
    local authenticator(r, signal) = if r.auth == 'bearer' then { auth: { authenticator: 'bearertokenauth/' + signal } } else {},
    local headers(r) =
      local all = r.headers + (if r.auth == 'basic' then { Authorization: 'Basic ${env:%s}' % r.basicEnv } else {});
      if all == {} then {} else { headers: all },
    local authExtension(r, signal) =
      if r.auth == 'bearer' then {
        ['bearertokenauth/' + signal]: if r.tokenFile != '' then { filename: r.tokenFile } else { token: '${env:%s}' % r.tokenEnv },
      } else {},
    local authExtensions = (if remoteTraces then authExtension(remote.traces, 'traces') else {})
                           + (if remoteMetrics then authExtension(remote.metrics, 'metrics') else {}),
    // The traces exporter: the local Tempo, or the remote OTLP endpoint.
    tracesExporter:: if !remoteTraces then 'otlp_grpc/tempo' else { grpc: 'otlp_grpc/traces', http: 'otlp_http/traces' }[remote.traces.protocol],
    local metricsExporters = ['prometheus'] + (if remoteMetrics then ['prometheus_remote_write/metrics'] else []),

    local oneOf(value, allowed, knob) =
      std.member(allowed, value) || error '_config.remote.%s must be one of %s, not "%s"' % [knob, std.join(', ', allowed), value],
    assert oneOf(remote.traces.protocol, ['grpc', 'http'], 'traces.protocol'),
    assert oneOf(remote.traces.auth, ['none', 'bearer', 'basic'], 'traces.auth'),
    assert oneOf(remote.metrics.auth, ['none', 'bearer', 'basic'], 'metrics.auth'),
    assert !(remoteTraces && remote.traces.protocol == 'grpc' && remote.traces.auth != 'none' && remote.traces.tls.insecure)
           : '_config.remote.traces: gRPC sends credentials only over TLS; set tls.insecure: false (auth is %s)' % remote.traces.auth,

    config: {
      extensions: authExtensions {
        health_check: { endpoint: c.listen('collectorHealth') },
        // The sending queue's store: what the collector has acknowledged waits here until
        // Tempo has it, across Tempo outages and collector restarts.
        [if c.delivery.persistentQueue then 'file_storage/queue']: {
          directory: c.queueDir,
          create_directory: true,
          compaction: { on_start: true, on_rebound: true, directory: c.queueDir },
        },
      },
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: c.listen('otlpGrpc') },
            http: { endpoint: c.listen('otlpHttp') },
          },
        },
      },
      processors: {
        // Refuse data before the process runs out of memory; first in every pipeline.
        memory_limiter: { check_interval: '1s', limit_mib: c.collector.memoryLimitMib, spike_limit_mib: c.collector.memorySpikeLimitMib },
        // Short timeout: batching must not eat into the freshness budget.
        batch: { timeout: '200ms', send_batch_size: 8192 },
        // Plano's spans, shaped for Tempo's service graph and for failure status.
        'transform/plano': { error_mode: 'ignore', trace_statements: $.collector.planoStatements },
        // signal_to_metrics emits a delta per request, as non-monotonic sums: token and cost
        // sums only ever grow, so they are made monotonic (counters, `_total` in Prometheus),
        // then running totals, as the Prometheus exporter needs. Its deltas carry no start time,
        // so a running total would have none either, and Prometheus would first see a new series
        // (a new model, provider or tenant) already holding its first calls: rate() never sees
        // them. A start 1 ms before each delta gives the total a start before its first sample;
        // Prometheus then starts the series at 0 there (created-timestamp zero ingestion).
        [if c.usage.enabled then 'transform/usage']: {
          error_mode: 'propagate',
          metric_statements: [
            'set(metric.is_monotonic, true) where metric.type == METRIC_DATA_TYPE_SUM',
            'set(datapoint.start_time_unix_nano, datapoint.time_unix_nano - 1000000) where datapoint.start_time_unix_nano == 0',
          ],
        },
        [if c.usage.enabled then 'delta_to_cumulative']: { max_stale: c.usage.staleAfter, max_streams: c.usage.maxStreams },
      },
      connectors: {
        [if c.usage.enabled then 'signal_to_metrics/usage']: {
          spans: $.collector.usageMetrics,
        },
        span_metrics: {
          namespace: sm.namespace,
          metrics_flush_interval: sm.flushInterval,
          aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
          histogram: { unit: 'ms', explicit: { buckets: sm.buckets } },
          dimensions: [{ name: d } for d in sm.dimensions],
          exemplars: { enabled: sm.exemplars },
          // One metrics resource per service (and instance): spans whose resources differ in
          // other attributes would otherwise become separate resources whose series collide
          // in the Prometheus exporter (same job, instance and labels), losing counts.
          resource_metrics_key_attributes: sm.resourceKeys,
          // Cardinality guard: past this many label sets per source, one overflow series
          // (otel.metric.overflow=true); stale label sets and sources are dropped.
          aggregation_cardinality_limit: sm.cardinalityLimit,
          series_expiration: sm.seriesExpiration,
          metrics_expiration: sm.metricsExpiration,
        },
      },
      exporters: {
        // A rolling copy of what goes to the local Tempo, after the pipeline's processors: the
        // Tempo guard re-sends from it what a Tempo crash lost (docs/reliability.md#tempos-loss-window).
        [if c.tempoGuardsCopy then 'file/tempo-window']: {
          path: std.strReplace(c.tempoCopyFile, '${PLANO_RUNTIME_DIR}', '${env:PLANO_RUNTIME_DIR}'),
          format: 'json',
          flush_interval: '100ms',
          rotation: { max_megabytes: c.tempo.resend.copyMegabytes, max_backups: 1 },
        },
        [if c.record.enabled then 'file/record']: {
          path: c.recordFile,
          format: 'json',
          flush_interval: '1s',
          rotation: { max_megabytes: c.record.maxMegabytes, max_backups: 1 },
        },
        [$.collector.tracesExporter]: {
          endpoint: if remoteTraces then remote.traces.endpoint else c.address('tempoOtlpGrpc'),
          tls: if remoteTraces then tls(remote.traces) else { insecure: true },
          // Acknowledged spans are queued (on disk with the persistent queue), batched from the
          // queue, and retried with backoff until Tempo takes them (docs/reliability.md).
          sending_queue: {
            enabled: true,
            queue_size: c.delivery.queueSize,
            [if c.delivery.persistentQueue then 'storage']: 'file_storage/queue',
            batch: { flush_timeout: '200ms', min_size: 8192, max_size: 16384, sizer: 'items' },
          },
          retry_on_failure: {
            enabled: true,
            initial_interval: '500ms',
            max_interval: '5s',
            max_elapsed_time: c.delivery.retryFor,
          },
        } + (if remoteTraces then authenticator(remote.traces, 'traces') + headers(remote.traces) else {}),
        // Span and usage metrics pushed to a Prometheus remote-write endpoint as well.
        [if remoteMetrics then 'prometheus_remote_write/metrics']: {
          http: { endpoint: remote.metrics.remoteWriteUrl, tls: tls(remote.metrics) }
                + authenticator(remote.metrics, 'metrics') + headers(remote.metrics),
          [if remote.metrics.externalLabels != {} then 'external_labels']: remote.metrics.externalLabels,
          // service.name becomes `job`, as on the scrape path; no per-resource target_info series
          target_info: { enabled: false },
          retry_on_failure: { enabled: true, initial_interval: '500ms', max_interval: '5s', max_elapsed_time: c.delivery.retryFor },
        },
        prometheus: {
          endpoint: c.listen('collectorMetrics'),
          // OpenMetrics carries the exemplars (trace ids) to Prometheus.
          enable_open_metrics: true,
        },
      },
      service: {
        extensions: ['health_check'] + (if c.delivery.persistentQueue then ['file_storage/queue'] else []) + std.objectFields(authExtensions),
        telemetry: {
          metrics: {
            level: 'normal',
            readers: [{
              pull: {
                exporter: {
                  prometheus: {
                    host: c.listenHost('collectorTelemetry'),
                    port: c.listenPort('collectorTelemetry'),
                  },
                },
              },
            }],
          },
        },
        pipelines: {
          traces: {
            receivers: ['otlp'],
            // no batch processor here: it would acknowledge spans it then holds in memory;
            // the Tempo exporter batches from its (persistent) queue instead
            processors: ['memory_limiter', 'transform/plano'],
            exporters: [$.collector.tracesExporter, 'span_metrics'] + (if c.usage.enabled then ['signal_to_metrics/usage'] else [])
                       + (if c.tempoGuardsCopy then ['file/tempo-window'] else []),
          },
          [if c.record.enabled then 'traces/record']: {
            receivers: ['otlp'],
            processors: ['memory_limiter'],
            exporters: ['file/record'],
          },
          'metrics/span_metrics': {
            receivers: ['span_metrics'],
            processors: ['memory_limiter', 'batch'],
            exporters: metricsExporters,
          },
          [if c.usage.enabled then 'metrics/usage']: {
            receivers: ['signal_to_metrics/usage'],
            processors: ['memory_limiter', 'transform/usage', 'delta_to_cumulative'],
            exporters: metricsExporters,
          },
        },
      },
    },
  },
}

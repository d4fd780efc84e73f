// Past one machine (docs/scale-out.md): the collector gateway tier, rendered for the local
// scale-out run (`nox -s scale`) from the same collector, Tempo and Prometheus Jsonnet.
//
//   Plano ─OTLP─► agent collector ─OTLP/gRPC─► Envoy balancer ─per request─► gateway 0..N-1
//                 (queue, retries)             (round robin,                (span metrics,
//                                               retries)                      Tempo exporter)
//   gateways ─► Tempo;  Prometheus scrapes each gateway;  each gateway also remote-writes
//   its span metrics with its own `gateway` label to a remote-write Prometheus.
//
// Span metrics are correct at any N and under any routing because no series is written by
// two gateways: scraped, each gateway is its own target (`instance`); remote-written, each
// carries `gateway` (gatewayTier.gatewayLabel). Every panel and rule sums over them.
{
  gatewayTier+:: {
    local c = $._config,
    local s = c.gatewayTier,
    local p = s.ports,
    local at(port) = '127.0.0.1:%d' % port,
    local gateways = std.range(0, s.gateways - 1),
    assert s.gateways >= 1 && s.gateways <= s.maxGateways
           : '_config.gatewayTier.gateways must be from 1 to %d, not %s' % [s.maxGateways, s.gateways],

    gatewayId(i):: 'gateway-%d' % i,

    // The _config of gateway i: the stack's own collector, on the gateway's ports, exporting to
    // the scale run's Tempo (or to the OTLP/gRPC port `tempoOtlpGrpc`), remote-writing with its
    // own label; no recording pipeline.
    gatewayConfig(i, tempoOtlpGrpc=p.tempoOtlpGrpc):: {
      ports+: {
        otlpGrpc: p.gatewayOtlpGrpc + i,
        otlpHttp: p.gatewayOtlpHttp + i,
        collectorMetrics: p.gatewayMetrics + i,
        collectorTelemetry: p.gatewayTelemetry + i,
        collectorHealth: p.gatewayHealth + i,
        tempoOtlpGrpc: tempoOtlpGrpc,
      },
      record+: { enabled: false },
      // a test topology of its own: none of the user's remote backends or credentials
      remote+: {
        traces+: { endpoint: '' },
        metrics+: {
          remoteWriteUrl: 'http://%s/api/v1/write' % at(p.remotePrometheus),
          externalLabels: { [s.gatewayLabel]: $.gatewayTier.gatewayId(i) },
          auth: 'none',
          headers: {},
        },
      },
    },

    // The combined run (docs/scale-out.md#combined): the same gateways, on the same ports, but
    // exporting to the scaled-out Tempo's distributor (stack/tempo-scaled.libsonnet) instead of
    // the tier's own single Tempo. Agent, balancer and both Prometheus are the tier's own.
    combinedGatewayConfig(i):: self.gatewayConfig(i, $.tempoScaled.distributor.otlp),

    // The _config of the scale run's Tempo and Prometheus: the stack's own, on other ports.
    backendConfig:: {
      ports+: {
        tempo: p.tempo,
        tempoGrpc: p.tempoGrpc,
        tempoOtlpGrpc: p.tempoOtlpGrpc,
        prometheus: p.prometheus,
      },
    },

    // The agent: receives Plano's OTLP, keeps it in a persistent queue and sends it on to the
    // balancer, retrying until a gateway takes it. No processing: the gateways shape spans.
    agent: {
      extensions: {
        health_check: { endpoint: at(p.agentHealth) },
        'file_storage/queue': {
          directory: '${env:PLANO_STATE_DIR}/queue',
          create_directory: true,
          compaction: { on_start: true, on_rebound: true, directory: '${env:PLANO_STATE_DIR}/queue' },
        },
      },
      receivers: { otlp: { protocols: { grpc: { endpoint: at(p.agentOtlpGrpc) } } } },
      processors: {
        memory_limiter: { check_interval: '1s', limit_mib: c.collector.memoryLimitMib, spike_limit_mib: c.collector.memorySpikeLimitMib },
      },
      exporters: {
        'otlp_grpc/gateways': {
          endpoint: at(p.balancer),
          tls: { insecure: true },
          // many requests, so the balancer has something to spread
          sending_queue: {
            enabled: true,
            queue_size: c.delivery.queueSize,
            storage: 'file_storage/queue',
            num_consumers: s.agentConsumers,
            batch: { flush_timeout: '100ms', min_size: s.agentBatchSpans, max_size: s.agentBatchSpans, sizer: 'items' },
          },
          retry_on_failure: { enabled: true, initial_interval: '200ms', max_interval: '2s', max_elapsed_time: '0s' },
        },
      },
      service: {
        extensions: ['health_check', 'file_storage/queue'],
        telemetry: { metrics: { level: 'normal', readers: [{ pull: { exporter: { prometheus: { host: '127.0.0.1', port: p.agentTelemetry } } } }] } },
        pipelines: { traces: { receivers: ['otlp'], processors: ['memory_limiter'], exporters: ['otlp_grpc/gateways'] } },
      },
    },

    // Envoy balances OTLP/gRPC per request (HTTP/2 streams), not per connection, and retries
    // a request a gateway refused or dropped on another one.
    balancer: {
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: p.balancerAdmin } } },
      static_resources: {
        listeners: [{
          name: 'otlp_balancer',
          address: { socket_address: { address: '127.0.0.1', port_value: p.balancer } },
          filter_chains: [{ filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'otlp_balancer',
              codec_type: 'HTTP2',
              route_config: { name: 'gateways', virtual_hosts: [{ name: 'gateways', domains: ['*'], routes: [{
                match: { prefix: '/' },
                route: {
                  cluster: 'gateways',
                  timeout: '10s',
                  retry_policy: {
                    retry_on: 'connect-failure,refused-stream,reset,unavailable,resource-exhausted',
                    num_retries: s.gateways,
                    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                    } }],
                  },
                },
              }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          }] }],
        }],
        clusters: [{
          name: 'gateways',
          type: 'STATIC',
          connect_timeout: '1s',
          lb_policy: 'ROUND_ROBIN',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          // a gateway that fails requests in a row is left out for a while
          outlier_detection: { consecutive_gateway_failure: 3, consecutive_5xx: 3, interval: '1s', base_ejection_time: '2s' },
          load_assignment: {
            cluster_name: 'gateways',
            endpoints: [{ lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p.gatewayOtlpGrpc + i } } } }
              for i in gateways
            ] }],
          },
        }],
      },
    },

    // The scale run's Prometheus: every gateway's span metrics (one target each) and every
    // collector's own metrics; also the remote-write target of Tempo's service graphs.
    prometheus: {
      global: { scrape_interval: c.prometheus.spanMetricsScrapeInterval, evaluation_interval: c.prometheus.scrapeInterval },
      scrape_configs: [
        {
          job_name: 'otel-collector-spanmetrics',
          static_configs: [{ targets: [at(p.gatewayMetrics + i) for i in gateways] }],
          sample_limit: c.prometheus.spanMetricsSampleLimit,
          scrape_protocols: ['PrometheusProto', 'OpenMetricsText1.0.0', 'PrometheusText0.0.4'],
        },
        {
          job_name: 'otel-collector',
          static_configs: [{ targets: [at(p.agentTelemetry)] + [at(p.gatewayTelemetry + i) for i in gateways] }],
        },
      ],
    },

    // The remote-write target: scrapes nothing, only receives.
    remotePrometheus: { global: { scrape_interval: c.prometheus.scrapeInterval } },
    remoteFlags(configFile, dataDir):: [
      '--config.file=' + configFile,
      '--storage.tsdb.path=' + dataDir,
      '--web.listen-address=' + at(p.remotePrometheus),
      '--web.enable-remote-write-receiver',
    ],
  },
}

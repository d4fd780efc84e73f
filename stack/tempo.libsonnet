// Tempo 3.x, monolithic: stores the traces, serves TraceQL, and turns spans into
// service-graph metrics that it remote-writes to Prometheus.
{
  tempo+:: {
    local c = $._config,
    local data = c.dataDir('tempo'),

    config: {
      stream_over_http_enabled: true,
      server: {
        http_listen_address: c.listenHost('tempo'),
        http_listen_port: c.listenPort('tempo'),
        grpc_listen_address: c.listenHost('tempoGrpc'),
        grpc_listen_port: c.listenPort('tempoGrpc'),
        log_level: 'info',
      },
      // Tempo's receivers default to localhost: inside a container that is unreachable.
      distributor: {
        receivers: { otlp: { protocols: { grpc: { endpoint: c.listen('tempoOtlpGrpc') } } } },
      },
      live_store: {
        // Tempo 3's single binary holds a trace in memory until it has been idle this long (or
        // has lived max_trace_live) and a flush check runs; until then a crash loses it although
        // the collector got an ack. Tempo's defaults (5 s + 5 s, 30 s) lost ~17 % of a replay to
        // a SIGKILL (docs/reliability.md#tempos-loss-window).
        max_trace_idle: c.tempo.flushAfter,
        max_trace_live: c.tempo.maxTraceLive,
        flush_check_period: c.tempo.flushAfter,
        wal: { path: data + '/live-store/traces' },
        shutdown_marker_dir: data + '/live-store/shutdown-marker',
      },
      // Retention moved from `compactor:` (refused by 3.x) to the backend scheduler/worker.
      backend_scheduler: {
        local_work_path: data + '/scheduler',
        provider: { compaction: { compaction: { block_retention: c.tempo.retention } } },
      },
      backend_worker: {
        compaction: { block_retention: c.tempo.retention },
        // How long a stopping Tempo waits for a running compaction job; Tempo 3.0.3 waits the
        // whole timeout even with no job, so its default (30 s) made every stop take 30 s.
        finish_on_shutdown_timeout: c.tempo.shutdownTimeout,
      },
      metrics_generator: {
        registry: { external_labels: { source: 'tempo' }, collection_interval: c.tempo.collectionInterval },
        processor: { service_graphs: { wait: c.serviceGraph.wait } },
        storage: {
          path: data + '/generator/wal',
          remote_write: [{
            url: 'http://%s/api/v1/write' % c.address('prometheus'),
            send_exemplars: true,
          }],
        },
      },
      storage: {
        trace: {
          backend: 'local',
          wal: { path: data + '/wal' },
          'local': { path: data + '/blocks' },
        },
      },
      overrides: {
        defaults: {
          metrics_generator: {
            processors: if c.tempo.serviceGraphs then ['service-graphs'] else [],
          },
        },
      },
      usage_report: { reporting_enabled: false },
    },
  },
}

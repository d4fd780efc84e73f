// Tempo 3 scaled out (docs/scale-out.md#tempo-scaled-out): the pinned Tempo binary run as
// separate components, one config file each, with a real Apache Kafka (KRaft) as the log
// between the distributor and the live-stores, block-builders and metrics-generators. Beside
// it, for comparison, a single-binary Tempo rendered from stack/tempo.libsonnet, and the front
// collector that shapes Plano's spans (as the stack's collector does) and sends them to both.
// Everything runs natively on 127.0.0.1; paths under ${PLANO_SCALE_STATE}, set at start.
{
  tempoScaled+:: {
    local c = $._config,
    local s = c.scale,
    local state = '${PLANO_SCALE_STATE}',
    local host = c.bindAddress,
    local addr(port) = '127.0.0.1:%d' % port,
    local data = state + '/tempo',

    // name -> {target, index, ports}: each component's ports derived from its place in the list.
    components: {
      [s.components[i].name]: s.components[i] {
        http: s.tempoBasePort + s.portStride * i,
        grpc: self.http + 1,
        memberlist: self.http + 2,
        otlp: self.http + 3,
      }
      for i in std.range(0, std.length(s.components) - 1)
    },
    local comp = self.components,
    local byTarget(t) = [comp[n] for n in std.objectFields(comp) if comp[n].target == t],
    local one(t) =
      local found = byTarget(t);
      if std.length(found) == 1 then found[0]
      else error '_config.scale.components must hold exactly one %s, found %d' % [t, std.length(found)],
    // The one distributor: where the front collector (and the combined run's gateways) send.
    distributor:: one('distributor'),

    local kafka = {
      address: addr(s.ports.kafka),
      topic: s.kafka.topic,
      // Tempo sets the broker's num.partitions when it creates the topic (its default: 1000)
      auto_create_topic_default_partitions: s.kafka.partitions,
    },
    local ring(x) = {
      kvstore: { store: 'memberlist' },
      instance_id: x.name,
      instance_addr: '127.0.0.1',
      instance_port: x.grpc,
    },

    // What every component shares; `config(name)` adds its own ports and identity.
    base:: {
      stream_over_http_enabled: true,
      server: { log_level: 'info', http_listen_address: host, grpc_listen_address: host },
      memberlist: {
        bind_addr: ['127.0.0.1'],
        abort_if_cluster_join_fails: false,
        join_members: [addr(comp[n].memberlist) for n in std.objectFields(comp)],
      },
      ingest: { kafka: kafka },
      distributor: {
        receivers: { otlp: { protocols: { grpc: { endpoint: addr(one('distributor').otlp) } } } },
      },
      live_store: {
        partition_ring: { kvstore: { store: 'memberlist' } },
        max_trace_idle: c.tempo.flushAfter,
        max_trace_live: c.tempo.maxTraceLive,
        flush_check_period: c.tempo.flushAfter,
        // how often a live-store commits its Kafka offset: what a killed one replays on restart
        commit_interval: s.commitInterval,
      },
      querier: { frontend_worker: { frontend_address: addr(one('query-frontend').grpc) } },
      block_builder: {
        assigned_partitions: {
          [b.name]: [p for p in std.range(0, s.kafka.partitions - 1) if p % std.length(byTarget('block-builder')) == std.find(b, byTarget('block-builder'))[0]]
          for b in byTarget('block-builder')
        },
        consume_cycle_duration: s.blockBuilderCycle,
      },
      metrics_generator: {
        registry: { external_labels: { source: s.scaledSource }, collection_interval: c.tempo.collectionInterval },
        processor: { service_graphs: { wait: c.serviceGraph.wait } },
        storage: { remote_write: [{ url: 'http://%s/api/v1/write' % addr(s.ports.prometheus), send_exemplars: true }] },
      },
      storage: { trace: { backend: 'local', 'local': { path: data + '/blocks' }, wal: { path: data + '/wal' } } },
      overrides: $.tempo.config.overrides,
      usage_report: { reporting_enabled: false },
    },

    config(name):: self.base {
      local x = comp[name],
      local dir = '%s/%s' % [data, name],
      server+: { http_listen_port: x.http, grpc_listen_port: x.grpc },
      memberlist+: { bind_port: x.memberlist },
      distributor+: { ring: ring(x) },
      live_store+: { ring: ring(x), wal: { path: dir + '/wal' }, shutdown_marker_dir: dir + '/shutdown-marker' },
      block_builder+: { instance_id: name, wal: { path: dir + '/wal' } },
      metrics_generator+: { instance_id: name, ring: ring(x), storage+: { path: dir + '/generator-wal' } },
    },

    // The single binary to compare with: the stack's own Tempo config, on the scale ports.
    single: std.mergePatch($.tempo.config, {
      server: {
        http_listen_address: host,
        http_listen_port: s.ports.singleHttp,
        grpc_listen_address: host,
        grpc_listen_port: s.ports.singleGrpc,
      },
      distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: addr(s.ports.singleOtlp) } } } } },
      live_store: { wal: { path: state + '/single/live-store/traces' }, shutdown_marker_dir: state + '/single/live-store/shutdown-marker' },
      backend_scheduler: { local_work_path: state + '/single/scheduler' },
      metrics_generator: {
        storage: { path: state + '/single/generator/wal', remote_write: [{ url: 'http://%s/api/v1/write' % addr(s.ports.prometheus), send_exemplars: true }] },
        // the two Tempos' service-graph series are told apart by this label
        registry: { external_labels: { source: s.singleSource } },
      },
      storage: { trace: { wal: { path: state + '/single/wal' }, 'local': { path: state + '/single/blocks' } } },
    }),

    // Apache Kafka in KRaft mode: one node, broker and controller in one process.
    kafkaProperties: {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': '1@' + addr(s.ports.kafkaController),
      listeners: 'PLAINTEXT://%s,CONTROLLER://%s' % [addr(s.ports.kafka), addr(s.ports.kafkaController)],
      'advertised.listeners': 'PLAINTEXT://' + addr(s.ports.kafka),
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'log.dirs': state + '/kafka',
      'num.partitions': s.kafka.partitions,
      'offsets.topic.replication.factor': 1,
      'offsets.topic.num.partitions': s.kafka.partitions,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'share.coordinator.state.topic.replication.factor': 1,
      'group.initial.rebalance.delay.ms': 0,
      'auto.create.topics.enable': true,
    },

    // The remote-write target of both Tempos' metrics-generators.
    prometheus: {
      global: { scrape_interval: c.prometheus.scrapeInterval },
      scrape_configs: [],
    },
    prometheusFlags: [
      '--config.file=${PLANO_SCALE_CONFIG}/prometheus.yml',
      '--storage.tsdb.path=' + state + '/prometheus',
      '--web.listen-address=' + addr(s.ports.prometheus),
      '--web.enable-remote-write-receiver',
    ],

    // The front collector: the stack's own span shaping (transform/plano), then one exporter
    // per Tempo, each with its own queue and retries.
    local cc = $.collector.config,
    local exporter(port) = std.mergePatch(cc.exporters['otlp_grpc/tempo'], {
      endpoint: addr(port),
      sending_queue: { storage: null },
    }),
    collector: {
      extensions: { health_check: { endpoint: addr(s.ports.collectorHealth) } },
      receivers: { otlp: { protocols: { grpc: { endpoint: addr(s.ports.collectorOtlp) } } } },
      processors: { memory_limiter: cc.processors.memory_limiter, 'transform/plano': cc.processors['transform/plano'] },
      exporters: {
        'otlp_grpc/scaled': exporter(one('distributor').otlp),
        'otlp_grpc/single': exporter(s.ports.singleOtlp),
      },
      service: {
        extensions: ['health_check'],
        telemetry: { metrics: { level: 'normal', readers: [{ pull: { exporter: { prometheus: {
          host: '127.0.0.1',
          port: s.ports.collectorTelemetry,
        } } } }] } },
        pipelines: { traces: {
          receivers: ['otlp'],
          processors: ['memory_limiter', 'transform/plano'],
          exporters: ['otlp_grpc/scaled', 'otlp_grpc/single'],
        } },
      },
    },

    // What plano_obs.harness.scale reads: every port, component and file, so Python retypes none.
    info: {
      ports: s.ports,
      kafka: s.kafka,
      components: comp,
      startOrder: s.components,
      sources: { scaled: s.scaledSource, single: s.singleSource },
      tempoStopWaitSeconds: c.tempo.killAfterSeconds,
      goMemLimit: s.goMemLimit,
      versions: { tempo: c.versions.tempo, prometheus: c.versions.prometheus, collector: c.versions.collector },
      metricNames: { requests: c.metricNames.serviceGraphRequests, failed: c.metricNames.serviceGraphFailed },
    },
  },
}

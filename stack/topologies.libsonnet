// The test topologies' settings: the local scale-out runs of `nox -s scale` and the knee
// benchmark (docs/scale-out.md). They are not part of a user's stack: only the gateway-tier and
// tempo-scaled entry points (stack/deploy/) render them, and a user's override reaches them the
// same way (_config.gatewayTier.*, _config.scale.*).
{
  _config+:: {
    // The collector gateway tier of the local scale-out run (stack/gateway-tier.libsonnet,
    // `nox -s scale`, docs/scale-out.md#gateway-tier): agent → Envoy balancer → N gateways.
    gatewayTier: {
      gateways: 3,
      maxGateways: 10,  // each gateway port below is a base: gateway i listens on base + i
      gatewayLabel: 'gateway',  // the label each gateway's remote-written series carry
      agentConsumers: 4,  // the agent's concurrent requests to the balancer
      agentBatchSpans: 128,  // spans per request from the agent: small enough to spread over the gateways
      ports: {
        agentOtlpGrpc: 32317,  // where Plano sends in the scale-out run
        agentHealth: 32133,
        agentTelemetry: 32388,
        balancer: 32300,  // Envoy: OTLP/gRPC in, one request at a time to a gateway
        balancerAdmin: 32301,
        gatewayOtlpGrpc: 32400,
        gatewayOtlpHttp: 32410,
        gatewayMetrics: 32420,
        gatewayTelemetry: 32430,
        gatewayHealth: 32440,
        tempo: 32200,
        tempoGrpc: 32295,
        tempoOtlpGrpc: 32217,
        prometheus: 32090,  // scrapes the gateways
        remotePrometheus: 32091,  // receives their remote writes
      },
    },

    // Tempo scaled out (`nox -s scale`, docs/scale-out.md#tempo-scaled-out): the pinned Tempo
    // as separate components over a local Apache Kafka, beside a single-binary Tempo and a front
    // collector that feeds both. Rendered into generated/scale/; all on bindAddress.
    scale: {
      kafka: {
        version: '4.1.1',  // Apache Kafka (org.apache.kafka:kafka_2.13 from Maven Central, KRaft mode)
        scala: '2.13',  // the Scala build of the kafka jar
        heapMb: 384,  // the broker's JVM heap (-Xmx): small, the host is shared
        topic: 'plano-tempo-ingest',  // Tempo's ingest topic
        partitions: 2,  // of the topic; one live-store per partition (ids end in -<partition>)
      },
      // Host ports (31000-31999: clear of the stack's and of other live test stacks).
      ports: {
        kafka: 31092,  // Kafka's broker listener (PLAINTEXT)
        kafkaController: 31093,  // Kafka's KRaft controller listener
        prometheus: 31090,  // Prometheus with its remote-write receiver (both generators write here)
        collectorOtlp: 31317,  // the front collector's OTLP/gRPC receiver: send the traces here
        collectorHealth: 31133,  // its health_check
        collectorTelemetry: 31388,  // its own metrics (otelcol_exporter_sent_spans per Tempo)
        singleHttp: 31200,  // the single-binary Tempo's HTTP API
        singleGrpc: 31201,  // … its gRPC server
        singleOtlp: 31203,  // … its OTLP/gRPC receiver
      },
      // Each scaled component i listens on tempoBasePort + portStride*i (HTTP), +1 (gRPC),
      // +2 (memberlist) and +3 (OTLP/gRPC, the distributor's receiver).
      tempoBasePort: 31210,
      portStride: 10,
      // The components, in start order; `target` is Tempo's -target. Live-store and
      // block-builder names end in their number: a live-store consumes that Kafka partition.
      components: [
        { name: 'distributor', target: 'distributor' },
        { name: 'live-store-0', target: 'live-store' },
        { name: 'live-store-1', target: 'live-store' },
        { name: 'block-builder-0', target: 'block-builder' },
        { name: 'metrics-generator-0', target: 'metrics-generator' },
        { name: 'querier', target: 'querier' },
        { name: 'query-frontend', target: 'query-frontend' },
      ],
      commitInterval: '1s',  // live-store: how often it commits its Kafka offset (Tempo: 5s)
      blockBuilderCycle: '10s',  // block-builder: how often it cuts blocks from Kafka into storage (Tempo: 5m)
      goMemLimit: '256MiB',  // GOMEMLIMIT of each Tempo process: keeps a shared 2-core host light
      // external_labels.source of each Tempo's service-graph series in the shared Prometheus
      scaledSource: 'tempo-scaled',
      singleSource: 'tempo-single',
    },
  },
}

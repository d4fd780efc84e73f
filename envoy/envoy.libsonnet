// The development Envoy: Plano's data plane for the stack. Every listener runs a proxy-wasm
// filter (envoy/plano-ratelimit.wat) with Plano's WASM metrics and rate limit; the admin
// interface is what Prometheus scrapes, as it scrapes Plano's Envoy.
//   ingress (envoyListener)  requests straight to the mock LLM, limited after requestLimit
//   egress  (envoyEgress)    the dev Plano's upstream calls, as Plano's egress listener 12001:
//                            one cluster per provider, traced as `plano(outbound)`
//   agents  (agentEgress)    the dev Plano's agent calls, as Plano's listener 11000
//   model   (llmGateway)     clients' model and agent requests to brightstaff through the
//                            `bright_staff` cluster, as Plano's listener 12000 (no WASM filter)
{
  envoy+:: {
    local c = $._config,
    local socket(port, address) = { socket_address: { address: address, port_value: port } },
    local listenHost = if c.mode == 'compose' then '0.0.0.0' else c.bindAddress,
    local port(name) = if c.mode == 'compose' then c.containerPorts[name] else c.ports[name],
    local upstream(service) = if c.mode == 'compose' then c.services[service] else '127.0.0.1',
    local devPlano = c.devPlano.enabled && c.mode == 'native',
    local cluster(name, portNumber, host) = {
      name: name,
      type: if c.mode == 'compose' then 'STRICT_DNS' else 'STATIC',
      connect_timeout: '1s',
      load_assignment: {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(portNumber, host) } }] }],
      },
    },
    local route(cluster, headers=[]) = {
      match: { prefix: '/' } + (if headers == [] then {} else { headers: headers }),
      route: { cluster: cluster, timeout: '60s' },
    },
    local exact(name, value) = { name: name, string_match: { exact: value } },
    local providerOf(model) = std.split(model, '/')[0],

    // One WASM VM per listener (its own request counter); the metrics are Envoy's, shared.
    local wasm(vmId, limit) = {
      name: 'envoy.filters.http.wasm',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
        config: {
          name: 'plano_ratelimit',
          root_id: 'plano_ratelimit',
          // the filter's only setting: requests allowed before it answers 429
          configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: std.toString(limit) },
          vm_config: { vm_id: vmId, runtime: 'envoy.wasm.runtime.v8', code: { 'local': { filename: $.envoy.wasmPath } } },
        },
      },
    },

    local listener(name, portName, routes, vmId, limit, tracing=false, wasmFilter=true) = {
      name: name,
      address: socket(port(portName), listenHost),
      filter_chains: [{
        filters: [{
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: name,
            codec_type: 'AUTO',
            route_config: { name: name, virtual_hosts: [{ name: name, domains: ['*'], routes: routes }] },
            http_filters: (if wasmFilter then [wasm(vmId, limit)] else []) + [
              { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
            ],
          } + (if tracing && c.envoy.tracing then {
                 // Traced like Plano's egress listener: each upstream call is a `plano(outbound)`
                 // span, a child of brightstaff's span through the traceparent header.
                 generate_request_id: true,
                 tracing: {
                   provider: {
                     name: 'envoy.tracers.opentelemetry',
                     typed_config: {
                       '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
                       grpc_service: { envoy_grpc: { cluster_name: 'opentelemetry_collector' }, timeout: '0.250s' },
                       service_name: c.plano.services.outbound,
                     },
                   },
                   random_sampling: { value: 100 },
                   operation: '%REQ(:METHOD)% %REQ(:AUTHORITY)%%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
                 },
               } else {}),
        }],
      }],
    },

    // Where Envoy finds the compiled filter (built from the .wat by `invoke up`).
    wasmPath:: if c.mode == 'compose' then '/etc/envoy/plano-ratelimit.wasm' else '${PLANO_STATE_DIR}/wasm/plano-ratelimit.wasm',

    // Egress routes: Plano's WASM filter sets x-arch-llm-provider from the model; without it,
    // brightstaff's x-arch-llm-provider-hint (the model as the client named it, with or without
    // provider prefix) picks the provider's cluster. Plano's own agent-selection model goes to
    // the `plano` cluster, anything else to the mock.
    local egressRoutes = [
      route(p, [exact('x-arch-llm-provider', p)])
      for p in c.envoy.providers
    ] + [
      route(providerOf(m), [exact('x-arch-llm-provider-hint', name)])
      for m in c.devPlano.models
      for name in [m, std.split(m, '/')[1]]
    ] + [route('plano', [exact('x-arch-llm-provider-hint', 'plano/orchestrator')]), route('mock_llm')],

    config: {
      admin: { address: socket(port('envoyAdmin'), listenHost) },
      // histograms reach the admin pages only at a stats flush (default every 5 s)
      stats_flush_interval: '1s',
      // Envoy's OpenTelemetry tracer sends its spans every 5 s, or at 5 buffered spans: late
      // enough that a request's plano(outbound) span arrived after the counts it belongs to
      // were read. Every span is sent within envoy.traceFlushMs.
      layered_runtime: { layers: [{ name: 'plano_dev', static_layer: {
        'tracing.opentelemetry.flush_interval_ms': c.envoy.traceFlushMs,
        'tracing.opentelemetry.min_flush_spans': 1,
      } }] },
      static_resources: {
        listeners: [listener('plano_dev_ingress', 'envoyListener', [route('mock_llm')], 'plano', c.envoy.requestLimit)]
                   + (if devPlano then [
                        // no count limit for Plano's traffic; a request carrying x-plano-ratelimit is refused
                        listener('plano_dev_egress', 'envoyEgress', egressRoutes, 'plano_egress', c.envoy.egressRequestLimit, tracing=true),
                        listener('plano_dev_agents', 'agentEgress', [route('agents')], 'plano_agents', c.envoy.egressRequestLimit),
                        listener('plano_dev_llm', 'llmGateway', [route(c.plano.brightstaffCluster)], null, null, wasmFilter=false),
                      ] else []),
        clusters: [
                    cluster(name, port('mockLlm'), upstream('mockLlm'))
                    for name in ['mock_llm', 'plano'] + c.envoy.providers
                  ] + (if devPlano then [
                         cluster('agents', port('mockAgents'), upstream('mockAgents')),
                         // Plano's name for brightstaff's cluster (its dashboard's Envoy → brightstaff panel)
                         cluster(c.plano.brightstaffCluster, port('brightstaff'), upstream('brightstaff')),
                       ] else [])
                  + (if devPlano && c.envoy.tracing then [
                       local collector = std.split(c.address('otlpGrpc'), ':');
                       cluster('opentelemetry_collector', std.parseInt(collector[1]), collector[0]) {
                         typed_extension_protocol_options: {
                           'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                             '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                             explicit_http_config: { http2_protocol_options: {} },
                           },
                         },
                       },
                     ] else []),
      },
    },

    args(configFile):: ['-c', configFile, '--concurrency', std.toString(c.envoy.concurrency), '--use-dynamic-base-id', '--log-level', 'warn'],
  },
}

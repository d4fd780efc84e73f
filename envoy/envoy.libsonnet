// The development Envoy: an HTTP listener with Plano's WASM metrics and rate limit (a
// proxy-wasm filter written in WebAssembly text, envoy/plano-ratelimit.wat) in front of a
// mock LLM, and the admin interface Prometheus scrapes, like Plano's Envoy.
{
  envoy+:: {
    local c = $._config,
    local socket(port, address) = { socket_address: { address: address, port_value: port } },
    local listenHost = if c.mode == 'compose' then '0.0.0.0' else c.bindAddress,
    local port(name) = if c.mode == 'compose' then c.containerPorts[name] else c.ports[name],
    local upstream = if c.mode == 'compose' then c.services.mockLlm else '127.0.0.1',

    // Where Envoy finds the compiled filter (built from the .wat by `invoke up`).
    wasmPath:: if c.mode == 'compose' then '/etc/envoy/plano-ratelimit.wasm' else '${PLANO_STATE_DIR}/wasm/plano-ratelimit.wasm',

    config: {
      admin: { address: socket(port('envoyAdmin'), listenHost) },
      // histograms reach the admin pages only at a stats flush (default every 5 s)
      stats_flush_interval: '1s',
      static_resources: {
        listeners: [{
          name: 'plano_dev_ingress',
          address: socket(port('envoyListener'), listenHost),
          filter_chains: [{
            filters: [{
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                stat_prefix: 'ingress_http',
                codec_type: 'AUTO',
                route_config: {
                  name: 'llm',
                  virtual_hosts: [{
                    name: 'llm',
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, route: { cluster: 'mock_llm', timeout: '60s' } }],
                  }],
                },
                http_filters: [
                  {
                    name: 'envoy.filters.http.wasm',
                    typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
                      config: {
                        name: 'plano_ratelimit',
                        root_id: 'plano_ratelimit',
                        // the filter's only setting: requests allowed before it answers 429
                        configuration: {
                          '@type': 'type.googleapis.com/google.protobuf.StringValue',
                          value: std.toString(c.envoy.requestLimit),
                        },
                        vm_config: {
                          vm_id: 'plano',
                          runtime: 'envoy.wasm.runtime.v8',
                          code: { 'local': { filename: $.envoy.wasmPath } },
                        },
                      },
                    },
                  },
                  {
                    name: 'envoy.filters.http.router',
                    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                  },
                ],
              },
            }],
          }],
        }],
        clusters: [{
          name: 'mock_llm',
          type: if c.mode == 'compose' then 'STRICT_DNS' else 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'mock_llm',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(port('mockLlm'), upstream) } }] }],
          },
        }],
      },
    },

    args(configFile):: ['-c', configFile, '--concurrency', std.toString(c.envoy.concurrency), '--use-dynamic-base-id', '--log-level', 'warn'],
  },
}

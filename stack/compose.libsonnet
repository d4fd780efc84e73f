// The Compose file. Every published port binds to _config.bindAddress (127.0.0.1 by
// default); the Grafana admin password must come from the environment.
{
  compose+:: {
    local c = $._config,
    local h = c.compose,
    local publish(ports) = ['%s:%d:%d' % [c.bindAddress, c.ports[p], c.containerPorts[p]] for p in ports],
    // Every service: its image's non-root user, a read-only root file system (its volumes and a
    // /tmp tmpfs are the only writable places), no capabilities, no privilege gain.
    local hardened(component) = {
      user: h.users[component],
      read_only: h.readOnly,
      cap_drop: h.capDrop,
      security_opt: h.securityOpt,
      tmpfs: ['/tmp:size=%dm,mode=1777' % h.tmpfsSizeMb],
    },
    // A Docker healthcheck running `test` (exec form: the images have no shell).
    local healthcheck(test) = {
      healthcheck: { test: ['CMD'] + test, interval: h.healthInterval, timeout: h.healthTimeout, retries: h.healthRetries },
    },
    local healthy(services) = { [s]: { condition: 'service_healthy' } for s in services },
    local localUrl(port, path) = 'http://127.0.0.1:%d%s' % [c.containerPorts[port], path],
    // The collector has no health CLI and its official image no shell: only the local image can
    // check it (with images/healthcheck). Tempo and promtool check themselves, in both images.
    local checks = {
      collector: ['/healthcheck', localUrl('collectorHealth', c.components.collector.ready)],
      tempo: ['/tempo', '-health', '-health.url=' + localUrl('tempo', c.components.tempo.ready)],
      prometheus: ['/bin/promtool', 'check', 'healthy', '--url=' + localUrl('prometheus', '')],
      envoy: ['/healthcheck', localUrl('envoyAdmin', c.components.envoy.ready)],
      mockLlm: ['/healthcheck', localUrl('mockLlm', c.components.mockLlm.ready)],
    },

    // The override that swaps in the local images (`invoke up --mode compose --local-images`).
    localImages: {
      services: {
        [c.services[k]]: { image: c.localImages[k].tag }
        for k in std.objectFields(c.localImages)
      } + {
        [c.services.collector]+: healthcheck(checks.collector),
        [c.services.envoy]+: healthcheck(checks.envoy) { depends_on: healthy([c.services.mockLlm]) },
        [c.services.mockLlm]+: healthcheck(checks.mockLlm),
      },
    },

    // The override of the `dev-envoy` profile (`invoke up --mode compose --dev-envoy`): Prometheus
    // scrapes the dev Envoy by its service name on the Compose network instead of the host's.
    // Compose replaces a volume by its path in the container.
    devEnvoy: {
      services: {
        [c.services.prometheus]: { volumes: ['./prometheus.dev-envoy.yml:/etc/prometheus/prometheus.yml:ro'] },
      },
    },
    // Where Prometheus finds the dev Envoy's admin inside the Compose network.
    devEnvoyAdmin:: '%s:%d' % [c.services.envoy, c.containerPorts.envoyAdmin],

    config: {
      name: 'plano-observability',
      services: {
        [c.services.collector]: hardened('collector') {
          image: c.images.collector,
          command: ['--config=/etc/otelcol/config.yaml'],
          volumes: ['./otel-collector.yaml:/etc/otelcol/config.yaml:ro']
                   + (if c.record.enabled then ['collector-record:' + std.split(c.recordFile, '/traces.jsonl')[0]] else [])
                   + (if c.delivery.persistentQueue then ['collector-queue:' + c.queueDir] else []),
          ports: publish(['otlpGrpc', 'otlpHttp', 'collectorMetrics', 'collectorTelemetry', 'collectorHealth']),
          depends_on: healthy([c.services.tempo]),
          restart: 'unless-stopped',
        },
        [c.services.tempo]: hardened('tempo') + healthcheck(checks.tempo) {
          image: c.images.tempo,
          command: ['-config.file=/etc/tempo/tempo.yaml'],
          volumes: ['./tempo.yaml:/etc/tempo/tempo.yaml:ro', 'tempo-data:' + c.dataDir('tempo')],
          ports: publish(['tempo', 'tempoOtlpGrpc']),
          restart: 'unless-stopped',
        },
        [c.services.prometheus]: hardened('prometheus') + healthcheck(checks.prometheus) {
          image: c.images.prometheus,
          command: $.prometheus.flags('/etc/prometheus/prometheus.yml', c.dataDir('prometheus')),
          volumes: [
            './prometheus.yml:/etc/prometheus/prometheus.yml:ro',
            './rules.yml:/etc/prometheus/rules.yml:ro',
            'prometheus-data:' + c.dataDir('prometheus'),
          ],
          ports: publish(['prometheus']),
          // Plano's Envoy admin and brightstaff run on the host (or in Plano's container).
          extra_hosts: ['host.docker.internal:host-gateway'],
          restart: 'unless-stopped',
        },
        // Optional (profile `dev-envoy`, `invoke up --mode compose --dev-envoy`): the development
        // Envoy and its mock LLM on the Compose network, scraped there (the devEnvoy override).
        // Off by default: Plano's own Envoy publishes the same admin port (19901).
        [c.services.envoy]: hardened('envoy') {
          image: c.images.envoy,
          profiles: ['dev-envoy'],
          command: $.envoy.args('/etc/envoy/envoy.yaml'),
          volumes: ['./envoy.yaml:/etc/envoy/envoy.yaml:ro', '${PLANO_STATE_DIR:-../../.state}/wasm/plano-ratelimit.wasm:/etc/envoy/plano-ratelimit.wasm:ro'],
          ports: publish(['envoyAdmin', 'envoyListener']),
          depends_on: [c.services.mockLlm],
        },
        [c.services.mockLlm]: hardened('mockLlm') {
          image: c.images.mockLlm,
          profiles: ['dev-envoy'],
          command: ['python', '/opt/mockllm.py', '--host', '0.0.0.0', '--port', std.toString(c.containerPorts.mockLlm)],
          // the checkout's mock: ../.. from generated/compose/; `invoke up` sets PLANO_CHECKOUT_DIR
          // for the rendering it runs from the state folder (plano_obs/runtime/docker.py)
          volumes: ['${PLANO_CHECKOUT_DIR:-../..}/plano_obs/dev/mockllm.py:/opt/mockllm.py:ro'],
          ports: publish(['mockLlm']),
        },
        // No healthcheck: it could not be tried here (Grafana cannot be obtained on this machine).
        [c.services.grafana]: hardened('grafana') {
          // Grafana's image also logs to a file under /var/log/grafana (GF_PATHS_LOGS).
          tmpfs+: ['/var/log/grafana:size=%dm,mode=1777' % h.tmpfsSizeMb],
          image: c.images.grafana,
          environment: $.grafana.env {
            GF_SECURITY_ADMIN_PASSWORD: '${GRAFANA_ADMIN_PASSWORD:?run `invoke up` once (it generates .secrets/grafana.env) or export GRAFANA_ADMIN_PASSWORD}',
            PLANO_DASHBOARDS_DIR: '/var/lib/grafana/dashboards',
          },
          volumes: [
            './grafana/provisioning:/etc/grafana/provisioning:ro',
            '../dashboards:/var/lib/grafana/dashboards:ro',
            'grafana-data:' + c.dataDir('grafana'),
          ],
          ports: publish(['grafana']),
          depends_on: healthy([c.services.prometheus, c.services.tempo]),
          restart: 'unless-stopped',
        },
      },
      volumes: {
        'tempo-data': {},
        'prometheus-data': {},
        'grafana-data': {},
        // The collector image is FROM scratch with no writable folder: a tmpfs volume owned by
        // its user (10001) holds the recording (lost when the container stops).
        // The sending queue, the same way: it outlives Tempo outages, not the container.
        [if c.delivery.persistentQueue then 'collector-queue']: {
          driver_opts: { type: 'tmpfs', device: 'tmpfs', o: 'size=512m,uid=10001,gid=10001' },
        },
        [if c.record.enabled then 'collector-record']: {
          driver_opts: { type: 'tmpfs', device: 'tmpfs', o: 'size=%dm,uid=10001,gid=10001' % (2 * c.record.maxMegabytes + 16) },
        },
      },
    },
  },
}

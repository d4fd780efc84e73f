// Kubernetes: the collector gateway tier as plain manifests (docs/scale-out.md#kubernetes).
// Agents (DaemonSet) take Plano's OTLP and route each trace whole to one gateway; gateways
// (Deployment) run the same pipeline as the stack's single collector. The dashboards,
// datasources and rules ship as objects the Grafana sidecar and the Prometheus operator pick up.
{
  kubernetes+:: {
    local c = $._config,
    local k = c.kubernetes,
    local cp = c.containerPorts,
    local mib(n) = '%dMi' % std.ceil(n * k.memoryHeadroom),

    // The stack with container addresses (mode compose: listeners on 0.0.0.0 and the images'
    // ports), without the local recording file: what runs in each gateway pod.
    local inPod = $ { _config+:: { mode: 'compose', record+: { enabled: false } } },

    local labels(name) = {
      'app.kubernetes.io/name': name,
      'app.kubernetes.io/part-of': 'plano-observability',
    },
    local meta(name, namespaced=true) = {
      name: name,
      labels: labels(name),
    } + (if namespaced then { namespace: k.namespace } else {}),
    local port(name, protocol='TCP') = { name: std.asciiLower(std.strReplace(name, 'collector', '')), containerPort: cp[name], protocol: protocol },

    // What both tiers' containers share: non-root, read-only, no capabilities, probes on the
    // health_check extension, a writable /var/lib/otelcol (emptyDir) for the sending queue.
    local collectorPod(name, config, ports, resources, env=[]) = {
      metadata: { labels: labels(name) },
      spec: {
        serviceAccountName: name,
        automountServiceAccountToken: false,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: k.runAsUser,
          runAsGroup: k.runAsUser,
          fsGroup: k.runAsUser,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        containers: [{
          name: 'otelcol',
          image: c.images.collector,
          imagePullPolicy: 'IfNotPresent',
          args: ['--config=/etc/otelcol/config.yaml'],
          ports: ports,
          env: env,
          resources: resources,
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          local probe = { httpGet: { path: c.components.collector.ready, port: cp.collectorHealth } },
          readinessProbe: probe { periodSeconds: 5 },
          livenessProbe: probe { periodSeconds: 10, failureThreshold: 6 },
          volumeMounts: [
            { name: 'config', mountPath: '/etc/otelcol', readOnly: true },
            { name: 'state', mountPath: '/var/lib/otelcol' },
          ],
        }],
        volumes: [
          { name: 'config', configMap: { name: name } },
          { name: 'state', emptyDir: {} },
        ],
      },
    },
    local resources(cpuRequest, cpuLimit, limitMib) = {
      requests: { cpu: cpuRequest, memory: mib(limitMib) },
      limits: { cpu: cpuLimit, memory: mib(limitMib) },
    },
    local configMap(name, data) = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(name), data: data },
    local serviceAccount(name) = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name), automountServiceAccountToken: false },

    // The gateway: the single collector's pipeline, traces to the cluster's Tempo (or to the
    // remote backend of _config.remote), and every span metric labelled with its pod, so N
    // gateways' series stay apart and panels sum them.
    gatewayConfig:: inPod.collector.config {
      exporters+: {
        [if inPod.collector.tracesExporter == 'otlp_grpc/tempo' then 'otlp_grpc/tempo']+: { endpoint: k.tempoEndpoint },
        prometheus+: { const_labels: { [k.podLabel]: '${env:POD_NAME}' } },
      },
    },

    // The agent: OTLP in, each trace to one gateway (by trace id) through the gateways'
    // headless Service; queued and retried when a gateway is away.
    agentConfig:: {
      extensions: { health_check: { endpoint: '0.0.0.0:%d' % cp.collectorHealth } },
      receivers: inPod.collector.config.receivers,
      processors: {
        memory_limiter: { check_interval: '1s', limit_mib: k.agent.memoryLimitMib, spike_limit_mib: k.agent.memorySpikeLimitMib },
      },
      exporters: {
        loadbalancing: {
          routing_key: 'traceID',
          protocol: {
            otlp: {
              tls: { insecure: true },
              sending_queue: { enabled: true, queue_size: c.delivery.queueSize },
              retry_on_failure: { enabled: true, initial_interval: '500ms', max_interval: '5s', max_elapsed_time: c.delivery.retryFor },
            },
          },
          resolver: {
            dns: {
              hostname: '%s.%s.svc.%s' % [k.names.gatewayHeadless, k.namespace, k.clusterDomain],
              port: std.toString(cp.otlpGrpc),
            },
          },
        },
      },
      service: {
        extensions: ['health_check'],
        telemetry: inPod.collector.config.service.telemetry,
        pipelines: {
          traces: { receivers: ['otlp'], processors: ['memory_limiter'], exporters: ['loadbalancing'] },
        },
      },
    },

    local agentPorts = [port('otlpGrpc'), port('otlpHttp'), port('collectorTelemetry'), port('collectorHealth')],
    local gatewayPorts = agentPorts + [port('collectorMetrics')],
    local servicePorts(ports) = [{ name: p.name, port: p.containerPort, targetPort: p.containerPort, protocol: p.protocol } for p in ports],

    // {file name under generated/kubernetes/: object}. A ConfigMap's data entries are values:
    // plano_obs/config/render.py writes each as the text its name says (.json, else YAML).
    manifests:: {
      'namespace.yaml': { apiVersion: 'v1', kind: 'Namespace', metadata: meta(k.namespace, namespaced=false) },

      'agent-serviceaccount.yaml': serviceAccount(k.names.agent),
      'agent-configmap.yaml': configMap(k.names.agent, { 'config.yaml': $.kubernetes.agentConfig }),
      'agent-daemonset.yaml': {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: meta(k.names.agent),
        spec: {
          selector: { matchLabels: labels(k.names.agent) },
          updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
          template: collectorPod(k.names.agent,
                                 $.kubernetes.agentConfig,
                                 agentPorts,
                                 resources(k.agent.cpuRequest, k.agent.cpuLimit, k.agent.memoryLimitMib)),
        },
      },
      // Plano's pods send to this Service and reach the agent on their own node.
      'agent-service.yaml': {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta(k.names.agent),
        spec: {
          selector: labels(k.names.agent),
          internalTrafficPolicy: 'Local',
          ports: servicePorts([port('otlpGrpc'), port('otlpHttp')]),
        },
      },

      'gateway-serviceaccount.yaml': serviceAccount(k.names.gateway),
      'gateway-configmap.yaml': configMap(k.names.gateway, { 'config.yaml': $.kubernetes.gatewayConfig }),
      'gateway-deployment.yaml': {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta(k.names.gateway),
        spec: {
          replicas: k.gatewayReplicas,
          selector: { matchLabels: labels(k.names.gateway) },
          template: collectorPod(
            k.names.gateway,
            $.kubernetes.gatewayConfig,
            gatewayPorts,
            resources(k.gateway.cpuRequest, k.gateway.cpuLimit, c.collector.memoryLimitMib),
            [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          ),
        },
      },
      // Headless: its DNS name resolves to every ready gateway pod (the agents' resolver), and
      // Prometheus scrapes each pod's span metrics through its endpoints.
      'gateway-headless-service.yaml': {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta(k.names.gatewayHeadless),
        spec: {
          clusterIP: 'None',
          selector: labels(k.names.gateway),
          ports: servicePorts(gatewayPorts),
        },
      },

      // Grafana's sidecar loads these: datasources with the stack's fixed uids, and each
      // dashboard filed in the stack's folder.
      'grafana-datasources-configmap.yaml': configMap(k.names.datasources, {
        'plano-datasources.yaml': $.kubernetes.externalDatasources,
      }) + { metadata+: { labels+: { [k.datasourceLabel]: '1' } } },
    } + {
      'prometheusrule.yaml': {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: meta(k.names.rules) + { labels+: { [k.ruleSelector.label]: k.ruleSelector.value } },
        spec: $.prometheus.ruleFile,
      },
    },

    // A dashboard as a ConfigMap for Grafana's sidecar, filed in the stack's folder;
    // stack/deploy/kubernetes.jsonnet names it grafana-dashboard-<uid>-configmap.yaml.
    dashboardConfigMap(dashboard)::
      configMap(dashboard.uid, { ['%s.json' % dashboard.uid]: dashboard })
      + { metadata+: { labels+: { [k.dashboardLabel]: '1' }, annotations: { [k.folderAnnotation]: c.grafana.folder } } },

    // The stack's datasources as a Grafana elsewhere reaches them (grafana.externalDatasourceUrls).
    // A Prometheus of unknown version: its datasource does not claim the stack's pinned one (Grafana
    // then asks /api/v1/series for a variable's values, which every Prometheus answers).
    externalDatasources:: $.grafana.datasources {
      datasources: [
        d { url: c.grafana.externalDatasourceUrls[d.type], jsonData+: { prometheusType:: null, prometheusVersion:: null } }
        for d in super.datasources
      ],
    },
  },
}

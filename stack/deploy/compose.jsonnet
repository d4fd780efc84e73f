// Compose mode (`invoke up --mode compose`, docs/compose.md): generated/compose/.
local stackOf = import '../stack.libsonnet';
local files = import 'files.libsonnet';

function(overrides={})
  local stack = stackOf('compose', overrides);
  files.mode(stack) + {
    'compose/docker-compose.yaml': files.yaml(stack.compose.config),
    'compose/docker-compose.local-images.yaml': files.yaml(stack.compose.localImages),
    'compose/docker-compose.dev-envoy.yaml': files.yaml(stack.compose.devEnvoy),
    // The same Prometheus, scraping the dev Envoy of the Compose network (`--dev-envoy`).
    'compose/prometheus.dev-envoy.yml':
      files.yaml((stack { _config+:: { plano+: { envoyAdmin+: { compose: stack.compose.devEnvoyAdmin } } } }).prometheus.config),
  }

// Native mode (`invoke up --mode native`, docs/native.md): generated/native/, and the manifest
// the collector is built from (the local images reuse that build).
local stackOf = import '../stack.libsonnet';
local files = import 'files.libsonnet';

function(overrides={})
  local stack = stackOf('native', overrides);
  files.mode(stack) + {
    'native/processes.json': files.json(stack.native.processes),
    'native/plano_config.yaml': files.yaml(stack.devPlano.config),
    'collector/otelcol-builder.yaml': files.yaml(stack.collectorBuild.manifest),
  }

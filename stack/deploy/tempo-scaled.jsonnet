// Tempo scaled out over Kafka beside a single binary (stack/tempo-scaled.libsonnet,
// docs/scale-out.md#tempo-scaled-out): generated/scale/. A test topology of its own: the
// user's remote backends stay out.
local stackOf = import '../stack.libsonnet';
local files = import 'files.libsonnet';

function(overrides={})
  local stack = stackOf('native', overrides) {
    _config+:: {
      remote+: { traces+: { endpoint: '' }, metrics+: { remoteWriteUrl: '' } },
      tempo+: { resend+: { enabled: false } },  // no Tempo guard in a test topology
    },
  };
  local scaled = stack.tempoScaled;
  {
    'scale/scale.json': files.json(scaled.info),
    'scale/tempo-single.yaml': files.yaml(scaled.single),
    'scale/kafka.properties': files.env(scaled.kafkaProperties),
    'scale/prometheus.yml': files.yaml(scaled.prometheus),
    'scale/otel-collector.yaml': files.yaml(scaled.collector),
  } + {
    ['scale/tempo-%s.yaml' % name]: files.yaml(scaled.config(name))
    for name in std.objectFields(scaled.components)
  }

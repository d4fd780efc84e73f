// Pins of the tools the lint and the contributors' checks use (`nox -s lint`,
// docs/development.md), apart from the stack's own versions (config.libsonnet): none of them
// runs in a user's stack. They land in `_config.versions` beside the stack's pins.
{
  _config+:: {
    versions+: {
      // Tools the lint builds from their Go modules (not parts of the stack).
      jsonnetfmt: '0.22.0',  // go-jsonnet's formatter: the Jsonnet style check
      compose: '2.40.3',  // Docker Compose v2: `docker compose config` on the generated file
      grafanaSchema: '13.2.3',  // npm @grafana/schema (Grafana 13's Dashboard type): the schema check
      typescript: '5.9.3',  // npm typescript: runs that check (tsc --strict)
      // The Kubernetes release whose bundled API schemas `nox -s lint` checks generated/kubernetes/
      // against (kubernetes-validate ships them; its own release must include this one).
      kubernetes: '1.35.0',
      kubernetesValidate: '1.37.0',  // PyPI kubernetes-validate: the lint's `kubernetes` check (pinned in pyproject.toml)
    },
  },
}

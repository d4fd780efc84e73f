"""Task menu of plano-observability (`invoke --list`). Logic lives in plano_obs/."""
from invoke import Collection

from plano_obs.tasks import build as _build, dashboards, envoy, images, rules, stack, traces, traffic

ns = Collection()
ns.add_task(_build.build)
ns.add_collection(dashboards.ns)
ns.add_collection(rules.ns)
ns.add_collection(stack.ns)
ns.add_collection(traces.ns)
ns.add_collection(envoy.ns)
ns.add_collection(traffic.ns)
ns.add_collection(images.ns)
# The everyday verbs, at the top level too.
for _t in (stack.up, stack.down, stack.status, stack.logs, stack.versions):
    ns.add_task(_t)

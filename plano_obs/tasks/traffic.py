"""`invoke traffic`: drive Plano-shaped load through the dev Plano: its Envoy's model listener
(Plano's 12000) and the real brightstaff behind it."""
from __future__ import annotations

from collections import Counter

from invoke import Collection, Context, task

from plano_obs.errors import PlanoError
from plano_obs.tasks import cli_errors


@task(default=True, help={
    "requests": "how many requests to send (default 24: two rounds of the mix in docs/dev-plano.md)",
    "seed": "shuffle the mix within each round with this seed (default: the documented order)",
    "json": "print every request and brightstaff's answer as JSON on stdout"})
@cli_errors
def send(c: Context, requests: int = 24, seed: int | None = None, json: bool = False) -> None:
    """Send model and agent requests through the dev Plano; print what was sent per model and status."""
    from plano_obs.config import settings
    from plano_obs.dev import traffic
    from plano_obs.runtime import health
    try:
        count = int(requests)
        seed_value = None if seed is None else int(seed)
    except ValueError as err:
        raise PlanoError(f"--requests and --seed take whole numbers ({err})") from err
    info = settings.load("native")
    dev = info["devPlano"]
    if not health.probe(info, "brightstaff").ok:
        raise PlanoError(f"the dev Plano's brightstaff is not running (no answer on {health.url(info, 'brightstaffMetrics', '/metrics')})",
                         "start it with `invoke up` (native mode, with a brightstaff binary: docs/dev-plano.md)")
    envoy = health.probe(info, "envoy")
    if not envoy.ok:
        raise PlanoError(f"the dev Envoy is not running (no answer on {envoy.url}); "
                         "clients reach brightstaff through it", "start it with `invoke up` (not `--no-envoy`)")
    gateway = health.url(info, "llmGateway")
    reqs = traffic.plan(count, dev["models"], [a["id"] for a in dev["agents"]], ["tenant-a", "tenant-b"], seed_value)
    traffic.send(gateway, dev["listener"], dev["headerPrefix"], reqs, dev["models"][0])
    if json:
        print(traffic.as_json(reqs))
        return
    rows = Counter()
    for r in reqs:
        what = f"agent {'+'.join(r.agents) or '(default agent)'}" if r.kind == "agent" else r.model
        rows[(what, "stream" if r.stream else "-", r.fault, r.status)] += 1
    width = max(len(k[0]) for k in rows)
    print(f"{'request':<{width}}  stream  {'fault':<14}  status  count")
    for (what, stream, fault, status), n in sorted(rows.items()):
        print(f"{what:<{width}}  {stream:<6}  {fault:<14}  {status:<6}  {n}")
    print(f"sent {len(reqs)} requests to brightstaff through the dev Envoy at {gateway}")


ns = Collection("traffic", send)

"""Compose stack benchmark (local images): image build time and size, cold start (no containers,
no volumes) and warm start (volumes kept) of `invoke up --mode compose --local-images --dev-envoy`
(what CI runs: the dev Envoy and mock LLM included) until it returns (every component answers on its host port) and until Docker reports every service with
a healthcheck healthy.

    python -m plano_obs.harness.bench.compose_stack [--runs N]

Needs a Docker engine (DOCKER_HOST; `.ci/docker-engine start` gives one) and the binaries of
native mode (built or installed once)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from plano_obs.config import paths
from plano_obs.harness.bench.native_stack import machine
from plano_obs.runtime import docker, localimages

PROJECT = "plano-observability"


def _invoke(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"invoke {' '.join(args)} failed:\n{r.stdout}{r.stderr}")


def _all_healthy() -> bool:
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                         capture_output=True, text=True, check=True).stdout.split()
    if not ids:
        return False
    records = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout)
    return all(r["State"].get("Health", {}).get("Status", "healthy") == "healthy" for r in records)


def start(deadline_s: float = 180) -> tuple[float, float]:
    """(seconds until `invoke up` returned, seconds until every healthcheck passed), from its start."""
    t0 = time.monotonic()
    _invoke("up", "--mode", "compose", "--local-images", "--dev-envoy")
    ready = time.monotonic() - t0
    while not _all_healthy():
        if time.monotonic() - t0 > deadline_s:
            raise SystemExit(f"not all healthy after {deadline_s:.0f}s")
        time.sleep(0.1)
    return ready, time.monotonic() - t0


def compose_only(deadline_s: float = 180) -> float:
    """Seconds from `docker compose up -d` (what `invoke up` runs after rendering the configs and
    checking ports and images) until every healthcheck passed."""
    from plano_obs.runtime import compose, docker
    from plano_obs.config import settings
    info = settings.load("compose")
    services = [info["services"][c] for c in info["localImages"]]
    t0 = time.monotonic()
    subprocess.run(compose.command(local_images=True, dev_envoy=True) + ["up", "-d", *services], capture_output=True, check=True,
                   env=docker.compose_env())
    while not _all_healthy():
        if time.monotonic() - t0 > deadline_s:
            raise SystemExit(f"not all healthy after {deadline_s:.0f}s")
        time.sleep(0.1)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm starts to time (default 3)")
    args = parser.parse_args()
    docker.require_engine()
    print(f"machine: {machine()}")
    server = subprocess.run(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"],
                            capture_output=True, text=True).stdout.strip()
    print(f"engine: Docker {server}")

    t0 = time.monotonic()
    built = localimages.build(force=True)
    print(f"\nimages.build --force (binaries already built): {time.monotonic() - t0:.1f}s")
    t0 = time.monotonic()
    localimages.build()
    print(f"images.build, all cached: {time.monotonic() - t0:.1f}s")
    print("| image | size | build |\n|---|---|---|")
    for img in built:
        print(f"| `{img.tag}` | {img.size / 1e6:.0f} MB | {img.seconds:.1f} s |")

    _invoke("down", "--mode", "compose", "--volumes")
    ready, healthy = start()
    print(f"\ncold start (no containers, no volumes): `invoke up` returned in {ready:.1f}s, all healthy at {healthy:.1f}s")
    warm = []
    for _ in range(args.runs):
        _invoke("down", "--mode", "compose")
        warm.append(start())
    print("warm starts (volumes kept): " + ", ".join(f"{r:.1f}s / {h:.1f}s" for r, h in warm)
          + " (`invoke up` returned / all healthy)")
    _invoke("down", "--mode", "compose", "--volumes")
    cold = compose_only()
    warm_compose = []
    for _ in range(args.runs):
        _invoke("down", "--mode", "compose")
        warm_compose.append(compose_only())
    print(f"`docker compose up -d` alone to all healthy: cold {cold:.1f}s, warm "
          + ", ".join(f"{w:.1f}s" for w in warm_compose))
    _invoke("down", "--mode", "compose", "--volumes")


if __name__ == "__main__":
    main()

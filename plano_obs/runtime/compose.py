"""Compose mode: the stack as containers, `docker compose` over compose/ of the rendering the stack
runs (generate.rendered(): the defaults of generated/compose/ plus the user's overrides)."""
from __future__ import annotations

import subprocess

from plano_obs.config import generate, paths, settings
from plano_obs.dev import wasm
from plano_obs.errors import DockerError
from plano_obs.runtime import docker, health, localimages, ports, secrets


def command(local_images: bool = False, dev_envoy: bool = False) -> list[str]:
    """`docker compose` with the rendering's files and the project's env file: without the Grafana
    password there, Compose refuses any command (even `cp`) on the file's `${GRAFANA_ADMIN_PASSWORD:?}`.
    Run it with env=docker.compose_env()."""
    env_file = secrets.env_file()
    return docker.compose_args(generate.rendered(), str(env_file) if env_file.exists() else None, local_images, dev_envoy)


def _compose(args: list[str], echo: bool = True, check: bool = True, capture: bool = False,
             local_images: bool = False, dev_envoy: bool = False) -> subprocess.CompletedProcess:
    cmd = command(local_images, dev_envoy) + args
    if echo:
        print("$ " + " ".join(cmd))
    result = subprocess.run(cmd, text=True, capture_output=capture, env=docker.compose_env())
    if check and result.returncode != 0:
        raise DockerError(f"`{' '.join(cmd)}` failed with exit code {result.returncode}",
                          "see the output above; `invoke logs` shows the services' logs")
    return result


def host_side(stack: dict, dev_envoy: bool = False) -> list[str]:
    """Components that are not Compose services: the dev Plano, the dev Envoy unless its
    profile runs it on the Compose network (`--dev-envoy`), and what only native mode runs."""
    groups = stack["componentGroups"]
    return ([] if dev_envoy else groups["devEnvoy"]) + groups["devPlano"] + groups["nativeOnly"]


def running() -> list[str]:
    """Services of this project that Compose reports running (the dev Envoy's profile included)."""
    result = _compose(["ps", "--services", "--status", "running"], echo=False, check=False, capture=True, dev_envoy=True)
    return result.stdout.split() if result.returncode == 0 else []


def _pull_error(tag: str) -> str | None:
    """None when the engine has the image or pulls it now; otherwise why not, in one line."""
    if localimages.present(tag) is not None:
        return None
    print(f"$ docker pull {tag}", flush=True)
    r = subprocess.run(["docker", "pull", "-q", tag], capture_output=True, text=True)
    if r.returncode == 0:
        return None
    return (r.stderr.strip().splitlines() or ["no output"])[-1]


def plan(stack: dict, local_images: bool, dev_envoy: bool = False,
         only: tuple[str, ...] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """({component: image} to start, {component: why not}) for the services `up` starts.

    With --local-images, a component without a local image (Grafana: it cannot be built here)
    starts only when its official image is on the engine or can be pulled; otherwise it is
    left out with the reason, as native mode leaves out a binary it cannot find. Without it,
    or for a local image that was never built, a missing image is an error naming it."""
    start, skipped = {}, {}
    for comp in stack["components"]:
        if comp in host_side(stack, dev_envoy) or (only is not None and comp not in only):
            continue
        local = local_images and comp in stack["localImages"]
        tag = stack["localImages"][comp]["tag"] if local else stack["images"][comp]
        if local:
            if localimages.present(tag) is None:
                raise DockerError(f"image {tag} ({comp}) is not built",
                                  "run `invoke images.build` (docs/compose.md#local-images), then `invoke up --mode compose --local-images`")
            start[comp] = tag
            continue
        why = _pull_error(tag)
        if why is None:
            start[comp] = tag
        elif local_images:
            skipped[comp] = f"image {tag} is not on this engine and cannot be pulled ({why}), and it has no local build"
        else:
            raise DockerError(f"image {tag} ({comp}) is not on this engine and cannot be pulled: {why}",
                              "pull it where a registry answers, or build local images: `invoke images.build`, then "
                              "`invoke up --mode compose --local-images` (docs/compose.md#local-images)")
    return start, skipped


def up(deadline_s: float, local_images: bool = False, dev_envoy: bool = False,
       only: tuple[str, ...] | None = None) -> tuple[dict[str, health.Probe], dict[str, str]]:
    """Starts the services that have an image; returns their probes, and why any was left out."""
    docker.require_engine()
    stack = settings.load("compose")
    if not running():
        ports.check_free(stack)
    start, skipped = plan(stack, local_images, dev_envoy, only)
    if "envoy" in start:  # its WASM filter, mounted from the state folder (${PLANO_STATE_DIR})
        wasm.build(paths.state_dir() / "wasm")
    # a profile's subset (collector-only) starts without the services it depends on (Tempo)
    no_deps = ["--no-deps"] if only is not None else []
    _compose(["up", "-d", *no_deps, *(stack["services"][c] for c in start)], local_images=local_images, dev_envoy=dev_envoy)
    # the dev Plano runs on the host (native), not in Compose; the dev Envoy too, without --dev-envoy
    probes = health.wait_ready(stack, list(start), deadline_s)
    late = [f"{p.component} ({p.url}: {p.detail})" for p in probes.values() if not p.ok]
    if late:
        raise DockerError(f"not ready after {deadline_s:g}s: {', '.join(late)}", "see `invoke logs -s SERVICE`")
    return probes, skipped


def down(volumes: bool) -> None:
    docker.require_engine()
    _compose(["down"] + (["--volumes"] if volumes else []), dev_envoy=True)


def logs(service: str | None, follow: bool, tail: int) -> None:
    docker.require_engine()
    _compose(["logs", f"--tail={tail}"] + (["--follow"] if follow else []) + ([service] if service else []), echo=False,
             dev_envoy=True)

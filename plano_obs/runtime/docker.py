"""The Docker engine and the Compose CLI, found and checked before use."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import DockerError

# A rendering's Compose files, relative to its root: generated/ (the defaults, what the lint
# checks and a user without Python runs), or the rendering `invoke up` runs (generate.rendered()).
COMPOSE_FILE = Path("compose", "docker-compose.yaml")
# Swaps in the images `invoke images.build` makes (`invoke up --mode compose --local-images`).
LOCAL_IMAGES_FILE = Path("compose", "docker-compose.local-images.yaml")
# The dev Envoy and mock LLM as services (`invoke up --mode compose --dev-envoy`): the profile
# that starts them and the override that has Prometheus scrape them on the Compose network.
DEV_ENVOY_FILE = Path("compose", "docker-compose.dev-envoy.yaml")
DEV_ENVOY_PROFILE = "dev-envoy"


@functools.lru_cache(maxsize=1)
def compose_command() -> list[str]:
    """`docker compose` (the v2 plugin) or a standalone `docker-compose` v2."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    if not standalone:  # the Compose CLI the lint builds from its Go module (versions.compose)
        from plano_obs.config import settings
        from plano_obs.runtime import tools
        built = tools.compose(settings.version("compose", "compose"))  # the rendering `up` already loaded
        standalone = str(built.binary()) if built.ready else None
    if standalone:
        probe = subprocess.run([standalone, "version", "--short"], capture_output=True, text=True)
        if probe.returncode == 0 and not probe.stdout.strip().startswith("1."):
            return [standalone]
    raise DockerError("no Docker Compose v2 CLI found (`docker compose version` failed)",
                      "install the Compose v2 plugin, or run the stack natively")


def engine_error() -> str | None:
    """None when a Docker engine answers; otherwise why not, in one line."""
    if not shutil.which("docker"):
        return "Docker is not installed (no `docker` on PATH)"
    try:
        probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                               capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer within 15 s"
    if probe.returncode != 0:
        detail = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"the Docker engine is not running ({detail})"
    return None


def require_engine() -> None:
    problem = engine_error()
    if problem:
        raise DockerError(problem, "start Docker (e.g. `sudo systemctl start docker`), or use `invoke up --mode native`")


def compose_args(root: Path, env_file: str | None = None, local_images: bool = False, dev_envoy: bool = False) -> list[str]:
    """`docker compose` over the Compose files of the rendering in `root`."""
    args = compose_command() + ["-f", str(root / COMPOSE_FILE)]
    if local_images:
        args += ["-f", str(root / LOCAL_IMAGES_FILE)]
    if dev_envoy:
        args += ["-f", str(root / DEV_ENVOY_FILE), "--profile", DEV_ENVOY_PROFILE]
    if env_file:
        args += ["--env-file", env_file]
    return args


def compose_env() -> dict[str, str]:
    """The environment for `docker compose`: the Compose file mounts the WASM filter from
    ${PLANO_STATE_DIR} and the mock LLM from ${PLANO_CHECKOUT_DIR}. Their defaults (../../.state,
    ../..) are right for generated/compose/, not for a rendering in another folder."""
    return dict(os.environ, PLANO_STATE_DIR=str(paths.state_dir()), PLANO_CHECKOUT_DIR=str(paths.ROOT))

"""Compose mode: the stack as containers, `docker compose` over generated/compose/."""
from __future__ import annotations

import subprocess

from . import docker, health, ports, secrets, settings
from .errors import DockerError


def _compose(args: list[str], echo: bool = True, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    env_file = secrets.env_file()
    cmd = docker.compose_args(str(env_file) if env_file.exists() else None) + args
    if echo:
        print("$ " + " ".join(cmd))
    result = subprocess.run(cmd, text=True, capture_output=capture)
    if check and result.returncode != 0:
        raise DockerError(f"`{' '.join(cmd)}` failed with exit code {result.returncode}",
                          "see the output above; `invoke logs` shows the services' logs")
    return result


def host_side(stack: dict) -> list[str]:
    """Components that run on the host, not in Compose: the dev Envoy and the dev Plano."""
    groups = stack["componentGroups"]
    return groups["devEnvoy"] + groups["devPlano"]


def running() -> list[str]:
    """Services of this project that Compose reports running."""
    result = _compose(["ps", "--services", "--status", "running"], echo=False, check=False, capture=True)
    return result.stdout.split() if result.returncode == 0 else []


def up(deadline_s: float) -> dict[str, health.Probe]:
    docker.require_engine()
    stack = settings.load("compose")
    if not running():
        ports.check_free(stack)
    _compose(["up", "-d"])
    # the dev Envoy and the dev Plano run on the host (native), not in Compose
    services = [c for c in stack["components"] if c not in host_side(stack)]
    return health.wait_ready(stack, services, deadline_s)


def down(volumes: bool) -> None:
    docker.require_engine()
    _compose(["down"] + (["--volumes"] if volumes else []))


def logs(service: str | None, follow: bool, tail: int) -> None:
    docker.require_engine()
    _compose(["logs", f"--tail={tail}"] + (["--follow"] if follow else []) + ([service] if service else []), echo=False)

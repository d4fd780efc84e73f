"""Where things live. Settings resolve in one order: flag, then environment, then default."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "stack"
GENERATED = ROOT / "generated"
DEFAULT_OVERRIDES = STACK / "local.libsonnet"
MIXIN = ROOT / "mixin"
JSONNET_SOURCES = (STACK, MIXIN, ROOT / "envoy")


def resolve(flag: str | None, env: str, default: Path) -> Path:
    """The one place a path setting is decided: flag, then environment variable, then default."""
    if flag:
        return Path(flag).expanduser().resolve()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser().resolve()
    return default


def overrides_file(flag: str | None = None) -> Path:
    return resolve(flag, "PLANO_OBS_OVERRIDES", DEFAULT_OVERRIDES)


def secrets_dir(flag: str | None = None) -> Path:
    return resolve(flag, "PLANO_OBS_SECRETS", ROOT / ".secrets")


def state_dir(flag: str | None = None) -> Path:
    return resolve(flag, "PLANO_STATE_DIR", ROOT / ".state")


def runtime_dir(state: Path) -> Path:
    """Memory-backed scratch space of one state folder (a tmpfs: /dev/shm), for what must not
    share the state disk's fate, e.g. the collector's copy of what it sends to Tempo, which has
    to outlive a full state disk; the state folder itself where there is no /dev/shm."""
    import hashlib
    import os
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"plano-observability-{os.getuid()}-{hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]}"
    return state / "run"


def rendered_dir(flag: str | None = None) -> Path:
    """The rendering the stack runs from (the defaults plus the user's overrides), laid out as
    generated/ is; in the state folder, git-ignored, so an override never changes a committed file."""
    return state_dir(flag) / "rendered"


def cache_dir(flag: str | None = None) -> Path:
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return resolve(flag, "PLANO_OBS_CACHE", xdg / "plano-observability")

"""The one reader of the stack's settings. Every task, the lint, the benchmarks, the chaos run
and the live tests read what the Jsonnet config says through `load()`, always with the user's
overrides (stack/local.libsonnet or $PLANO_OBS_OVERRIDES), so an override reaches them all.
The data is the rendering's `stack.json`: ports, versions, services, metric names and knobs."""
from __future__ import annotations

from pathlib import Path

from plano_obs.config import paths, render

_CACHE: dict[tuple[str, str, float], dict] = {}


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def load(mode: str = "native") -> dict:
    """The settings of one mode (compose or native), overrides applied; rendered once per
    process and overrides file version."""
    overrides = paths.overrides_file()
    key = (mode, str(overrides), _stamp(overrides))
    if key not in _CACHE:
        _CACHE[key] = render.stack_info(mode, overrides)
    return _CACHE[key]


def port(name: str, mode: str = "native") -> int:
    return load(mode)["ports"][name]


def version(name: str, mode: str = "native") -> str:
    return load(mode)["versions"][name]

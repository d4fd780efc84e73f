"""Evaluates the Jsonnet sources into the generated files, in memory."""
from __future__ import annotations

import json
import re
from pathlib import Path

import _jsonnet

from . import paths
from .errors import JsonnetError

MODES = ("compose", "native")

# "RUNTIME ERROR: msg" / "STATIC ERROR: file:3:5-9: msg", then "\tfile:12:7-30\t..." frames.
_FRAME = re.compile(r"^\s*(?P<file>[^\s:][^:\n]*\.(?:jsonnet|libsonnet)):(?P<line>\d+):(?P<col>\d+)", re.M)
_STATIC = re.compile(r"^STATIC ERROR: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)(?:-\d+)?: (?P<msg>.*)$")


def _relative(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(paths.ROOT))
    except ValueError:
        return file


def parse_error(text: str) -> JsonnetError:
    """Turns the binding's multi-line message into one line with file:line."""
    first = text.strip().splitlines()[0] if text.strip() else "jsonnet failed"
    static = _STATIC.match(first)
    if static:
        return JsonnetError(static["msg"], f"{_relative(static['file'])}:{static['line']}")
    message = re.sub(r"^RUNTIME ERROR: ", "", first)
    frame = _FRAME.search(text)
    location = f"{_relative(frame['file'])}:{frame['line']}" if frame else ""
    return JsonnetError(message, location)


def _overrides_code(overrides: Path | None) -> str:
    if overrides is None or not overrides.exists():
        return "{}"
    return "import %s" % json.dumps(str(overrides.resolve()))


def render(mode: str, overrides: Path | None = None) -> dict[str, str]:
    """Returns {path relative to generated/: text} for one mode."""
    if mode not in MODES:
        raise JsonnetError(f"unknown mode {mode!r}", remedy=f"use one of {', '.join(MODES)}")
    try:
        out = _jsonnet.evaluate_file(
            str(paths.MAIN_JSONNET),
            tla_vars={"mode": mode},
            tla_codes={"overrides": _overrides_code(overrides)},
        )
    except RuntimeError as err:
        raise parse_error(str(err)) from err
    files = json.loads(out)
    if not all(isinstance(v, str) for v in files.values()):
        raise JsonnetError("stack/main.jsonnet must map paths to strings")
    # One JSON style for every generated .json file (Jsonnet's pads empty arrays).
    return {p: json.dumps(json.loads(t), indent=2) + "\n" if p.endswith(".json") else t for p, t in files.items()}


def render_all(overrides: Path | None = None) -> dict[str, str]:
    """Every generated file of every mode; shared files (dashboards) must agree."""
    files: dict[str, str] = {}
    for mode in MODES:
        for path, text in render(mode, overrides).items():
            if path in files and files[path] != text:
                raise JsonnetError(f"{path} renders differently per mode", remedy="keep shared outputs mode-independent")
            files[path] = text
    return files


def stack_info(mode: str = "compose", overrides: Path | None = None) -> dict:
    """The rendering's own description (ports, versions, services) as data."""
    return json.loads(render(mode, overrides)[f"{mode}/stack.json"])

"""Evaluates the Jsonnet sources into the generated files, in memory."""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import _jsonnet
import yaml

from . import paths
from .errors import JsonnetError

MODES = ("compose", "native")

# "RUNTIME ERROR: msg" / "STATIC ERROR: file:3:5-9: msg", then "\tfile:12:7-30\t..." frames
# ("\tfile:(12:7)-(14:3)\t..." when the expression spans lines).
_FRAME = re.compile(r"^\s+(?P<file>[^\s:][^:\n]*\.(?:jsonnet|libsonnet)):\(?(?P<line>\d+):(?P<col>\d+)", re.M)
_STATIC = re.compile(r"^STATIC ERROR: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)(?:-\d+)?: (?P<msg>.*)$")


def _relative(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(paths.ROOT))
    except ValueError:
        return file


def parse_error(text: str) -> JsonnetError:
    """Turns the binding's multi-line message into one line with file:line: the message's own
    lines joined, located at the innermost frame outside Jsonnet's standard library (an error
    inside std.format or std.all is about the line that called it)."""
    lines = text.strip().splitlines() or ["jsonnet failed"]
    static = _STATIC.match(lines[0])
    if static:
        return JsonnetError(static["msg"], f"{_relative(static['file'])}:{static['line']}")
    message = []
    for line in lines:
        if line.startswith("\t"):  # the stack trace begins
            break
        message.append(line.strip())
    frames = [f for f in _FRAME.finditer(text) if f["file"] != "std.jsonnet"]
    location = f"{_relative(frames[0]['file'])}:{frames[0]['line']}" if frames else ""
    return JsonnetError(re.sub(r"^RUNTIME ERROR: ", "", " ".join(m for m in message if m)), location)


def _overrides_code(overrides: Path | None) -> str:
    if overrides is None or not overrides.exists():
        return "{}"
    return "import %s" % json.dumps(str(overrides.resolve()))


# Evaluating the whole stack takes seconds (8–10 s a mode on a busy 2-core machine), and every
# process that reads the settings did it again. A rendering is a pure function of its inputs, so
# it is kept on disk under their digest: the Jsonnet sources, the overrides (and the Jsonnet
# beside them), this renderer, and the versions of the Jsonnet and YAML libraries.
CACHE_KEEP = 16  # renderings kept (the least recently used go first)


def _inputs_digest(mode: str, overrides: Path | None) -> str:
    digest = hashlib.sha256(f"{mode}\0{_jsonnet.version}\0{yaml.__version__}\0".encode())
    digest.update(Path(__file__).read_bytes())
    # every file of the project's Jsonnet folders (an import may name any of them); beside the
    # overrides, only what Jsonnet can import (that folder may be anyone's)
    sources = [f for root in sorted({paths.MAIN_JSONNET.parent, *paths.JSONNET_SOURCES}) for f in sorted(root.rglob("*"))]
    if overrides is not None and overrides.exists():
        digest.update(f"overrides={overrides.resolve()}\0".encode())
        sources += [f for f in sorted(overrides.resolve().parent.glob("*")) if f.suffix in (".jsonnet", ".libsonnet", ".json")]
    for f in sources:
        if f.is_file():
            digest.update(f"{f}\0".encode() + f.read_bytes() + b"\0")
    return digest.hexdigest()


def _cache_dir() -> Path | None:
    """Where renderings are kept; None with PLANO_RENDER_CACHE=off."""
    if os.environ.get("PLANO_RENDER_CACHE", "").lower() in ("off", "0", "no"):
        return None
    return paths.cache_dir() / "render"


def _cached(key: str) -> dict[str, str] | None:
    folder = _cache_dir()
    if folder is None:
        return None
    f = folder / f"{key}.json"
    try:
        files = json.loads(f.read_text(encoding="utf-8"))
        os.utime(f)  # recently used
        return files
    except (OSError, ValueError):
        return None


def _keep(key: str, files: dict[str, str]) -> None:
    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".render-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(files, fh)
        os.replace(tmp, folder / f"{key}.json")
        kept = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CACHE_KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written only costs time


def render(mode: str, overrides: Path | None = None) -> dict[str, str]:
    """Returns {path relative to generated/: text} for one mode."""
    if mode not in MODES:
        raise JsonnetError(f"unknown mode {mode!r}", remedy=f"use one of {', '.join(MODES)}")
    key = _inputs_digest(mode, overrides)
    files = _cached(key)
    if files is not None:
        return files
    try:
        out = _jsonnet.evaluate_file(
            str(paths.MAIN_JSONNET),
            tla_vars={"mode": mode},
            tla_codes={"overrides": _overrides_code(overrides)},
        )
    except RuntimeError as err:
        raise parse_error(str(err)) from err
    files = {path: _format(path, spec) for path, spec in json.loads(out).items()}
    _keep(key, files)
    return files


HEADER = "Generated by `invoke build` from the Jsonnet in stack/ and dashboards/. Do not edit: change the Jsonnet and rebuild."


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with lists indented under their key (yamllint's default style)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


class _BlockDumper(_Dumper):
    """Multi-line text (a ConfigMap's files) as literal blocks, readable in a diff."""


_BlockDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def _embed_data(obj: dict) -> dict:
    """A Kubernetes object whose ConfigMap `data` entries may be values: each becomes the text
    its key names (`*.json` as JSON, else YAML). Jsonnet's own std.manifest* would do the same
    some hundred times slower in the C++ binding."""
    data = obj.get("data")
    if not isinstance(data, dict):
        return obj
    text = {k: v if isinstance(v, str) else (json.dumps(v, indent=2, sort_keys=True) + "\n" if k.endswith(".json")
                                             else yaml.dump(v, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                                                            width=10_000, allow_unicode=True))
            for k, v in data.items()}
    return {**obj, "data": text}


def _format(path: str, spec: dict) -> str:
    kind, value = spec.get("format"), spec.get("value")
    if kind == "json":
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    if kind == "yaml":
        return f"# {HEADER}\n" + yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=10_000, allow_unicode=True)
    if kind == "kubernetes":
        return f"# {HEADER}\n" + yaml.dump(_embed_data(value), Dumper=_BlockDumper, sort_keys=True, default_flow_style=False,
                                           width=10_000, allow_unicode=True)
    if kind == "env":
        return f"# {HEADER}\n" + "".join(f"{k}={v}\n" for k, v in sorted(value.items()))
    if kind == "lines":
        return f"# {HEADER}\n" + "".join(f"{line}\n" for line in value)
    raise JsonnetError(f"{path}: unknown output format {kind!r}", remedy="use yaml, json, kubernetes, env or lines in stack/main.jsonnet")


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

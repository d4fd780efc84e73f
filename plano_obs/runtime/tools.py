"""Third-party programs the project builds from their published Go modules, once per
version, into the user's cache folder (never into the repository)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

import yaml

from plano_obs.config import paths
from plano_obs.errors import ToolError

MIN_GO = (1, 24)
# No DWARF from the compiler: every binary here is linked with -s -w (no symbols, no DWARF)
# anyway, and skipping it is 13% less compile CPU (the standard library: 80 against 93 CPU-s).
# All builds use the same flags, so they share the compiled standard library and modules.
GCFLAGS = "all=-dwarf=false"
T = TypeVar("T")

# Wall and CPU seconds of each build step this process ran, by label (the benchmark reads them).
timings: dict[str, float] = {}
cpu_seconds: dict[str, float] = {}
# Set when one of several concurrent builds failed: the others stop instead of finishing.
_stop = threading.Event()
# One Go build at a time: concurrent ones compile the same standard library and shared modules
# twice into an empty build cache and fight for the same cores (docs/benchmarks.md). Non-Go
# steps (pnpm's downloads, the UI's Node.js build) run beside them.
_go_build = threading.Lock()
_go_holder = ""


@dataclass(frozen=True)
class GoTool:
    """A program built from a Go module at a pinned version."""

    name: str
    version: str  # the program's own version (X.Y.Z)
    module: str
    module_version: str  # the Go module version, e.g. v0.314.0
    packages: tuple[str, ...]  # package paths inside the module
    # Modules whose go.mod has replace directives cannot be `go install`ed: build a copy.
    copy_module: bool = False
    ldflags: tuple[str, ...] = field(default_factory=tuple)
    tags: tuple[str, ...] = ()  # Go build tags
    # A digest of whatever else makes this build differ from a plain one (tags, embedded
    # assets): part of the cache folder's name, so a build of another recipe is never reused.
    key: str = ""
    src_name: str = ""  # the module copy's folder (default: the name); programs of one module share it

    @property
    def bin_dir(self) -> Path:
        suffix = f"-{self.key}" if self.key else ""
        return paths.cache_dir() / "bin" / f"{self.name}-{self.version}{suffix}"

    def binary(self, name: str | None = None) -> Path:
        return self.bin_dir / (name or self.name)

    @property
    def ready(self) -> bool:
        return (self.bin_dir / ".complete").exists()


def jsonnetfmt(version: str) -> GoTool:
    """go-jsonnet's formatter (versions.jsonnetfmt)."""
    return GoTool(name="jsonnetfmt", version=version, module="github.com/google/go-jsonnet",
                  module_version=f"v{version}", packages=("./cmd/jsonnetfmt",))


def compose(version: str) -> GoTool:
    """The Docker Compose v2 CLI (versions.compose), built as its plugin binary."""
    return GoTool(name="docker-compose", version=version, module="github.com/docker/compose/v2",
                  module_version=f"v{version}", packages=("./cmd",), copy_module=True,
                  ldflags=(f"-X github.com/docker/compose/v2/internal.Version=v{version}",))


def ocb(version: str) -> GoTool:
    """The OpenTelemetry Collector Builder, same release as the collector it builds."""
    return GoTool(name="ocb", version=version, module="go.opentelemetry.io/collector/cmd/builder",
                  module_version=f"v{version}", packages=(".",))


def telemetrygen(version: str) -> GoTool:
    """OpenTelemetry's load generator, for the replay benchmark."""
    return GoTool(name="telemetrygen", version=version,
                  module="github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen",
                  module_version=f"v{version}", packages=(".",))


def go_version() -> tuple[int, int]:
    go = shutil.which("go")
    if not go:
        raise ToolError("Go is not installed (no `go` on PATH)",
                        f"install Go {MIN_GO[0]}.{MIN_GO[1]} or newer (e.g. `apt-get install golang`), then retry")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    try:
        major, minor = (int(x) for x in out.removeprefix("go").split(".")[:2])
    except ValueError as err:
        raise ToolError(f"cannot read the Go version from {out!r}") from err
    if (major, minor) < MIN_GO:
        raise ToolError(f"Go {major}.{minor} is too old", f"install Go {MIN_GO[0]}.{MIN_GO[1]} or newer")
    return major, minor


def _go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, GOWORK="off", CGO_ENABLED="0", GOFLAGS="-mod=mod")
    env.update(extra or {})
    return env


def run_with_progress(cmd: list[str], cwd: Path | None, env: dict[str, str], label: str, log: Path,
                      go: bool = False) -> None:
    """Runs a long build step, printing a progress line every 15 s; the full output goes to
    log. Stops early when a concurrent build failed (see concurrently()). A Go build (`go`)
    waits for any other Go build to finish first."""
    if go:
        _wait_for_go(label)
    try:
        _run(cmd, cwd, env, label, log)
    finally:
        if go:
            _go_build.release()


def _wait_for_go(label: str) -> None:
    global _go_holder
    if not _go_build.acquire(blocking=False):
        print(f"  … {label}: waits for the {_go_holder} build (one Go build at a time)", flush=True)
        while not _go_build.acquire(timeout=0.5):
            if _stop.is_set():
                raise ToolError(f"{label}: stopped because another build failed")
    _go_holder = label


def _run(cmd: list[str], cwd: Path | None, env: dict[str, str], label: str, log: Path) -> None:
    start = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        next_line = start + 15
        while True:
            # wait4: the exit status and the CPU time of the step and every process it waited for
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if _stop.wait(timeout=0.5):
                proc.terminate()
                proc.wait()
                raise ToolError(f"{label}: stopped because another build failed")
            if time.monotonic() >= next_line:
                next_line += 15
                lines = sum(1 for _ in log.open(errors="replace"))
                print(f"  … {label}: {time.monotonic() - start:.0f}s, {lines} lines of build output", flush=True)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-5:]).strip().replace("\n", " | ")
        raise ToolError(f"building {label} failed (exit {proc.returncode}): {tail}", f"full log: {log}")
    timings[label] = time.monotonic() - start
    cpu_seconds[label] = usage.ru_utime + usage.ru_stime
    print(f"  built {label} in {timings[label]:.0f}s", flush=True)


def concurrently(jobs: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Runs independent builds at the same time (threads, each waiting on its own processes):
    network waits and single-threaded steps of one overlap the compiles of another. The first
    failure stops the others and is raised."""
    _stop.clear()
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(jobs)), thread_name_prefix="build") as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            try:
                wait(futures.values(), return_when=FIRST_EXCEPTION)
            except BaseException:  # Ctrl-C: stop the builds too
                _stop.set()
                raise
            failed = [f.exception() for f in futures.values() if f.done() and f.exception() is not None]
            if failed:
                _stop.set()  # the others stop; their own "stopped" errors are not the cause
                raise failed[0]
            return {name: f.result() for name, f in futures.items()}
    finally:
        _stop.clear()  # every thread has ended: later builds in this process run normally


def _module_dir(tool: GoTool) -> Path:
    result = subprocess.run(["go", "mod", "download", "-json", f"{tool.module}@{tool.module_version}"],
                            capture_output=True, text=True, env=_go_env(), cwd=paths.cache_dir())
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = {}
    if result.returncode != 0 or "Dir" not in data:
        why = data.get("Error") or result.stderr.strip() or "no output"
        # "…: reading https://proxy…: 403 Forbidden\n\tserver response: …" → its gist, one line
        why = " ".join(part.strip() for part in why.splitlines()).split(": reading ")[-1]
        raise ToolError(f"cannot download {tool.module}@{tool.module_version}: {why}",
                        "check that the Go module proxy is reachable (GOPROXY)")
    return Path(data["Dir"])


def module_copy(tool: GoTool) -> Path:
    """A writable copy of the tool's module (for modules with replace directives, or whose
    sources a build adds files to), made once per version."""
    src = paths.cache_dir() / "src" / f"{tool.src_name or tool.name}-{tool.version}"
    if not (src / "go.mod").exists():
        shutil.rmtree(src, ignore_errors=True)
        module_dir = _module_dir(tool)
        shutil.copytree(module_dir, src)
        for root, dirs, files in os.walk(src):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
        os.chmod(src, 0o755)
    return src


def ensure(tool: GoTool, prepare: Callable[[Path], None] | None = None) -> GoTool:
    """Builds the tool unless this version (and recipe) is already in the cache. `prepare`
    gets the module copy before `go build` (Prometheus writes its web UI there)."""
    if tool.ready:
        return tool
    go_version()
    paths.cache_dir().mkdir(parents=True, exist_ok=True)
    label = f"{tool.name} {tool.version}"
    announce = f"building {label} from {tool.module}@{tool.module_version} (once; cached in {tool.bin_dir})"
    ldflags = " ".join(("-s", "-w") + tool.ldflags)
    log = paths.cache_dir() / "logs" / f"{tool.bin_dir.name}.log"
    tags = ["-tags", ",".join(tool.tags)] if tool.tags else []
    if tool.copy_module:
        src = module_copy(tool)
        if prepare:
            prepare(src)
        print(announce, flush=True)
        tool.bin_dir.mkdir(parents=True, exist_ok=True)
        # One package: name the binary after the tool (a main package may be called cmd/).
        out = str(tool.binary()) if len(tool.packages) == 1 else str(tool.bin_dir) + "/"
        cmd = ["go", "build", "-v", "-trimpath", *tags, "-gcflags", GCFLAGS, "-ldflags", ldflags, "-o", out, *tool.packages]
        run_with_progress(cmd, src, _go_env(), label, log, go=True)
    else:
        print(announce, flush=True)
        tool.bin_dir.mkdir(parents=True, exist_ok=True)
        pkgs = [f"{tool.module}{'' if p == '.' else '/' + p.removeprefix('./')}@{tool.module_version}" for p in tool.packages]
        cmd = ["go", "install", "-v", "-trimpath", *tags, "-gcflags", GCFLAGS, "-ldflags", ldflags, *pkgs]
        run_with_progress(cmd, paths.cache_dir(), _go_env({"GOBIN": str(tool.bin_dir)}), label, log, go=True)
    (tool.bin_dir / ".complete").write_text(f"{tool.module}@{tool.module_version} {' '.join(tool.tags)}\n")
    return tool


def collector_dir(version: str, manifest: str) -> Path:
    """Cache folder of one collector build: the release plus a hash of its manifest."""
    digest = hashlib.sha256(manifest.encode()).hexdigest()[:10]
    return paths.cache_dir() / "bin" / f"otelcol-plano-{version}-{digest}"


def ensure_collector(version: str, manifest: str) -> Path:
    """Builds the slim collector from the ocb manifest (generated/collector/otelcol-builder.yaml)."""
    out = collector_dir(version, manifest)
    binary = out / "otelcol-plano"
    if (out / ".complete").exists():
        return binary
    builder = ensure(ocb(version)).bin_dir / "builder"
    spec = yaml.safe_load(manifest)
    spec["dist"]["output_path"] = str(out / "src")
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    label = f"otelcol-plano {version}"
    print(f"building {label} with ocb (once; cached in {out})", flush=True)
    log = paths.cache_dir() / "logs" / f"{out.name}.log"
    run_with_progress([str(builder), "--config", str(out / "manifest.yaml"), "--ldflags", "-s -w", "--gcflags", GCFLAGS, "--verbose"],
                       out, _go_env({"GOFLAGS": ""}), label, log, go=True)
    shutil.copy2(out / "src" / "otelcol-plano", binary)
    (out / ".complete").write_text(manifest)
    return binary

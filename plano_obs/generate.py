"""Writes the rendered files into generated/, and checks committed files for drift."""
from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

from . import paths
from .errors import DriftError
from .render import render_all


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
    files one by one and removes files no source produces any more. Returns what changed."""
    files = {p: t for p, t in render_all(overrides).items() if p.startswith(only)}
    changed = []
    for rel, text in sorted(files.items()):
        target = out / rel
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            _write_atomic(target, text)
            changed.append(rel)
    for rel in sorted(_existing(out) - set(files)):
        if rel.startswith(only):
            (out / rel).unlink()
            changed.append(rel)
    return changed


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

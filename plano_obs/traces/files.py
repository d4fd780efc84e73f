"""Trace files as paths: which files a FILE argument names, whether a file can be read, and
whether an output file can be written — asked before any waiting or sending, so a bad path
costs nothing — and writing it whole or not at all."""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable

from plano_obs.errors import PlanoError


class TraceFileError(PlanoError):
    """A path that cannot be read or written as a trace file; carries the path."""

    def __init__(self, path: Path, cause: str, remedy: str = "") -> None:
        super().__init__(cause, remedy)
        self.path = path


def inputs(spec: str) -> list[Path]:
    """'a.jsonl,b.jsonl.gz' or 'rec/*.jsonl' → readable files; a pattern that matches nothing,
    a missing file or a directory is an error."""
    found: list[Path] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        matches = sorted(glob.glob(part)) if any(ch in part for ch in "*?[") else [part]
        if not matches:
            raise TraceFileError(Path(part), f"no file matches {part!r}")
        found += [Path(m) for m in matches]
    for p in found:
        check_input(p)
    return found


def check_input(path: Path) -> None:
    if path.is_dir():
        raise TraceFileError(path, f"{path}: is a directory", f"name the files in it, e.g. '{path / '*.jsonl'}'")
    if not path.exists():
        raise TraceFileError(path, f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise TraceFileError(path, f"{path}: not readable (permission denied)")


def check_output(path: Path) -> None:
    """`path` can be created or replaced: its folder exists and is writable, and it is no folder."""
    folder = path.parent
    remedy = "choose another --out"
    if path.is_dir():
        raise TraceFileError(path, f"cannot write {path}: it is a directory",
                             f"give a file name, e.g. --out {path / 'traces.jsonl'}")
    if not folder.exists():
        raise TraceFileError(path, f"cannot write {path}: the folder {folder} does not exist", f"create it, or {remedy}")
    if not folder.is_dir():
        raise TraceFileError(path, f"cannot write {path}: {folder} is not a folder", remedy)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TraceFileError(path, f"cannot write {path}: the folder {folder} is not writable", remedy)


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Writes the lines (each ending in a newline) to a hidden sibling, then renames it over
    `path`: a reader never sees half a file, and a failure leaves none behind."""
    check_output(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        os.replace(partial, path)
    except BaseException as err:  # interrupted, or the disk is full: no half file stays behind
        partial.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise TraceFileError(path, f"cannot write {path}: {err.strerror or err}", "nothing was written") from err
        raise

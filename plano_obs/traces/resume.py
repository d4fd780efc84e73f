"""Where a stopped replay continues: a small JSON file, written when a replay ends before the
collector acknowledged everything, removed when a replay of the same files finishes.

    {"files": [{"path": "/abs/day1.jsonl", "size": 80123456, "mtime_ns": ...}],
     "loops": 1,
     "next": {"loop": 1, "file": "/abs/day1.jsonl", "record": 812, "span": 0}}

`next` is the first span the collector did not acknowledge: `record` counts the file's requests
from 1 (its non-empty lines, or 1 for a whole-document file) and `span` the spans before it in
that record. By default the file is in the state folder, named after the first input's absolute
path (`<state>/replay/<sha256 of it>.json`): runtime state never lands beside a user's files;
--state FILE puts it elsewhere."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import PlanoError
from plano_obs.traces.spool import Position

_NOTE = "written by `invoke traces.replay` when it stopped early; `--resume` continues at `next`"


class ResumeError(PlanoError):
    """A state file that cannot be resumed from; carries its path."""

    def __init__(self, path: Path, cause: str, remedy: str) -> None:
        super().__init__(cause, remedy)
        self.path = path


def _folder() -> Path:
    return paths.state_dir() / "replay"


def default_path(first_input: Path) -> Path:
    """Where a replay of these files keeps its state unless --state says otherwise; the same for
    any spelling of the path (relative, through a symlink)."""
    return _folder() / f"{hashlib.sha256(str(first_input.resolve()).encode()).hexdigest()}.json"


def _fingerprint(path: Path) -> dict:
    st = os.stat(path)
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def save(path: Path, inputs: list[Path], loops: int, at: Position) -> None:
    """Writes the state whole or not at all: to a hidden sibling, renamed over `path`."""
    state = {"note": _NOTE, "files": [_fingerprint(p) for p in inputs], "loops": loops,
             "next": {"loop": at.loop, "file": str(inputs[at.file].resolve()), "record": at.record, "span": at.span}}
    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.parent == _folder():  # the default place is made on first use; a --state folder must exist
            path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise ResumeError(path, f"cannot save the replay state to {path}: {err.strerror or err}",
                          "give --state FILE in a writable folder to resume later") from err


def clear(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as err:  # a stale state would make a later --resume skip what it should send
        raise ResumeError(path, f"cannot remove the finished replay's state {path}: {err.strerror or err}",
                          "delete it by hand") from err


def load(path: Path, inputs: list[Path], loops: int) -> Position:
    """The position to resume from, after checking the state is for these very files."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        recorded = state["files"]
        at = state["next"]
        position = Position(int(at["loop"]), [f["path"] for f in recorded].index(at["file"]), int(at["record"]),
                            int(at["span"]))
        stopped_loops = int(state["loops"])
    except FileNotFoundError:
        raise ResumeError(path, f"--resume: no replay state at {path}",
                          "nothing to resume (the last replay finished, or none stopped here); "
                          "run without --resume to send everything, or name the state with --state FILE") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResumeError(path, f"--resume: {path} is not a replay state file ({type(err).__name__}: {err})",
                          "delete it and run without --resume") from err
    given = [str(p.resolve()) for p in inputs]
    if [f["path"] for f in recorded] != given:
        raise ResumeError(path, f"--resume: {path} is for {', '.join(f['path'] for f in recorded)}, not {', '.join(given)}",
                          "give the same FILE as the stopped replay, or another --state")
    for f, p in zip(recorded, inputs):
        now = _fingerprint(p)
        if (now["size"], now["mtime_ns"]) != (f["size"], f["mtime_ns"]):
            raise ResumeError(path, f"--resume: {p} changed since the replay stopped (its size or modification time differ)",
                              "run without --resume to send it all")
    if stopped_loops != loops:
        raise ResumeError(path, f"--resume: the stopped replay had --loop {stopped_loops}, this one {loops}",
                          f"give --loop {stopped_loops}")
    if not 1 <= position.loop <= loops:
        raise ResumeError(path, f"--resume: {path} names loop {position.loop} of {loops}", "delete it and run without --resume")
    return position

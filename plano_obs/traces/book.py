"""Trace ids counted and listed without holding them: a replay reports exactly which traces it
sent (and how many it did not), and its memory must not grow with the number of traces. The ids
live in SQLite's private temporary database (stdlib): pages beyond a 2 MiB cache go to a file
in $TMPDIR that is deleted when the book is closed."""
from __future__ import annotations

import sqlite3
from typing import Iterable, Iterator


class TraceBook:
    """An ordered set of (loop, trace id): each trace once a loop, in the order first added."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "": a private, temporary, on-disk database
        self._db.execute("PRAGMA cache_size = -2048")  # KiB
        self._db.execute("CREATE TABLE traces (loop INTEGER NOT NULL, id BLOB NOT NULL, UNIQUE (loop, id))")
        self._count = 0

    def add(self, loop: int, ids: Iterable[bytes]) -> None:
        cursor = self._db.executemany("INSERT OR IGNORE INTO traces VALUES (?, ?)", ((loop, i) for i in ids))
        self._count += max(cursor.rowcount, 0)  # the rows added: ids already there are ignored

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        for (tid,) in self._db.execute("SELECT id FROM traces ORDER BY rowid"):
            yield tid

    def hex(self, limit: int | None = None) -> list[str]:
        out = []
        for tid in self:
            if limit is not None and len(out) >= limit:
                break
            out.append(tid.hex())
        return out

    def close(self) -> None:
        self._db.close()

"""Spools kept between replays: replaying a file again skips its first pass (parsing and
encoding, most of a cold replay's time) and sends from the spool the last replay made.

A file's spool is found by what the file holds, not by its name: the key is the SHA-256 of its
bytes, its size and the chunk size (`max_spans`), and the entry's format version. The hash is
taken of the bytes the first pass actually read (a file that grows meanwhile is cached as it was
read). Looking a file up reads it to hash it (about 0.1 s for 100 MB) only when a cached spool of
its very size exists and its path is not in known.json with the same stamp — device, inode,
size, mtime and ctime, which an edit cannot set back — as when it was last hashed unchanged.
Each cached spool holds the file's counts and a CRC of its entries, checked before use; a spool
that fails the check is removed and the file parsed again.

The folder holds at most `limit` bytes: the least recently used spools are removed first, and a
spool larger than the whole limit is not kept. The cache is a speed-up only: when its folder
cannot be written, the replay goes on without it.

    PLANO_REPLAY_CACHE     off (or 0, no, false): keep nothing; a folder; default
                           <cache dir>/replay-spool (~/.cache/plano-observability/replay-spool)
    PLANO_REPLAY_CACHE_MB  the folder's limit, in MiB (default 2048)"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import PlanoError
from plano_obs.traces import wire
from plano_obs.traces.spoolfile import Segment

VERSION = 1  # of the entries' format: a cached spool of another version is not used
DEFAULT_LIMIT_MB = 2048
_MAGIC = b"plano-replay-spool\n"
_HEAD = struct.Struct("<IQQQQQI")  # version, records, spans, start, end, entries' bytes, their CRC-32
_OFF = ("off", "0", "no", "false")
_STALE_S = 3600  # a partial spool older than this was left by a replay that died
_KNOWN = "known.json"  # path → [stamp…, SHA-256] of files hashed while unchanged
_KNOWN_LIMIT = 1024  # paths remembered, the latest


@dataclass
class Summary:
    """A file's counts, kept with its cached spool."""
    records: int = 0
    spans: int = 0
    start: int = wire.U64
    end: int = 0

    def add(self, chunk: wire.Chunk) -> None:
        self.spans += chunk.spans
        self.start, self.end = min(self.start, chunk.start), max(self.end, chunk.end)


def _stamp(st: os.stat_result) -> list[int]:
    """What changes whenever a file's bytes do (ctime cannot be set back, unlike mtime)."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class Fingerprint:
    """The SHA-256 and the length of the bytes read, and the file's stamp before they were."""

    def __init__(self, stamp: list[int] | None = None) -> None:
        self._hash, self.size, self.stamp = hashlib.sha256(), 0, stamp

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class SpoolCache:
    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit

    def _prefix(self, max_spans: int, size: int) -> str:
        return f"v{VERSION}-{max_spans}-{size}-"

    def digest(self, path: Path) -> Fingerprint | None:
        """A fingerprint to feed with the file as it is read; None for what is not a regular file
        (a pipe is read once: it cannot be looked up)."""
        st = os.stat(path)
        return Fingerprint(_stamp(st)) if stat.S_ISREG(st.st_mode) else None

    def find(self, path: Path, max_spans: int) -> tuple[Segment, Summary] | None:
        """The cached spool of `path` (opened, its CRC checked), or None. A file whose stamp is
        known (known.json: path → stamp and SHA-256) is not read again to be hashed."""
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or not self.folder.is_dir():
            return None
        known = self._known().get(str(Path(path).resolve()))
        if known and known[:5] == _stamp(st):
            name = self.folder / f"{self._prefix(max_spans, st.st_size)}{known[5]}.spool"
        else:
            prefix = self._prefix(max_spans, st.st_size)
            if not any(self.folder.glob(f"{prefix}*.spool")):
                return None  # nothing of this size: no need to read the file to hash it
            h = Fingerprint(_stamp(st))
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
            name = self.folder / f"{self._prefix(max_spans, h.size)}{h.hexdigest()}.spool"
            if name.exists():
                self._remember(path, h)
        try:
            stream = name.open("rb")
        except OSError:
            return None
        found = _check(stream)
        if found is None:
            stream.close()
            _remove(name)
            return None
        try:
            os.utime(name)  # recently used: the last to be removed
        except OSError:
            pass
        return found

    def _known(self) -> dict[str, list]:
        try:
            return json.loads((self.folder / _KNOWN).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _remember(self, path: Path, digest: Fingerprint) -> None:
        """Notes the file's stamp and hash — only when the file did not change while it was read."""
        try:
            if digest.stamp != _stamp(os.stat(path)):
                return
            known = self._known()
            known.pop(str(Path(path).resolve()), None)
            known[str(Path(path).resolve())] = [*digest.stamp, digest.hexdigest()]  # type: ignore[misc]
            partial = self.folder / f".partial-{os.getpid()}-{_KNOWN}"
            with open(partial, "w", encoding="utf-8", opener=lambda p, flags: os.open(p, flags, 0o600)) as out:
                json.dump(dict(list(known.items())[-_KNOWN_LIMIT:]), out)
            os.replace(partial, self.folder / _KNOWN)
        except OSError:
            pass

    def store(self, path: Path, digest: Fingerprint, max_spans: int, segment: Segment, summary: Summary) -> None:
        """Keeps a file's segment (of the replay's spool file) under the hash of what was read."""
        size = segment.end - segment.start
        if len(_MAGIC) + _HEAD.size + size > self.limit:  # larger than the whole folder may be
            return
        name = self.folder / f"{self._prefix(max_spans, digest.size)}{digest.hexdigest()}.spool"
        partial = self.folder / f".partial-{os.getpid()}-{name.name}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            segment.stream.flush()
            with open(partial, "wb", opener=lambda p, flags: os.open(p, flags, 0o600)) as out:
                out.write(_MAGIC + bytes(_HEAD.size))
                crc = _copy(segment, out)
                out.seek(len(_MAGIC))
                out.write(_HEAD.pack(VERSION, summary.records, summary.spans, summary.start, summary.end, size, crc))
            os.replace(partial, name)
            self._remember(path, digest)
            self._evict(keep=name)
        except OSError:  # a full disk, a read-only folder: the replay goes on without the cache
            _remove(partial)

    def _evict(self, keep: Path) -> None:
        entries = []
        for p in self.folder.iterdir():
            try:
                st = p.stat()
            except OSError:
                continue
            if p.name.startswith(".partial-") and st.st_mtime < time.time() - _STALE_S:
                _remove(p)
            elif p.suffix == ".spool":
                entries.append((p == keep, st.st_mtime, st.st_size, p))
        total = sum(e[2] for e in entries)
        for kept, _, size, p in sorted(entries):  # the least recently used first; this one never
            if total <= self.limit or kept:
                break
            _remove(p)
            total -= size


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:  # gone already, or another replay's to remove
        pass


def _copy(segment: Segment, out) -> int:  # type: ignore[no-untyped-def]
    """Copies the segment's bytes; returns their CRC-32."""
    f, left, crc = segment.stream, segment.end - segment.start, 0
    f.seek(segment.start)
    while left:
        block = f.read(min(left, 1 << 20))
        if not block:
            raise OSError("the spool file ended early")
        crc = zlib.crc32(block, crc)
        out.write(block)
        left -= len(block)
    return crc


def _check(stream) -> tuple[Segment, Summary] | None:  # type: ignore[no-untyped-def]
    """The cached spool's segment and counts, if its header, size and CRC are right."""
    head = stream.read(len(_MAGIC) + _HEAD.size)
    if len(head) != len(_MAGIC) + _HEAD.size or not head.startswith(_MAGIC):
        return None
    version, records, spans, start, end, size, crc = _HEAD.unpack(head[len(_MAGIC):])
    first = len(head)
    if version != VERSION or os.fstat(stream.fileno()).st_size != first + size:
        return None
    got = 0
    while block := stream.read(1 << 20):
        got = zlib.crc32(block, got)
    if got != crc:
        return None
    return Segment(-1, stream, first, first + size), Summary(records, spans, start, end)


def from_env() -> SpoolCache | None:
    """The cache as PLANO_REPLAY_CACHE and PLANO_REPLAY_CACHE_MB set it (None: off)."""
    where = os.environ.get("PLANO_REPLAY_CACHE", "").strip()
    if where.lower() in _OFF:
        return None
    limit = os.environ.get("PLANO_REPLAY_CACHE_MB", "").strip()
    try:
        mb = float(limit) if limit else DEFAULT_LIMIT_MB
    except ValueError:
        mb = -1
    if not mb >= 0:
        raise PlanoError(f"PLANO_REPLAY_CACHE_MB must be a number of MiB, 0 or more, got {limit!r}",
                         "0 keeps nothing; unset it for the default (2048)")
    folder = Path(where).expanduser() if where else paths.cache_dir() / "replay-spool"
    return SpoolCache(folder, int(mb * (1 << 20)))

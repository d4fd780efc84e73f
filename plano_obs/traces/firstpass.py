"""The first pass's work on one file: each record parsed (orjson), validated and encoded once
(encoder.py), in file order — in this process, or on worker processes for a large file.

Parsing: orjson, a compiled parser, reads these lines about twice as fast as `json`. Whenever it
refuses a line (NaN, a lone surrogate, a number past a double…) the line is read again by
`json`, so what is accepted and every error's wording stay `json`'s. Where orjson's value differs
from `json`'s (an integer past 64 bits becomes a float), the encoder finds it unusual, and the
exact path reads the line again with `json` too."""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import orjson

from plano_obs.errors import PlanoError
from plano_obs.traces import otlpjson, wire
from plano_obs.traces.encoder import Encoder
from plano_obs.traces.spoolfile import entry_bytes

Encoded = tuple[int, Iterable[wire.Chunk]]  # record number, its chunks


def _parse(path: Path, where: str, raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return otlpjson.parse_line(path, where, raw)  # json's value, or its error


RESTART = wire.Chunk(b"", 0)  # in a huge record's chunks: those given before it are void


def encode(encoder: Encoder, payload: object, path: Path, where: str, traces: dict | None) -> Iterable[wire.Chunk]:
    """One record's chunks: `payload` is the line's bytes, its JSON value, or a Big record (then
    the chunks come as they are cut, perhaps with a RESTART)."""
    if isinstance(payload, otlpjson.Big):
        return _big(encoder, payload, path, where, traces)
    data = _parse(path, where, payload) if isinstance(payload, bytes) else payload
    try:
        return encoder.chunks(data, traces)
    except wire.Unusual:
        if isinstance(payload, bytes):
            data = otlpjson.parse_line(path, where, payload)  # json's value: orjson's may differ here
        request = otlpjson.exact(data, path, where)  # words the error, or parses what is unusual
        return wire.message_chunks(request, traces, encoder.max_spans)


def _big(encoder: Encoder, big: otlpjson.Big, path: Path, where: str, traces: dict | None) -> Iterator[wire.Chunk]:
    try:
        yield from encoder.chunks_from(big.resource_spans(), traces)
        return
    except (wire.Unusual, otlpjson.NotSplittable):
        pass
    yield RESTART
    yield from encode(encoder, big.parse(), path, where, traces)  # whole: the usual path, and its error wording


def sequential(path: Path, encoder: Encoder, traces: dict | None,
               digest: otlpjson.Digest | None = None) -> Iterator[Encoded]:
    for number, where, payload in otlpjson.raw_records(path, digest):
        yield number, encode(encoder, payload, path, where, traces)


# --- on several cores ---------------------------------------------------------------------
# Parsing is CPU-bound Python, and the collector is idle until the second pass: a large file's
# lines go in batches to worker processes (forked: they start in milliseconds and share the
# loaded modules), which parse and encode them; their chunks come back in order.

BATCH_BYTES = 1 << 20
MAX_WORKERS = 4  # each holds ~45 MiB; past a few, reading the file is the limit
_worker_encoder: Encoder | None = None


def watch_parent(parent: int) -> None:
    """In a worker: exit once the replay that started it is gone (killed), rather than linger."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


class Written(NamedTuple):
    """A worker's batch: its records' entries laid out as the spool holds them (one bytes object
    crosses to the parent far cheaper than thousands of chunks), and each record's chunks without
    their data, to be counted."""
    entries: bytes
    records: list[tuple[int, list[wire.Chunk]]]


def _encode_batch(path: Path, batch: list[tuple[int, str, bytes]], max_spans: int, trace_starts: bool):
    """In a worker: (entries, [(number, [(first, spans, start, end) a chunk])], trace starts,
    (where, reason) of a bad record)."""
    global _worker_encoder
    if _worker_encoder is None or _worker_encoder.max_spans != max_spans:
        _worker_encoder = Encoder(max_spans)
    traces: dict[bytes, int] | None = {} if trace_starts else None
    entries: list[bytes] = []
    records = []
    bad = None
    try:
        for number, where, raw in batch:
            chunks = encode(_worker_encoder, raw, path, where, traces)
            entries += [entry_bytes(number, c) for c in chunks]  # type: ignore[union-attr]
            records.append((number, [(c.first, c.spans, c.start, c.end) for c in chunks]))  # type: ignore[union-attr]
    except otlpjson.OtlpFileError as err:  # its own class does not pickle: send its parts
        bad = (err.where, err.reason)
    return b"".join(entries), records, traces, bad


def parallel(path: Path, pool: ProcessPoolExecutor, workers: int, encoder: Encoder, traces: dict | None,
             digest: otlpjson.Digest | None = None) -> Iterator[Encoded | Written]:
    pending: deque = deque()  # futures of batches, or records done here, in file order
    batch: list[tuple[int, str, bytes]] = []
    size = 0

    def submit() -> None:
        nonlocal batch, size
        if batch:
            pending.append(pool.submit(_encode_batch, path, batch, encoder.max_spans, traces is not None))
            batch, size = [], 0

    def ready(block: bool) -> Iterator[Encoded | Written]:
        while pending and (block or len(pending) > 2 * workers):
            item = pending.popleft()
            if not isinstance(item, Future):
                yield item
                continue
            entries, records, found, bad = item.result()
            if traces is not None and found:
                for tid, t0 in found.items():
                    if tid not in traces or t0 < traces[tid]:
                        traces[tid] = t0
            yield Written(entries, [(number, [wire.Chunk(b"", n, first, start, end) for first, n, start, end in metas])
                                    for number, metas in records])
            if bad:
                for f in pending:
                    if isinstance(f, Future):
                        f.cancel()
                raise otlpjson.OtlpFileError(path, *bad)

    for number, where, payload in otlpjson.raw_records(path, digest):
        if isinstance(payload, bytes):  # a Big, or the first record parsed already, is encoded here
            batch.append((number, where, payload))
            size += len(payload)
            if size >= BATCH_BYTES:
                submit()
                yield from ready(block=False)
        else:
            submit()
            pending.append((number, encode(encoder, payload, path, where, traces)))
    submit()
    yield from ready(block=True)


def workers_from_env() -> int:
    """Worker processes for the first pass: PLANO_REPLAY_WORKERS, else one a core this process
    may use, at most MAX_WORKERS (1: none, all in this process)."""
    value = os.environ.get("PLANO_REPLAY_WORKERS", "")
    if value.strip():
        try:
            return max(1, int(value))
        except ValueError:
            raise PlanoError(f"PLANO_REPLAY_WORKERS must be a whole number, got {value!r}",
                             "1 parses in the replay's own process") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, MAX_WORKERS)

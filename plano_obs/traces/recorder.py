"""Recording: the collector's `traces/record` pipeline writes every received request to a
rotating OTLP/JSON-lines file; recording cuts out what arrived during a time window."""
from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from plano_obs.config import paths, settings
from plano_obs.errors import PlanoError
from plano_obs.runtime import compose, docker
from plano_obs.traces import files, otlpjson


class RecordError(PlanoError):
    """Recording is not possible (stack down, recording disabled)."""


@dataclass
class Recorded:
    requests: int
    spans: int
    seconds: float  # how long it recorded: the duration, or less when stopped with Ctrl-C


def _file(mode: str) -> str:
    """Where the collector writes the recording (_config.recordFile); refuses when it does not."""
    record = settings.load(mode)["record"]
    if not record["enabled"]:
        raise RecordError("recording is disabled (_config.record.enabled is false)",
                          "enable it in stack/local.libsonnet and `invoke up` again")
    return record["file"]


def _native_file() -> Path:
    return Path(_file("native").replace("${env:PLANO_STATE_DIR}", str(paths.state_dir())))


def _snapshot(mode: str) -> bytes:
    """The recording file as it is now (its whole content)."""
    if mode == "native":
        f = _native_file()
        if not f.parent.exists():
            raise RecordError(f"{f.parent} does not exist", "start the stack with `invoke up` (recording is on by default)")
        return f.read_bytes() if f.exists() else b""
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(compose.command() + ["cp", f"{settings.load('compose')['services']['collector']}:{_file('compose')}", tmp + "/t.jsonl"],
                           capture_output=True, text=True, env=docker.compose_env())
        if r.returncode != 0:
            if "Could not find the file" in r.stderr or "No such" in r.stderr:
                return b""
            raise RecordError(f"cannot read the recording from the collector container: {r.stderr.strip()}",
                              "is the stack up (`invoke status`)?")
        return Path(tmp, "t.jsonl").read_bytes()


def _settled(mode: str, timeout: float = 10.0) -> bytes:
    """Waits until the file stops growing (the exporter flushes every second)."""
    last, stable_since, end = _snapshot(mode), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(0.5)
        now = _snapshot(mode)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= 1.5:
            break
    return last


def record(mode: str, out: Path, duration_s: float) -> Recorded:
    """Waits `duration_s` (or until Ctrl-C, SIGINT), then writes what arrived to `out`; `out`
    is checked first, so a bad path fails now rather than after the wait, and nothing is
    written unless it all validates."""
    if duration_s <= 0:
        raise RecordError(f"--duration must be positive, got {duration_s}")
    files.check_output(out)
    before = _settled(mode)
    print(f"recording traces arriving at the collector for {duration_s:.0f}s (Ctrl-C stops it early) …", flush=True)
    start = time.monotonic()
    end = start + duration_s
    try:
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 10))
            if left > 10:
                print(f"  … {end - time.monotonic():.0f}s left", flush=True)
    except KeyboardInterrupt:
        print(f"  stopped after {time.monotonic() - start:.0f}s: writing what arrived so far", flush=True)
    seconds = time.monotonic() - start
    after = _settled(mode)
    # Rotation starts a new file: then everything in the new file is new.
    new = after[len(before):] if after.startswith(before) else after
    try:
        lines = [l for l in new.decode("utf-8").splitlines() if l.strip()]
    except UnicodeDecodeError as err:
        raise RecordError(f"the collector's recording is not UTF-8 text at byte {err.start}", "nothing was written") from err
    records = otlpjson.parse_lines(out, lines) if lines else []
    files.write_lines(out, lines)
    spans = sum(len(ss.spans) for r in records for rs in r.request.resource_spans for ss in rs.scope_spans)
    return Recorded(len(records), spans, seconds)

"""The Tempo guard: what the stack does about Tempo's loss window
(docs/reliability.md#tempos-loss-window).

Tempo 3's single binary acknowledges spans while they are only in its memory, for up to
`tempo.lossWindowSeconds`; a SIGKILL or a crash in that window loses them. The collector
therefore keeps a rolling copy of everything it sends to Tempo (its `file/tempo-window`
exporter: OTLP/JSON lines, rotated past a size, one older part kept). This process watches
Tempo and that copy:

- every half second it notes how long the copy is (a mark: wall time, file, size), so it can
  later cut out what arrived during any recent stretch of time;
- it reads Tempo's process start time; when that changes, Tempo has restarted without the
  stack asking (`invoke down` stops this process first);
- then, once Tempo is ready and the collector has delivered its queue, it takes what the copy
  received from one loss window (plus a margin) before Tempo was last seen up, to when it was
  seen again, asks Tempo for each of those traces, and re-sends only the spans Tempo does not
  have, with their recorded ids and times, through the project's replay, straight to Tempo's
  OTLP receiver (not through the collector: its span metrics counted them already).

It logs one line per restart it saw and serves its counts on /metrics
(`plano_tempo_guard_*`). A clean stop of Tempo writes everything out, so after one nothing is
missing and nothing is sent.

    python -m plano_obs.traces.guard --tempo URL --tempo-otlp HOST:PORT --copy FILE \\
        --collector-telemetry URL --loss-window S [--margin S] [--host H --port P]
"""
from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import requests

INTERVAL_S = 0.5
MARKS_S = 3600  # how far back the marks go (the copy's size bounds what they can reach)
LOW_DISK = 64 << 20  # free bytes on the state disk below which Tempo cannot be trusted to write
_START = re.compile(rb"^process_start_time_seconds ([0-9.e+]+)$", re.M)
# Tempo's own counts of WAL blocks it could not complete or flush (a full or failing disk): the
# traces in them are lost at its next restart, however long before that they arrived
_FAILED = re.compile(rb"^tempo_live_store_(?:failed_completions|local_failed_flushes)_total(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)
# the collector's own counters (with or without `_total`, by its telemetry version)
_ACCEPTED = re.compile(r'^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*\} ([0-9.e+]+)$', re.M)
_SENT = re.compile(r'^otelcol_exporter_sent_spans(?:_total)?\{[^}]*exporter="otlp_grpc/tempo"[^}]*\} ([0-9.e+]+)$', re.M)
_HEX16 = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class Mark:
    t: float  # wall clock
    inode: int  # the copy's file then (0: none yet)
    size: int  # its length then


class Copy:
    """The collector's rolling copy of what it sent to Tempo, and marks of how long it was when."""

    def __init__(self, path: Path, keep_s: float) -> None:
        self.path, self.keep_s = path, keep_s
        self.marks: deque[Mark] = deque()

    def mark(self, now: float) -> None:
        try:
            st = self.path.stat()
            self.marks.append(Mark(now, st.st_ino, st.st_size))
        except FileNotFoundError:
            self.marks.append(Mark(now, 0, 0))
        while len(self.marks) > 2 and self.marks[1].t <= now - self.keep_s:
            self.marks.popleft()  # one mark older than keep_s stays: where a cut may begin

    def _parts(self) -> dict[int, Path]:
        """The copy's files by inode: the current one and the rotated part the exporter kept."""
        out = {}
        for p in self.path.parent.glob(f"{self.path.stem}*{self.path.suffix}"):
            try:
                out[p.stat().st_ino] = p
            except FileNotFoundError:
                continue
        return out

    def cut(self, t0: float, t1: float) -> tuple[list[bytes], float]:
        """The JSON lines the copy received between about t0 and t1 (from the last mark at or
        before t0 to the first at or after t1), and the time its oldest line is known to be from
        (t0 or later when the copy does not reach back that far)."""
        if not self.marks:
            return [], t1
        end = next((m for m in self.marks if m.t >= t1), self.marks[-1])
        parts = self._parts()
        start = next((m for m in reversed(self.marks) if m.t <= t0), None)
        if start is None:  # t0 is before the first mark: all the copy holds, known to reach back to that mark
            older = [inode for inode in parts if inode != end.inode]
            start = Mark(self.marks[0].t, older[0] if older else end.inode, 0)
        data = b""
        if start.inode == end.inode:
            data = _read(parts.get(start.inode), start.size, end.size)
            skip_first = start.size > 0 and _read(parts.get(start.inode), start.size - 1, start.size) != b"\n"
        else:  # rotated in between: the rest of the older part, then the new file's start
            older = parts.get(start.inode)
            data = (_read(older, start.size, None) if older else b"") + _read(parts.get(end.inode), 0, end.size)
            skip_first = older is not None and start.size > 0 and _read(older, start.size - 1, start.size) != b"\n"
        lines = data.split(b"\n")
        if skip_first:
            lines = lines[1:]  # the tail of a line written before the mark
        if not data.endswith(b"\n"):
            lines = lines[:-1]  # a line the exporter was still writing
        return [line for line in lines if line.strip()], start.t


def _read(path: Path | None, begin: int, end: int | None) -> bytes:
    if path is None or not path.exists():
        return b""
    with path.open("rb") as fh:
        fh.seek(begin)
        return fh.read() if end is None else fh.read(max(end - begin, 0))


def _hex(value: str) -> str:
    """An id as lowercase hex: the collector writes hex, Tempo's API answers base64."""
    if _HEX16.match(value) or re.fullmatch(r"[0-9a-f]{32}", value):
        return value
    return base64.b64decode(value).hex()


def spans_in_tempo(tempo: str, trace_id: str) -> set[str]:
    r = requests.get(f"{tempo}/api/v2/traces/{trace_id}", timeout=10)
    if r.status_code == 404:
        return set()
    r.raise_for_status()
    body = r.json().get("trace", {})
    return {_hex(s["spanId"]) for rs in body.get("resourceSpans", []) for ss in rs.get("scopeSpans", [])
            for s in ss.get("spans", [])}


def missing(lines: Iterable[bytes], present: Callable[[str], set[str]]) -> tuple[list[dict], int, int]:
    """The copy's requests cut down to the spans Tempo lacks (`present(trace id)` gives the span
    ids it has), the number of traces looked up, and of spans that were there already."""
    requests_ = []
    for line in lines:
        try:
            requests_.append(json.loads(line))
        except ValueError:
            continue  # a line the exporter could not finish (a full disk): the collector refused those spans
    have: dict[str, set[str]] = {}
    for req in requests_:
        for rs in req.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    have.setdefault(s["traceId"].lower(), set())
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:  # hundreds of lookups after a busy minute
        for tid, spans in zip(list(have), pool.map(present, list(have))):
            have[tid] = spans
    out, already = [], 0
    for req in requests_:
        kept_rs = []
        for rs in req.get("resourceSpans", []):
            kept_ss = []
            for ss in rs.get("scopeSpans", []):
                spans = [s for s in ss.get("spans", []) if s["spanId"].lower() not in have[s["traceId"].lower()]]
                already += len(ss.get("spans", [])) - len(spans)
                if spans:
                    kept_ss.append(dict(ss, spans=spans))
            if kept_ss:
                kept_rs.append(dict(rs, scopeSpans=kept_ss))
        if kept_rs:
            out.append(dict(req, resourceSpans=kept_rs))
    return out, len(have), already


def tempo_state(tempo: str) -> tuple[float, float] | None:
    """Tempo's process start time and its count of failed WAL completions and flushes (None
    while it does not answer)."""
    try:
        r = requests.get(f"{tempo}/metrics", timeout=2)
    except requests.RequestException:
        return None
    m = _START.search(r.content) if r.ok else None
    return (float(m.group(1)), sum(float(v) for v in _FAILED.findall(r.content))) if m else None


def _wait(what: str, ok: Callable[[], bool], deadline_s: float) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if ok():
                return True
        except requests.RequestException:
            pass
        time.sleep(INTERVAL_S)
    print(f"tempo-guard: gave up waiting for {what} after {deadline_s:.0f}s", flush=True)
    return False


class Guard:
    def __init__(self, args: argparse.Namespace) -> None:
        from prometheus_client import Counter, Gauge
        self.args = args
        self.copy = Copy(Path(args.copy), keep_s=MARKS_S)
        self.restarts = Counter("plano_tempo_guard_restarts", "Tempo restarts the guard saw (start time changed)")
        self.resends = Counter("plano_tempo_guard_resends", "Restarts after which spans were missing and re-sent")
        self.resent = Counter("plano_tempo_guard_resent_spans", "Spans re-sent to Tempo from the collector's copy")
        self.short = Counter("plano_tempo_guard_short_copies",
                             "Restarts where the copy did not reach back a whole loss window and margin")
        self.covered = Gauge("plano_tempo_guard_copy_seconds", "How far back the copy reached at the last restart")
        self.pending = Gauge("plano_tempo_guard_pending",
                             "1 while a check is due: Tempo restarted or is in trouble, and what it lacks is not re-sent yet")

    def _disk_low(self) -> bool:
        """The state disk (where Tempo and the copy write) is full or nearly: Tempo 3 fails to cut
        traces then, and those it had cut are deleted at its next restart."""
        try:
            usage = shutil.disk_usage(self.args.state_disk)
        except OSError:
            return False
        return usage.free < max(LOW_DISK, usage.total // 100)

    def run(self) -> None:
        known, last_up, failed, trouble_since, was_low = None, None, 0.0, None, False
        while True:
            now = time.time()
            self.copy.mark(now)
            state = tempo_state(self.args.tempo)
            low = self._disk_low()
            if trouble_since is None and last_up is not None and (low or (state is not None and state[1] > failed)):
                # what Tempo held from here on is at risk until it has written it with room to spare
                trouble_since = last_up
                self.pending.set(1)
                why = "the state disk is full" if low else f"Tempo failed to write a WAL block ({state[1]:g} failures)"
                print(f"tempo-guard: {why}: what Tempo acknowledged since then is checked when there is room "
                      f"again, and at its next restart", flush=True)
            if was_low and not low and state is not None and trouble_since is not None:
                # room again: what Tempo dropped while it could not write is re-sent now (a later
                # restart, which deletes the blocks it could not complete, is checked again)
                self.check(trouble_since, time.time(), "the state disk has room again")
            was_low = low
            if state is not None:
                started, failures = state
                if known is not None and started != known:
                    self.restarts.inc()
                    self.pending.set(1)
                    self.check(min(last_up, trouble_since or last_up), time.time(), "Tempo restarted")
                    trouble_since = None
                    self.pending.set(0)
                known, failed = started, failures
                if trouble_since is None:
                    last_up = time.time()  # up, and writing
            time.sleep(INTERVAL_S)

    def check(self, last_up: float, back_at: float, why: str) -> None:
        """Re-sends what Tempo lacks of what it acknowledged from one loss window and the margin
        before `last_up` (when it was last seen holding its data safely) until `back_at`."""
        a = self.args
        _wait("Tempo to be ready", lambda: requests.get(f"{a.tempo}/ready", timeout=2).ok, 120)
        # every span the collector had accepted by now has been sent to the new Tempo (its queue
        # is first in, first out, and traffic may go on): what is missing after that is lost
        accepted = self._collector()[0]
        _wait("the collector to deliver what it had queued", lambda: self._collector()[1] >= accepted, 120)
        want_from = last_up - a.loss_window - a.margin
        lines, reached = self.copy.cut(want_from, back_at)
        self.covered.set(round(back_at - reached, 1))
        short = reached > want_from + INTERVAL_S
        if short:
            self.short.inc()
        todo, traces, already = missing(lines, lambda tid: spans_in_tempo(a.tempo, tid))
        n = sum(len(s["spans"]) for r in todo for rs in r["resourceSpans"] for s in rs["scopeSpans"])
        cover = (f"the copy reached back only {back_at - reached:.1f}s, short of the {back_at - want_from:.1f}s wanted; "
                 if short else "")
        if not todo:
            print(f"tempo-guard: {why}; {cover}all {already} spans of {traces} traces it had in the "
                  f"{back_at - want_from:.0f}s before were there: nothing to re-send", flush=True)
            return
        sent = self.resend(todo)
        self.resends.inc()
        self.resent.inc(sent)
        print(f"tempo-guard: {why}, and Tempo lacked {n} spans of {traces} traces from the {back_at - want_from:.0f}s "
              f"before ({already} were there); {cover}re-sent {sent} from the collector's copy to {a.tempo_otlp}", flush=True)

    def _collector(self) -> tuple[float, float]:
        """(spans the collector's receivers accepted, spans it sent to Tempo), from its own counters."""
        text = requests.get(self.args.collector_telemetry, timeout=2).text
        return (sum(float(v) for v in _ACCEPTED.findall(text)), sum(float(v) for v in _SENT.findall(text)))

    def resend(self, todo: list[dict]) -> int:
        """The project's replay, ids and times as recorded, straight into Tempo's receiver."""
        from plano_obs.traces import session
        folder = Path(self.args.copy).parent.parent / "tempo-guard"
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"resend-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
        file.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in todo))
        opts = session.Options(endpoint=self.args.tempo_otlp, keep_ids=True, keep_times=True, speed=0, retry_for=120)
        with session.from_files(str(file), opts, state=str(folder / "resend-state.json")) as outcome:
            sent = outcome.summary.accepted
        file.unlink(missing_ok=True)
        return sent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plano_obs.traces.guard", description=__doc__.splitlines()[0])
    ap.add_argument("--tempo", required=True, help="Tempo's HTTP API (http://HOST:ports.tempo)")
    ap.add_argument("--tempo-otlp", required=True, help="Tempo's OTLP/gRPC receiver (HOST:ports.tempoOtlpGrpc)")
    ap.add_argument("--copy", required=True, help="the collector's copy of what it sent to Tempo (file/tempo-window)")
    ap.add_argument("--state-disk", required=True, help="a folder on the disk Tempo writes to (its data folder)")
    ap.add_argument("--collector-telemetry", required=True, help="the collector's own /metrics (its queue to Tempo)")
    ap.add_argument("--loss-window", type=float, required=True, help="tempo.lossWindowSeconds")
    ap.add_argument("--margin", type=float, default=10.0, help="seconds re-checked beyond the loss window")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="where to serve /metrics")
    args = ap.parse_args(argv)
    from prometheus_client import start_http_server
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    guard = Guard(args)
    start_http_server(args.port, addr=args.host)
    print(f"tempo-guard: watching {args.tempo} and the copy {args.copy} (loss window {args.loss_window:g}s "
          f"+ {args.margin:g}s margin)", flush=True)
    guard.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

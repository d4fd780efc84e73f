"""One replay from its options to its outcome, for `invoke traces.replay` and `traces.synth`:
the target checked before any file is read, the first pass, the send with retries, and after
it the account of a replay that stopped early (unsent traces, the resume state, one error line
that says how to go on). The task only turns options into numbers and prints the outcome."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from plano_obs.config import settings
from plano_obs.traces import files, resume
from plano_obs.traces.account import Summary, unsent_traces
from plano_obs.traces.replay import ReplayError, replay
from plano_obs.traces.sender import Retry, SendError, Sender, check_protocol
from plano_obs.traces.spool import Position, Scan, Spool, first_pass


@dataclass(frozen=True)
class Options:
    """How to send. Numbers arrive checked (tasks/options.py reads them from the command line);
    the target is checked here, before any file is read."""
    endpoint: str | None = None  # None: the stack's own OTLP port for the protocol
    protocol: str = "grpc"
    speed: float = 1.0
    loops: int = 1
    rate: float | None = None
    keep_ids: bool = False
    retry_for: float = 30.0
    keep_times: bool = False  # the recorded timestamps, sent at once (a re-send of what a backend lost)

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        if self.keep_times and self.speed not in (0, 1):
            raise ReplayError(f"--keep-times sends the recorded times at once; --speed {self.speed:g} would move them",
                              "leave out --speed")
        if self.endpoint and self.protocol == "grpc" and not self.endpoint.startswith("unix:"):
            port = self.endpoint.rpartition(":")[2]  # gRPC itself would wrap 99999 around to 34463
            if not (port.isdigit() and 1 <= int(port) <= 65535):
                raise ReplayError(f"--endpoint {self.endpoint!r} has no port from 1 to 65535",
                                  f"e.g. --endpoint 127.0.0.1:{settings.port('otlpGrpc')}")

    @property
    def target(self) -> str:
        if self.endpoint:
            return self.endpoint
        return f"127.0.0.1:{settings.port('otlpGrpc' if self.protocol == 'grpc' else 'otlpHttp')}"


@dataclass
class Outcome:
    """What a replay did. `error` is set when it stopped early (the summary is still whole)."""
    summary: Summary
    scan: Scan
    options: Options
    target: str
    error: ReplayError | None = None
    state: Path | None = None  # the resume state written, if it stopped early

    def as_dict(self) -> dict:
        """The summary as `--json` prints it (without the trace ids, which stream)."""
        s, resume_at = self.summary, None
        if s.next is not None:
            at = s.next
            resume_at = {"loop": at.loop, "file": str(self.scan.files[at.file]), "record": at.record, "span": at.span,
                      "state": str(self.state) if self.state else None}
        return {"traces": s.traces, "spans": s.spans, "rejected_spans": s.rejected,
                "accepted_spans": s.accepted, "unsent_spans": s.unsent, "unsent_traces": s.unsent_traces,
                "total_spans": s.total_spans, "requests": s.requests, "retries": s.retries,
                "elapsed_s": round(s.elapsed_s, 3), "spans_per_s": round(s.spans_per_s, 1),
                "error": self.error.line() if self.error else None, "resume": resume_at}

    def raise_if_failed(self) -> None:
        if self.error:
            raise self.error
        if self.summary.rejected:
            raise ReplayError(f"the collector rejected {self.summary.rejected} of {self.summary.spans} spans",
                              "see `invoke logs -s collector` (memory limiter? bad data?)")


def _where(scan: Scan, at: Position, loops: int) -> str:
    loop = f"loop {at.loop} of {loops}, " if loops > 1 else ""
    span = f", span {at.span + 1}" if at.span else ""
    return f"{loop}{scan.files[at.file]} record {at.record}{span}"


def _stopped(summary: Summary, scan: Scan, opts: Options, state: Path | None,
             state_error: resume.ResumeError | None) -> ReplayError:
    """One line for a replay that ended early: why, what the collector took, what was not sent, how to go on."""
    if summary.failure:
        retried = f" (retried for {opts.retry_for:g}s)" if summary.failure.transient and opts.retry_for else ""
        why = f"{summary.failure.cause}{retried}"
    else:
        why = "interrupted"
    counts = (f"{summary.accepted:,} of {summary.total_spans:,} spans accepted ({summary.traces:,} traces), "
              f"{summary.rejected:,} refused, {summary.unsent:,} not sent ({summary.unsent_traces:,} traces) "
              f"from {_where(scan, summary.next, opts.loops)}")  # type: ignore[arg-type]
    fix = summary.failure.remedy if summary.failure and summary.failure.remedy else ""
    sep = "" if fix.endswith("?") else "."
    if state_error:  # nothing to resume from: say so, whatever else there is to fix
        lost = f"the resume state could not be saved ({state_error.cause}): run it again, with --state FILE in a writable folder"
        go_on = f"{fix}{sep} {lost[0].upper()}{lost[1:]}" if fix else lost
    else:
        go_on = f"add --resume to send the rest (state: {state})" if state else "run it again"
        go_on = f"{fix}{sep} Then {go_on}" if fix else go_on
    return ReplayError(f"{why}; {counts}", go_on)


def _account(outcome: Outcome, spool: Spool, state: Path | None) -> None:
    """After the send: a replay that stopped early counts its unsent traces and notes where it
    stopped (the state file); one that finished removes a stale state."""
    summary, opts = outcome.summary, outcome.options
    if summary.next is None:
        if state:
            resume.clear(state)  # finished: nothing left to resume
        return
    summary.unsent_traces = unsent_traces(spool, summary.next, opts.loops)
    state_error = None
    if state:
        try:
            resume.save(state, outcome.scan.files, opts.loops, summary.next)
        except resume.ResumeError as err:
            state_error, state = err, None
    outcome.state = state
    outcome.error = _stopped(summary, outcome.scan, opts, state, state_error)


@contextlib.contextmanager
def send(spool: Spool, scan: Scan, opts: Options, *, start: Position | None = None,
         state: Path | None = None) -> Iterator[Outcome]:
    """Sends what the first pass spooled, with a progress bar on stderr (on a terminal), and
    yields the outcome for the caller to print while its trace ids are still readable; then
    raises the replay's error, if it stopped early or the collector rejected spans."""
    from tqdm import tqdm
    target = opts.target
    sender = Sender(target, opts.protocol)
    total = scan.rest_spans + (opts.loops - (start.loop if start else 1)) * scan.spans
    bar = tqdm(total=total, unit="span", file=sys.stderr, disable=None, desc=f"→ {target}")

    def notify(err: SendError, wait: float, left: float) -> None:
        if left >= opts.retry_for - 1e-9:  # the first failure of an outage: say so once
            bar.write(f"{err.cause} — retrying for up to {opts.retry_for:g}s (--retry-for) …", file=sys.stderr)

    try:
        summary = replay(spool, scan, sender, speed=opts.speed, loops=opts.loops, rate=opts.rate,
                         fresh_ids=not opts.keep_ids, retry=Retry(retry_for=opts.retry_for, notify=notify),
                         start=start, progress=bar.update, keep_times=opts.keep_times)
    finally:
        bar.close()
        sender.close()
    outcome = Outcome(summary, scan, opts, target)
    try:
        _account(outcome, spool, state)
        yield outcome
    finally:
        summary.book.close()  # the counts stay readable
    outcome.raise_if_failed()


@contextlib.contextmanager
def term_as_interrupt() -> Iterator[None]:
    """SIGTERM (a supervisor, a timeout) ends a replay like Ctrl-C: with its summary and state."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def from_files(spec: str, opts: Options, *, resuming: bool = False, state: str | None = None) -> Iterator[Outcome]:
    """`invoke traces.replay`: the files read and checked whole (the first pass) before the
    first send, then `send`; `--resume` starts where the state file says the last one stopped."""
    inputs = files.inputs(spec)
    state_path = Path(state) if state else resume.default_path(inputs[0])
    start = resume.load(state_path, inputs, opts.loops) if resuming else None
    with Spool() as spool, term_as_interrupt():
        try:
            scan = first_pass(inputs, spool, start=start, trace_starts=opts.speed not in (0, 1) and not opts.keep_times)
        except KeyboardInterrupt:
            raise ReplayError("interrupted while reading the files", "nothing was sent") from None
        with send(spool, scan, opts, start=start, state=state_path) as outcome:
            yield outcome

"""`invoke traces.*`: replay recorded traces, record live traffic, synthesise Plano traffic."""
from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from invoke import Collection, Context, task

from plano_obs.errors import PlanoError
from plano_obs.tasks import cli_errors, options

if TYPE_CHECKING:
    from plano_obs.traces import replay as rp, resume as tracesresume, spool as tracespool

# The replay's modules (gRPC, protobuf, the OTLP encoders) are imported by the functions that use
# them: `invoke --list`, `invoke build` and every other task start without them.

REPLAY_HELP = {
    "endpoint": "collector address (default: the stack's ports.otlpGrpc for grpc, ports.otlpHttp for http)",
    "protocol": "grpc (default) or http",
    "speed": "divide the gaps between traces by this (0: no waiting, as fast as possible); default 1",
    "loop": "replay the files this many times (fresh ids each time)",
    "rate": "at most this many spans per second",
    "keep_ids": "send trace and span ids unchanged (default: fresh ids, parent links kept)",
    "json": "print the summary as JSON (with every trace id) on stdout, also when the replay fails",
    "retry_for": "retry a request the collector cannot take now (down, restarting, pushing back) for this many "
                 "seconds; 0: no retries. Default 30",
    "resume": "continue a replay that stopped early, from the first record the collector did not acknowledge",
    "state": "where a stopped replay notes how far it got (default: in the state folder, "
             ".state/replay/<sha256 of the first FILE's absolute path>.json)",
}


def _endpoint(endpoint: str | None, protocol: str) -> str:
    from plano_obs.config import settings
    if endpoint:
        return endpoint
    ports = settings.load("native")["ports"]
    return f"127.0.0.1:{ports['otlpGrpc' if protocol == 'grpc' else 'otlpHttp']}"


def _check_target(endpoint: str | None, protocol: str) -> None:
    """A gRPC target's port is checked here: gRPC itself would wrap 99999 around to 34463."""
    from plano_obs.config import settings
    from plano_obs.traces import replay as rp
    if protocol not in rp.PROTOCOLS:
        raise rp.ReplayError(f"unknown protocol {protocol!r}", "use grpc or http")
    if endpoint and protocol == "grpc" and not endpoint.startswith("unix:"):
        port = endpoint.rpartition(":")[2]
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            raise rp.ReplayError(f"--endpoint {endpoint!r} has no port from 1 to 65535", f"e.g. --endpoint 127.0.0.1:{settings.port('otlpGrpc')}")


def _where(scan: tracespool.Scan, at: tracespool.Position, loops: int) -> str:
    loop = f"loop {at.loop} of {loops}, " if loops > 1 else ""
    span = f", span {at.span + 1}" if at.span else ""
    return f"{loop}{scan.files[at.file]} record {at.record}{span}"


def _as_dict(summary: rp.Summary, scan: tracespool.Scan, loops: int, state: Path | None, error: str | None) -> dict:
    resume = None
    if summary.next is not None:
        at = summary.next
        resume = {"loop": at.loop, "file": str(scan.files[at.file]), "record": at.record, "span": at.span,
                  "state": str(state) if state else None}
    return {"traces": summary.traces, "spans": summary.spans, "rejected_spans": summary.rejected,
            "accepted_spans": summary.accepted, "unsent_spans": summary.unsent, "unsent_traces": summary.unsent_traces,
            "total_spans": summary.total_spans, "requests": summary.requests, "retries": summary.retries,
            "elapsed_s": round(summary.elapsed_s, 3), "spans_per_s": round(summary.spans_per_s, 1),
            "error": error, "resume": resume}


def _stopped(summary: rp.Summary, scan: tracespool.Scan, loops: int, state: Path | None,
             state_error: tracesresume.ResumeError | None, retry_for: float) -> rp.ReplayError:
    """One line for a replay that ended early: why, what the collector took, what was not sent, how to go on."""
    from plano_obs.traces import replay as rp
    if summary.failure:
        retried = f" (retried for {retry_for:g}s)" if summary.failure.transient and retry_for else ""
        why = f"{summary.failure.cause}{retried}"
    else:
        why = "interrupted"
    counts = (f"{summary.accepted:,} of {summary.total_spans:,} spans accepted ({summary.traces:,} traces), "
              f"{summary.rejected:,} refused, {summary.unsent:,} not sent ({summary.unsent_traces:,} traces) "
              f"from {_where(scan, summary.next, loops)}")  # type: ignore[arg-type]
    fix = summary.failure.remedy if summary.failure and summary.failure.remedy else ""
    sep = "" if fix.endswith("?") else "."
    if state_error:  # nothing to resume from: say so, whatever else there is to fix
        lost = f"the resume state could not be saved ({state_error.cause}): run it again, with --state FILE in a writable folder"
        go_on = f"{fix}{sep} {lost[0].upper()}{lost[1:]}" if fix else lost
    else:
        go_on = f"add --resume to send the rest (state: {state})" if state else "run it again"
        go_on = f"{fix}{sep} Then {go_on}" if fix else go_on
    return rp.ReplayError(f"{why}; {counts}", go_on)


def _print_json(summary: dict, trace_ids: Iterator[str]) -> None:
    """The summary as JSON, its trace ids written one by one (a replay may have millions)."""
    text = json.dumps(summary, indent=2)
    out = sys.stdout
    out.write(text[:-2] + ',\n  "trace_ids": [')
    first = True
    for tid in trace_ids:
        out.write(("\n    \"" if first else ",\n    \"") + tid + "\"")
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


def send(spool: tracespool.Spool, scan: tracespool.Scan, *, endpoint: str | None = None, protocol: str = "grpc",
         speed: float = 1.0, loop: int = 1, rate: float | None = None, keep_ids: bool = False, as_json: bool = False,
         retry_for: float = 30.0, start: tracespool.Position | None = None, state: Path | None = None) -> rp.Summary:
    """Sends what the first pass spooled (records and options are already checked), prints the
    summary, and notes or clears the resume state. A replay that ends early raises ReplayError
    after the summary (with --json) is printed."""
    from plano_obs.traces import replay as rp
    target = _endpoint(endpoint, protocol)
    sender = rp.Sender(target, protocol)
    from tqdm import tqdm
    first_loop = start.loop if start else 1
    bar = tqdm(total=scan.rest_spans + (loop - first_loop) * scan.spans, unit="span", file=sys.stderr, disable=None,
               desc=f"→ {target}")
    def notify(err: rp.SendError, wait: float, left: float) -> None:
        if left >= retry_for - 1e-9:  # the first failure of an outage: say so once
            bar.write(f"{err.cause} — retrying for up to {retry_for:g}s (--retry-for) …", file=sys.stderr)

    retry = rp.Retry(retry_for=retry_for, notify=notify)
    try:
        summary = rp.replay(spool, scan, sender, speed=speed, loops=loop, rate=rate, fresh_ids=not keep_ids,
                            retry=retry, start=start, progress=bar.update)
    finally:
        bar.close()
        sender.close()
    try:
        stopped = _account(summary, spool, scan, loop, state, retry_for)
        if as_json:
            _print_json(_as_dict(summary, scan, loop, stopped.state, stopped.error.line() if stopped.error else None),
                        (t.hex() for t in summary.book))
        elif not stopped.error:
            n = summary.traces
            shown = ", ".join(summary.book.hex(20)) + (f", … ({n - 20} more; --json lists all)" if n > 20 else "")
            retried = f", {summary.retries} retries" if summary.retries else ""
            print(f"sent {summary.traces} traces, {summary.spans} spans in {summary.requests} requests over "
                  f"{protocol} to {target}: {summary.rejected} rejected{retried}, {summary.elapsed_s:.2f}s, "
                  f"{summary.spans_per_s:,.0f} spans/s")
            print(f"trace ids: {shown}")
    finally:
        summary.book.close()  # the counts stay readable
    if stopped.error:
        raise stopped.error
    if summary.rejected:
        raise rp.ReplayError(f"the collector rejected {summary.rejected} of {summary.spans} spans",
                             "see `invoke logs -s collector` (memory limiter? bad data?)")
    return summary


@dataclass
class _Stopped:
    error: rp.ReplayError | None  # None: the replay finished
    state: Path | None  # the state file written, if any


def _account(summary: rp.Summary, spool: tracespool.Spool, scan: tracespool.Scan, loops: int, state: Path | None,
             retry_for: float) -> _Stopped:
    """After the send: a replay that stopped early counts its unsent traces and notes where it
    stopped (the state file); one that finished removes a stale state."""
    from plano_obs.traces import replay as rp, resume as tracesresume
    if summary.next is None:
        if state:
            tracesresume.clear(state)  # finished: nothing left to resume
        return _Stopped(None, None)
    summary.unsent_traces = rp.unsent_traces(spool, summary.next, loops)
    state_error = None
    if state:
        try:
            tracesresume.save(state, scan.files, loops, summary.next)
        except tracesresume.ResumeError as err:
            state_error, state = err, None
    return _Stopped(_stopped(summary, scan, loops, state, state_error, retry_for), state)


@contextlib.contextmanager
def _term_as_interrupt():
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


# Options arrive as the command line typed them (text) or as numbers from Python; each is read
# and checked before any file is read or anything is sent.

@task(klass=options.Task, positional=["files"],
      help=dict(REPLAY_HELP, files="OTLP/JSON file(s), comma-separated or a glob: one request per line, or one document; gzip is read too"))
@cli_errors
def replay(c: Context, files: str, endpoint: str | None = None, protocol: str = "grpc", speed: float | str = 1.0,
           loop: int | str = 1, rate: float | str | None = None, keep_ids: bool = False, json: bool = False,
           retry_for: float | str = 30.0, resume: bool = False, state: str | None = None) -> None:
    """Replay recorded OTLP/JSON traces into the collector, timestamps moved to now."""
    if options.help_if_asked(files, replay, "traces"):
        return
    from plano_obs.traces import files as tracefiles, resume as tracesresume, spool as tracespool
    _check_target(endpoint, protocol)
    speed_ = options.number("--speed", speed, minimum=0, remedy="0 sends everything at once")
    loop_ = options.number("--loop", loop, integer=True, minimum=1)
    rate_ = None if rate is None else options.number("--rate", rate, above=0, remedy="spans per second; leave it out for no limit")
    retry_for_ = options.number("--retry-for", retry_for, minimum=0, remedy="seconds; 0 turns retries off")
    if not files:
        raise PlanoError("no file given", "usage: invoke traces.replay FILE[,FILE…] (or a quoted glob)")
    inputs = tracefiles.inputs(files)
    state_ = Path(state) if state else tracesresume.default_path(inputs[0])
    start = tracesresume.load(state_, inputs, loop_) if resume else None
    with tracespool.Spool() as spool, _term_as_interrupt():
        try:
            # the first pass: every record validated (and encoded, once) before the first send
            scan = tracespool.scan(inputs, spool, start=start, trace_starts=speed_ not in (0, 1))
        except KeyboardInterrupt:
            raise PlanoError("interrupted while reading the files", "nothing was sent") from None
        send(spool, scan, endpoint=endpoint, protocol=protocol, speed=speed_, loop=loop_, rate=rate_,
             keep_ids=keep_ids, as_json=json, retry_for=retry_for_, start=start, state=state_)


@task(klass=options.Task, help={"out": "file to write (OTLP/JSON lines; default traces-<time>.jsonl)",
                                "duration": "seconds to record (Ctrl-C stops earlier and keeps what arrived)",
                                "mode": "auto, compose or native"})
@cli_errors
def record(c: Context, out: str | None = None, duration: float | str = 60, mode: str = "auto") -> None:
    """Record the traces arriving at the collector into a replayable file."""
    from plano_obs.runtime import lifecycle as stack
    from plano_obs.traces import files as tracefiles, record as recorder
    seconds = options.number("--duration", duration, above=0)
    target = Path(out or f"traces-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    tracefiles.check_output(target)  # before waiting, not after
    chosen, _ = stack.choose_mode(mode)
    result = recorder.record(chosen, target, seconds)
    print(f"recorded {result.requests} requests, {result.spans} spans in {result.seconds:.0f}s into {target}")


@task(klass=options.Task, iterable=["models", "agents"], help={
    "models": "provider/model to spread traffic over (repeat the flag); default openai/gpt-4o, openai/gpt-4o-mini, anthropic/claude-sonnet-4",
    "agents": "agent ids (repeat the flag); default weather_agent, flight_agent",
    "rps": "requests per second", "duration": "seconds of traffic",
    "error_share": "share of upstream failures (5xx or no status)", "ratelimit_share": "share of 429s",
    "out": "write OTLP/JSON lines to this file instead of sending", "seed": "random seed (reproducible output)",
    "endpoint": REPLAY_HELP["endpoint"], "protocol": REPLAY_HELP["protocol"], "json": REPLAY_HELP["json"]})
@cli_errors
def synthesize(c: Context, models: list[str] | None = None, agents: list[str] | None = None, rps: float | str = 5,
               duration: float | str = 60, error_share: float | str = 0.05, ratelimit_share: float | str = 0.05,
               out: str | None = None, seed: int | str | None = None, endpoint: str | None = None, protocol: str = "grpc",
               json: bool = False) -> None:
    """Generate Plano-shaped traffic (models, agents, latencies, tokens, 429s, 5xx): send it or write a file."""
    from plano_obs.traces import files as tracefiles, otlpjson, spool as tracespool, synth
    opts = synth.Options(rps=options.number("--rps", rps, above=0), duration_s=options.number("--duration", duration, above=0),
                         error_share=options.number("--error-share", error_share, minimum=0, maximum=1),
                         ratelimit_share=options.number("--ratelimit-share", ratelimit_share, minimum=0, maximum=1),
                         seed=seed)  # any text is a seed: `--seed 43` made the fixtures
    if models:
        opts.models = models
    if agents:
        opts.agents = agents
    if out:
        tracefiles.check_output(Path(out))
    else:
        _check_target(endpoint, protocol)
    requests_ = synth.generate(opts, time.time_ns())
    if out:
        tracefiles.write_lines(Path(out), (otlpjson.to_json_line(r) for r in requests_))
        spans = sum(len(ss.spans) for r in requests_ for rs in r.resource_spans for ss in rs.scope_spans)
        print(f"wrote {len(requests_)} traces, {spans} spans to {out}")
        return
    spool = tracespool.MemorySpool()
    scan = tracespool.spool_requests(requests_, spool)
    send(spool, scan, endpoint=endpoint, protocol=protocol, speed=1.0, keep_ids=True, as_json=json)


ns = Collection("traces", replay, record)
ns.add_task(synthesize, "synth")

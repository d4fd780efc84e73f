"""`invoke traces.*`: replay recorded traces, record live traffic, synthesise Plano traffic. The
work is in plano_obs/traces/ (session.py runs a replay); these tasks read the options and print."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from invoke import Collection, Context, task

from plano_obs.errors import PlanoError
from plano_obs.tasks import cli_errors, options

if TYPE_CHECKING:
    from plano_obs.traces import session

# The replay's modules (gRPC, protobuf, the OTLP encoders) are imported by the functions that use
# them: `invoke --list`, `invoke build` and every other task start without them.

REPLAY_HELP = {
    "endpoint": "collector address (default: the stack's ports.otlpGrpc for grpc, ports.otlpHttp for http)",
    "protocol": "grpc (default) or http",
    "speed": "divide the gaps between traces by this (0: no waiting, as fast as possible); default 1",
    "loop": "replay the files this many times (fresh ids each time)",
    "rate": "at most this many spans per second",
    "keep_ids": "send trace and span ids unchanged (default: fresh ids, parent links kept)",
    "keep_times": "send the recorded timestamps unchanged, all at once (default: moved to now); with --keep-ids, "
                  "a re-send of what a backend lost",
    "json": "print the summary as JSON (with every trace id) on stdout, also when the replay fails",
    "retry_for": "retry a request the collector cannot take now (down, restarting, pushing back) for this many "
                 "seconds; 0: no retries. Default 30",
    "resume": "continue a replay that stopped early, from the first record the collector did not acknowledge",
    "state": "where a stopped replay notes how far it got (default: in the state folder, "
             ".state/replay/<sha256 of the first FILE's absolute path>.json)",
}


def _print_json(summary: dict, trace_ids: Iterator[str]) -> None:
    """The summary as JSON, its trace ids written one by one (a replay may have millions)."""
    import json
    text = json.dumps(summary, indent=2)
    out = sys.stdout
    out.write(text[:-2] + ',\n  "trace_ids": [')
    first = True
    for tid in trace_ids:
        out.write(("\n    \"" if first else ",\n    \"") + tid + "\"")
        first = False
    out.write("]\n}\n" if first else "\n  ]\n}\n")


def _print(outcome: session.Outcome, as_json: bool) -> None:
    summary = outcome.summary
    if as_json:
        _print_json(outcome.as_dict(), (t.hex() for t in summary.book))
    elif not outcome.error:
        n = summary.traces
        shown = ", ".join(summary.book.hex(20)) + (f", … ({n - 20} more; --json lists all)" if n > 20 else "")
        retried = f", {summary.retries} retries" if summary.retries else ""
        print(f"sent {summary.traces} traces, {summary.spans} spans in {summary.requests} requests over "
              f"{outcome.options.protocol} to {outcome.target}: {summary.rejected} rejected{retried}, "
              f"{summary.elapsed_s:.2f}s, {summary.spans_per_s:,.0f} spans/s")
        print(f"trace ids: {shown}")


# Options arrive as the command line typed them (text) or as numbers from Python; each is read
# and checked before any file is read or anything is sent.

@task(klass=options.Task, positional=["files"],
      help=dict(REPLAY_HELP, files="OTLP/JSON file(s), comma-separated or a glob: one request per line, or one document; gzip is read too"))
@cli_errors
def replay(c: Context, files: str, endpoint: str | None = None, protocol: str = "grpc", speed: float | str = 1.0,
           loop: int | str = 1, rate: float | str | None = None, keep_ids: bool = False, json: bool = False,
           retry_for: float | str = 30.0, resume: bool = False, state: str | None = None, keep_times: bool = False) -> None:
    """Replay recorded OTLP/JSON traces into the collector, timestamps moved to now."""
    if options.help_if_asked(files, replay, "traces"):
        return
    from plano_obs.traces import session
    opts = session.Options(
        endpoint=endpoint, protocol=protocol, keep_ids=keep_ids, keep_times=keep_times,
        speed=options.number("--speed", speed, minimum=0, remedy="0 sends everything at once"),
        loops=options.number("--loop", loop, integer=True, minimum=1),
        rate=None if rate is None else options.number("--rate", rate, above=0, remedy="spans per second; leave it out for no limit"),
        retry_for=options.number("--retry-for", retry_for, minimum=0, remedy="seconds; 0 turns retries off"))
    if not files:
        raise PlanoError("no file given", "usage: invoke traces.replay FILE[,FILE…] (or a quoted glob)")
    with session.from_files(files, opts, resuming=resume, state=state) as outcome:
        _print(outcome, json)


@task(klass=options.Task, help={"out": "file to write (OTLP/JSON lines; default traces-<time>.jsonl)",
                                "duration": "seconds to record (Ctrl-C stops earlier and keeps what arrived)",
                                "mode": "auto, compose or native"})
@cli_errors
def record(c: Context, out: str | None = None, duration: float | str = 60, mode: str = "auto") -> None:
    """Record the traces arriving at the collector into a replayable file."""
    from plano_obs.runtime import lifecycle
    from plano_obs.traces import files, recorder
    seconds = options.number("--duration", duration, above=0)
    target = Path(out or f"traces-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    files.check_output(target)  # before waiting, not after
    chosen, _ = lifecycle.choose_mode(mode)
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
    from plano_obs.traces import files, otlpjson, session, spool, synth
    opts = synth.Options(rps=options.number("--rps", rps, above=0), duration_s=options.number("--duration", duration, above=0),
                         error_share=options.number("--error-share", error_share, minimum=0, maximum=1),
                         ratelimit_share=options.number("--ratelimit-share", ratelimit_share, minimum=0, maximum=1),
                         seed=seed)  # any text is a seed: `--seed 43` made the fixtures
    if models:
        opts.models = models
    if agents:
        opts.agents = agents
    if out:
        files.check_output(Path(out))
    else:
        send_opts = session.Options(endpoint=endpoint, protocol=protocol, keep_ids=True)  # checked before generating
    requests_ = synth.generate(opts, time.time_ns())
    if out:
        files.write_lines(Path(out), (otlpjson.to_json_line(r) for r in requests_))
        spans = sum(len(ss.spans) for r in requests_ for rs in r.resource_spans for ss in rs.scope_spans)
        print(f"wrote {len(requests_)} traces, {spans} spans to {out}")
        return
    memory = spool.MemorySpool()
    with session.send(memory, spool.spool_requests(requests_, memory), send_opts) as outcome:
        _print(outcome, json)


ns = Collection("traces", replay, record)
ns.add_task(synthesize, "synth")

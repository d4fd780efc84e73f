"""`invoke traces.*`: replay recorded traces, record live traffic, synthesise Plano traffic."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from invoke import Collection, Context, task

from .. import render
from ..errors import PlanoError
from ..traces import files as tracefiles, otlpjson, record as recorder, replay as rp, synth
from . import cli_errors, options

REPLAY_HELP = {
    "endpoint": "collector address (default 127.0.0.1:9317 for grpc, 127.0.0.1:9318 for http)",
    "protocol": "grpc (default) or http",
    "speed": "divide the gaps between traces by this (0: no waiting, as fast as possible); default 1",
    "loop": "replay the files this many times (fresh ids each time)",
    "rate": "at most this many spans per second",
    "keep_ids": "send trace and span ids unchanged (default: fresh ids, parent links kept)",
    "json": "print the summary as JSON (with every trace id) on stdout",
}


def _endpoint(endpoint: str | None, protocol: str) -> str:
    if endpoint:
        return endpoint
    ports = render.stack_info("native")["ports"]
    return f"127.0.0.1:{ports['otlpGrpc' if protocol == 'grpc' else 'otlpHttp']}"


def _check_target(endpoint: str | None, protocol: str) -> None:
    """A gRPC target's port is checked here: gRPC itself would wrap 99999 around to 34463."""
    if protocol not in rp.PROTOCOLS:
        raise rp.ReplayError(f"unknown protocol {protocol!r}", "use grpc or http")
    if endpoint and protocol == "grpc" and not endpoint.startswith("unix:"):
        port = endpoint.rpartition(":")[2]
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            raise rp.ReplayError(f"--endpoint {endpoint!r} has no port from 1 to 65535", "e.g. --endpoint 127.0.0.1:9317")


def send(records: list[otlpjson.Record], endpoint: str | None, protocol: str, speed: float, loop: int,
         rate: float | None, keep_ids: bool, as_json: bool) -> rp.Summary:
    """Validates nothing more (records and options are already checked), sends, prints the summary."""
    plan = rp.plan(records)
    target = _endpoint(endpoint, protocol)
    sender = rp.Sender(target, protocol)
    from tqdm import tqdm
    bar = tqdm(total=plan.span_count * loop, unit="span", file=sys.stderr, disable=None, desc=f"→ {target}")
    try:
        summary = rp.replay(plan, sender, speed=speed, loops=loop, rate=rate, fresh_ids=not keep_ids, progress=bar.update)
    finally:
        bar.close()
        sender.close()
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        ids = summary.trace_ids
        shown = ", ".join(ids[:20]) + (f", … ({len(ids) - 20} more; --json lists all)" if len(ids) > 20 else "")
        print(f"sent {summary.traces} traces, {summary.spans} spans in {summary.requests} requests over "
              f"{protocol} to {target}: {summary.rejected} rejected, {summary.elapsed_s:.2f}s, {summary.spans_per_s:,.0f} spans/s")
        print(f"trace ids: {shown}")
    if summary.rejected:
        raise rp.ReplayError(f"the collector rejected {summary.rejected} of {summary.spans} spans",
                             "see `invoke logs collector` (memory limiter? bad data?)")
    return summary


# Options arrive as the command line typed them (text) or as numbers from Python; each is read
# and checked before any file is read or anything is sent.

@task(klass=options.Task, positional=["files"],
      help=dict(REPLAY_HELP, files="OTLP/JSON file(s), comma-separated or a glob: one request per line, or one document; gzip is read too"))
@cli_errors
def replay(c: Context, files: str, endpoint: str | None = None, protocol: str = "grpc", speed: float | str = 1.0,
           loop: int | str = 1, rate: float | str | None = None, keep_ids: bool = False, json: bool = False) -> None:
    """Replay recorded OTLP/JSON traces into the collector, timestamps moved to now."""
    _check_target(endpoint, protocol)
    speed_ = options.number("--speed", speed, minimum=0, remedy="0 sends everything at once")
    loop_ = options.number("--loop", loop, integer=True, minimum=1)
    rate_ = None if rate is None else options.number("--rate", rate, above=0, remedy="spans per second; leave it out for no limit")
    if not files:
        raise PlanoError("no file given", "usage: invoke traces.replay FILE[,FILE…] (or a quoted glob)")
    records = otlpjson.load_all(tracefiles.inputs(files))  # every record validated before the first send
    send(records, endpoint, protocol, speed_, loop_, rate_, keep_ids, json)


@task(klass=options.Task, help={"out": "file to write (OTLP/JSON lines; default traces-<time>.jsonl)",
                                "duration": "seconds to record", "mode": "auto, compose or native"})
@cli_errors
def record(c: Context, out: str | None = None, duration: float | str = 60, mode: str = "auto") -> None:
    """Record the traces arriving at the collector into a replayable file."""
    from .. import stack
    seconds = options.number("--duration", duration, above=0)
    target = Path(out or f"traces-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    tracefiles.check_output(target)  # before waiting, not after
    chosen, _ = stack.choose_mode(mode)
    result = recorder.record(chosen, target, seconds)
    print(f"recorded {result.requests} requests, {result.spans} spans in {seconds:g}s into {target}")


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
    records = [otlpjson.Record(Path("<synth>"), str(i + 1), r) for i, r in enumerate(requests_)]
    send(records, endpoint, protocol, 1.0, 1, None, True, json)


ns = Collection("traces", replay, record)
ns.add_task(synthesize, "synth")

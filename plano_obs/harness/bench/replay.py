"""Replay throughput benchmark: `invoke traces.replay` against OpenTelemetry's telemetrygen,
side by side in one run, into the same collector.

    python -m plano_obs.harness.bench.replay [--spans 100000] [--scale 10] [--rounds 3] [--collector own|stack]

--collector own (the default) starts the cached collector binary with a small pipeline of its
own (OTLP → batch → span metrics → Prometheus exporter) on --port and the three ports after it,
so it runs beside a stack; `stack` replays into the native stack's collector (started if down).
For each sender: spans sent, wall time, spans/s, the collector's accepted, refused and failed
spans during the run (its own otelcol_* counters), and the sender's peak resident memory (of
its largest process), and the machine's 1-minute load as it started. The replay runs cold (the
first pass parses the file), again with the spool the cold run kept (spoolcache.py: a repeated
replay of the same file), and cold in one process; --rounds N interleaves N runs of every sender
and shows each one's median. --scale N also replays a file N times larger, cold and again, to see
memory stay flat and the fixed start cost spread over more spans."""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from plano_obs.config import paths, settings
from plano_obs.harness.bench.native_stack import machine
from plano_obs.runtime import binaries, health, native, tools

PER_TRACE = 4  # telemetrygen: one root and 3 children per trace
SPANS_PER_TRACE = 5.46  # traces.synth at its default mix
_CONFIG = """receivers:
  otlp:
    protocols:
      grpc: {{endpoint: 127.0.0.1:{grpc}}}
      http: {{endpoint: 127.0.0.1:{http}}}
processors:
  batch: {{send_batch_size: 8192, timeout: 200ms}}
connectors:
  spanmetrics: {{}}
exporters:
  prometheus: {{endpoint: 127.0.0.1:{metrics}}}
service:
  telemetry:
    metrics:
      level: normal
      readers:
        - pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {telemetry}}}}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [spanmetrics]}}
    metrics: {{receivers: [spanmetrics], exporters: [prometheus]}}
"""


class _Peak:
    """Peak resident memory of a process and of its children, from their own high-water marks
    (VmHWM), sampled while they run. Not ru_maxrss: across fork and exec it keeps the parent's
    resident size, so every child would report at least the benchmark's own."""

    def __init__(self, pid: int) -> None:
        self.pid, self.main_kib, self.child_kib = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _hwm(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def _children(self, pid: int) -> list[int]:
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.main_kib = max(self.main_kib, self._hwm(self.pid))
            for child in self._children(self.pid):
                self.child_kib = max(self.child_kib, self._hwm(child))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _measured(cmd: list[str], info: dict, env: dict | None = None) -> dict:
    before = health.collector_counters(info)
    load = os.getloadavg()[0]  # the 1-minute load as the run starts: 2 cores are shared
    start = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=paths.ROOT, env={**os.environ, **(env or {})})
        peak = _Peak(proc.pid)
        out, _ = proc.communicate()
        wall = time.monotonic() - start
        peak.stop()
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd[:4])} … failed (status {proc.returncode}): {err.read().decode()[-500:]}")
    after = health.collector_counters(info)
    while True:  # until the collector's counters stop moving (receiver → pipelines)
        time.sleep(1)
        now = health.collector_counters(info)
        if now == after:
            break
        after = now
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {"wall_s": wall, "rss_mib": peak.main_kib / 1024, "child_rss_mib": peak.child_kib / 1024,
            "out": out.decode(), "collector": delta, "load": load}


def _own_collector(folder: Path, port: int) -> tuple[subprocess.Popen, dict]:
    """The cached collector binary with a small pipeline on port..port+3 (127.0.0.1 only)."""
    binary = binaries.stack_collector()
    ports = {"grpc": port, "http": port + 1, "metrics": port + 2, "telemetry": port + 3}
    config = folder / "collector.yaml"
    config.write_text(_CONFIG.format(**ports))
    proc = subprocess.Popen([str(binary), f"--config={config}"], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "collector.log", "w"))
    info = {"bindAddress": "127.0.0.1", "ports": {"otlpGrpc": ports["grpc"], "collectorTelemetry": ports["telemetry"]}}
    deadline = time.monotonic() + 30
    while True:
        try:
            health.collector_counters(info, timeout=1)
            return proc, info
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the collector did not start: see {folder / 'collector.log'}")
            time.sleep(0.2)


def _scaled(src: Path, out: Path, times: int) -> None:
    """`times` copies of a recording, each with its own trace ids (the first 8 hex digits)."""
    ids = re.compile(rb'"traceId":"[0-9a-f]{8}')
    with src.open("rb") as f, out.open("wb") as o:
        for i in range(times):
            f.seek(0)
            prefix = b'"traceId":"%08x' % (0x9E3779B1 * (i + 1) & 0xFFFFFFFF)
            for line in f:
                o.write(ids.sub(prefix, line) if i else line)


def _replay(traffic: Path, endpoint: str, info: dict, cache: Path | str = "off", workers: str | None = None) -> dict:
    """One `traces.replay --speed 0`, timed end to end; `cache`: the spool cache's folder, or off."""
    cmd = [sys.executable, "-m", "invoke", "traces.replay", str(traffic), "--endpoint", endpoint, "--speed", "0",
           "--json", "--state", str(traffic.parent / "state.json")]
    env = {"PLANO_REPLAY_CACHE": str(cache), **({"PLANO_REPLAY_WORKERS": workers} if workers else {})}
    r = _measured(cmd, info, env)
    summary = json.loads(r["out"])
    r["spans"] = summary["spans"]
    r["send_spans_per_s"] = summary["spans_per_s"]
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000, help="spans per sender (default 100000)")
    parser.add_argument("--scale", type=int, default=1, help="also replay a file this many times larger (memory)")
    parser.add_argument("--telemetrygen-seconds", type=int, default=10, help="how long telemetrygen runs")
    parser.add_argument("--telemetrygen", help="a telemetrygen binary to use instead of building one")
    parser.add_argument("--collector", choices=("own", "stack"), default="own",
                        help="own: a collector of the benchmark's own on --port; stack: the native stack's")
    parser.add_argument("--port", type=int, default=29317, help="first of the own collector's four ports (default 29317)")
    parser.add_argument("--rounds", type=int, default=1, help="run every sender this many times, interleaved; "
                        "each row shows its median run")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder, started_here, own = Path(tmp), False, None
        if args.collector == "own":
            own, info = _own_collector(folder, args.port)
        else:
            info = settings.load("native")
            started_here = not native.Supervisor().running()
            if started_here:
                subprocess.run([sys.executable, "-m", "invoke", "up", "--mode", "native"], cwd=paths.ROOT, check=True,
                               capture_output=True)
        endpoint = f"127.0.0.1:{info['ports']['otlpGrpc']}"
        try:
            rows = _run(args, folder, endpoint, info)
        finally:
            if own:
                own.terminate()
                own.wait(timeout=30)
            if started_here:
                subprocess.run([sys.executable, "-m", "invoke", "down", "--mode", "native"], cwd=paths.ROOT,
                               capture_output=True)
    print(f"{'sender':<40} {'spans':>9} {'wall s':>7} {'spans/s':>9} {'accepted':>9} {'refused':>8} {'failed':>7} "
          f"{'RSS MiB':>8} {'workers':>8} {'load':>5}")
    for name, r in rows.items():
        c = r["collector"]
        print(f"{name:<40} {r['spans']:>9} {r['wall_s']:>7.2f} {r['spans'] / r['wall_s']:>9,.0f} "
              f"{c.get('otelcol_receiver_accepted_spans', 0):>9.0f} {c.get('otelcol_receiver_refused_spans', 0):>8.0f} "
              f"{c.get('otelcol_exporter_send_failed_spans', 0):>7.0f} {r['rss_mib']:>8.1f} "
              f"{r['child_rss_mib'] or float('nan'):>8.1f} {r['load']:>5.2f}")
        if "send_spans_per_s" in r:
            print(f"{'':<40} (its send phase alone: {r['send_spans_per_s']:,.0f} spans/s)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")


def _run(args: argparse.Namespace, folder: Path, endpoint: str, info: dict) -> dict:
    traffic = folder / "traffic.jsonl"
    subprocess.run([sys.executable, "-m", "invoke", "traces.synth", "--seed", "1", "--rps", "100",
                    "--duration", str(math.ceil(args.spans / SPANS_PER_TRACE / 100)), "--out", str(traffic)],
                   cwd=paths.ROOT, check=True, capture_output=True)
    print(f"replay file: {traffic.stat().st_size / 1e6:.1f} MB")
    # telemetrygen drops what is still queued when a fixed --traces count ends, so it runs
    # for a fixed time and its rate is what the collector accepted
    tg = Path(args.telemetrygen) if args.telemetrygen else \
        tools.ensure(tools.telemetrygen(settings.version("collector"))).binary()
    telemetrygen = [str(tg), "traces", "--otlp-endpoint", endpoint, "--otlp-insecure", "--duration",
                    f"{args.telemetrygen_seconds}s", "--child-spans", str(PER_TRACE - 1), "--workers", "1", "--rate", "0"]
    cache = folder / "spool-cache"  # empty: the first replay is cold, and keeps its spool for the next
    rows: dict[str, dict] = {}
    for _ in range(args.rounds):  # interleaved, so a change in the machine's load touches every sender
        rows = _round(rows, {
            "traces.replay, cold (first pass)": lambda: _replay(traffic, endpoint, info, cache=cache),
            "traces.replay, again (spool cached)": lambda: _replay(traffic, endpoint, info, cache=cache),
            "telemetrygen (1 worker)": lambda: _telemetrygen(telemetrygen, info),
            "traces.replay, cold, one process": lambda: _replay(traffic, endpoint, info, workers="1"),
        })
        shutil.rmtree(cache, ignore_errors=True)
    if args.scale > 1:
        big = folder / f"traffic-x{args.scale}.jsonl"
        _scaled(traffic, big, args.scale)
        traffic.unlink()
        print(f"scaled replay file: {big.stat().st_size / 1e6:.1f} MB")
        # cold, and again: a larger file spreads the replay's fixed start (about 1 s: Python, invoke's
        # tasks, gRPC) over more spans
        rows[f"traces.replay, file x{args.scale} (cold)"] = _replay(big, endpoint, info, cache=cache)
        rows[f"traces.replay, file x{args.scale}, again (cached)"] = _replay(big, endpoint, info, cache=cache)
        shutil.rmtree(cache, ignore_errors=True)
    return rows


def _telemetrygen(cmd: list[str], info: dict) -> dict:
    r = _measured(cmd, info)
    r["spans"] = int(r["collector"].get("otelcol_receiver_accepted_spans", 0))
    return r


def _round(rows: dict[str, dict], runs: dict) -> dict[str, dict]:
    """One run of each sender; with several rounds each row keeps its median run (by rate)."""
    for name, run in runs.items():
        rows.setdefault(name, {"runs": []})["runs"].append(run())
        ordered = sorted(rows[name]["runs"], key=lambda r: r["spans"] / r["wall_s"])
        rows[name].update(ordered[len(ordered) // 2])
    return rows


if __name__ == "__main__":
    main()

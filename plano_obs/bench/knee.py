"""The knee of one gateway collector on one core (docs/scale-out.md#sizing): `nox -s bench --
knee`. Starts the scale run's Tempo and Prometheus and one gateway pinned to one CPU, then
replays synthetic Plano traffic straight into it at rising rates. Per step: the rate reached,
spans refused, spans that failed to leave, whether the span metrics counted every accepted span,
the CPU the collector used and its peak memory. The knee is the last step that reached its rate
with nothing refused, failed or uncounted."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .. import chaos, paths, settings
from ..scale import gateways
from .native_stack import machine

CLOCK = os.sysconf("SC_CLK_TCK")
SATURATED = 0.9  # cores: a collector pinned to one core is at its ceiling here


@dataclass
class Step:
    target: int  # spans/s asked of the replay
    reached: float = 0.0  # spans/s the collector acknowledged
    accepted: int = 0
    refused: int = 0  # the receiver said no (memory limiter, queue full)
    failed: int = 0  # acknowledged but not sent on (enqueue or send failures)
    uncounted: int = 0  # acknowledged but missing from the span-metrics counter
    cpu: float = 0.0  # cores the collector used on average
    rss_mib: float = 0.0  # its peak resident memory

    @property
    def lossless(self) -> bool:
        return self.refused == 0 and self.failed == 0 and self.uncounted == 0

    @property
    def limit(self) -> str:
        """What held this step back: nothing, the collector (it lost spans or used its core)
        or the load generator (the rate was not reached, though the collector had CPU left)."""
        if not self.lossless or self.cpu >= SATURATED:
            return "collector"
        return "none" if self.reached >= 0.95 * self.target else "load generator"


def _telemetry(port: int, names: list[str]) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        for n in names:
            if line.startswith(n) and not line.startswith("#"):
                out[n] += float(line.rsplit(" ", 1)[1])
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK  # utime + stime


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_step(tier: gateways.Tier, scale: dict, names: dict, traffic: Path, target: int, seconds: float,
             load_cpu: int) -> Step:
    step = Step(target)
    port = scale["ports"]
    counters = [names["collectorAccepted"], names["collectorRefused"], "otelcol_exporter_send_failed_spans",
                "otelcol_exporter_enqueue_failed_spans"]
    calls = names["calls"]
    before = _telemetry(port["gatewayTelemetry"], counters)
    counted0 = _telemetry(port["gatewayMetrics"], [calls])[calls]
    pid = tier.parts["gateway-0"].process.pid
    cpu0, t0 = _cpu_seconds(pid), time.monotonic()
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            peak[0] = max(peak[0], _rss_mib(pid))
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    loops = max(1, int(target * seconds / _spans_in(traffic)) + 1)
    r = subprocess.run(["taskset", "-c", str(load_cpu), sys.executable, "-m", "invoke", "traces.replay", str(traffic), "--speed", "0", "--json",
                        "--rate", str(target), "--loop", str(loops), "--retry-for", "0",
                        "--endpoint", f"127.0.0.1:{port['gatewayOtlpGrpc']}"],
                       cwd=paths.ROOT, capture_output=True, text=True, timeout=seconds * 20 + 120)
    elapsed = time.monotonic() - t0
    summary = json.loads(r.stdout)
    step.cpu = (_cpu_seconds(pid) - cpu0) / elapsed
    # the span metrics flush every spanMetrics.flushInterval: wait until the counter stops moving
    step.accepted = int(summary["accepted_spans"])
    counted = chaos.settled(lambda: int(_telemetry(port["gatewayMetrics"], [calls])[calls] - counted0),
                            step.accepted, quiet_s=5, deadline_s=60)
    done.set()
    watcher.join()
    after = _telemetry(port["gatewayTelemetry"], counters)
    step.reached = summary["spans_per_s"]
    step.refused = int(after[counters[1]] - before[counters[1]]) + int(summary["rejected_spans"])
    step.failed = int(sum(after[c] - before[c] for c in counters[2:]))
    step.uncounted = step.accepted - counted
    step.rss_mib = peak[0]
    return step


def _spans_in(path: Path) -> int:
    return sum(chaos.per_trace(path.read_text().splitlines()).values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nox -s bench -- knee", description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="2000,4000,8000,12000,16000,24000,32000",
                    help="spans per second to try, in order (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=15, help="how long each step sends (default %(default)s)")
    ap.add_argument("--cpu", type=int, default=1, help="the CPU the gateway is pinned to (default %(default)s)")
    ap.add_argument("--load-cpu", type=int, default=0, help="the CPU the replay is pinned to (default %(default)s)")
    args = ap.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    scale, names = gateways.info(), settings.load("native")["metricNames"]
    with tempfile.TemporaryDirectory(prefix="plano-knee-") as tmp:
        root = Path(tmp)
        traffic, _ = chaos.traffic_file(root, seed=11)
        tier = gateways.plan(root)
        gw = tier.parts["gateway-0"]
        gw.argv = ["taskset", "-c", str(args.cpu), *gw.argv]
        tier.parts = {k: v for k, v in tier.parts.items() if k in ("remote-prometheus", "prometheus", "tempo", "gateway-0")}
        steps: list[Step] = []
        try:
            for name in tier.parts:
                tier.start(name)
            for rate in rates:
                step = run_step(tier, scale, names, traffic, rate, args.seconds, args.load_cpu)
                steps.append(step)
                print(f"  {rate:>6} spans/s: reached {step.reached:,.0f}, refused {step.refused}, failed {step.failed}, "
                      f"uncounted {step.uncounted}, {step.cpu:.2f} cores, {step.rss_mib:.0f} MiB, limit: {step.limit}", flush=True)
                if step.limit != "none":
                    break  # the collector or the load generator is at its ceiling
        finally:
            tier.stop()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nmachine: {machine()}; load average {' '.join(load)}; gateway pinned to CPU {args.cpu}, replay to CPU "
          f"{args.load_cpu} (taskset); {args.seconds:g} s a step\n")
    print("| target spans/s | reached | refused | failed | uncounted | collector CPU (cores) | spans/s per core | peak RSS (MiB) | limit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in steps:
        per_core = s.reached / s.cpu if s.cpu else 0
        print(f"| {s.target:,} | {s.reached:,.0f} | {s.refused} | {s.failed} | {s.uncounted} | {s.cpu:.2f} | {per_core:,.0f} | "
              f"{s.rss_mib:.0f} | {s.limit} |")
    good = [s for s in steps if s.lossless]
    if not good:
        print("\nno step was lossless: lower --rates")
        return 1
    best = max(good, key=lambda s: s.reached)
    if steps[-1].limit == "collector":
        print(f"\nknee: {best.reached:,.0f} spans/s lossless on one core ({best.cpu:.2f} cores, {best.rss_mib:.0f} MiB)")
    else:
        print(f"\nno knee below {best.reached:,.0f} spans/s: the load generator topped out first, with the collector at "
              f"{best.cpu:.2f} cores ({best.reached / best.cpu:,.0f} spans/s per core of CPU used)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

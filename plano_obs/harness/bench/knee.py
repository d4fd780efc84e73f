"""The knee of one gateway collector on one core (docs/scale-out.md#sizing): `nox -s bench --
knee`. Starts the scale run's Tempo and Prometheus and one gateway pinned to one CPU, then
sends traffic straight into it at rising rates: synthetic Plano traffic through `invoke
traces.replay` (`--load replay`), or OpenTelemetry's telemetrygen (`--load telemetrygen`), whose
Go generator outruns one core of the gateway. Per step: the rate reached,
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

from plano_obs.config import paths, settings
from plano_obs.harness import chaos
from plano_obs.harness.bench.native_stack import machine
from plano_obs.harness.scale import gateways
from plano_obs.runtime import tools

CLOCK = os.sysconf("SC_CLK_TCK")
SATURATED = 0.9  # share of its CPU (one core, or its quota) at which a collector is at its ceiling


@dataclass
class Step:
    target: int  # spans/s asked of the load generator; 0: as fast as it can (`max`)
    reached: float = 0.0  # spans/s the collector acknowledged
    accepted: int = 0
    refused: int = 0  # the receiver said no (memory limiter, queue full)
    failed: int = 0  # acknowledged but not sent on (enqueue or send failures)
    uncounted: int = 0  # acknowledged but missing from the span-metrics counter
    cpu: float = 0.0  # cores the collector used on average
    rss_mib: float = 0.0  # its peak resident memory
    ceiling: float = 1.0  # the cores it may use: one, or its --cpu-quota

    @property
    def lossless(self) -> bool:
        return self.refused == 0 and self.failed == 0 and self.uncounted == 0

    @property
    def limit(self) -> str:
        """What held this step back: nothing, the collector (it lost spans or used its core)
        or the load generator (the rate was not reached, though the collector had CPU left)."""
        if not self.lossless or self.cpu >= SATURATED * self.ceiling:
            return "collector"
        if self.target == 0:
            return "load generator"  # unthrottled, and still the collector had CPU left
        return "none" if self.reached >= 0.95 * self.target else "load generator"


class QuotaError(SystemExit):
    pass


def cpu_quota(pid: int, cores: float) -> Path:
    """Caps a process at `cores` of CPU time with the kernel's CFS quota (a cgroup of its own,
    v1 `cpu` or v2 `cpu.max`), so that a load generator on the other core can saturate it.
    Returns the cgroup folder, removed by `release_quota`."""
    period = 100_000
    v1, v2 = Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")
    try:
        if (v1 / "cpu.cfs_quota_us").exists():
            group = v1 / f"plano-knee-{pid}"
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(period))
            (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
        elif "cpu" in (v2 / "cgroup.controllers").read_text().split() if (v2 / "cgroup.controllers").exists() else False:
            group = v2 / f"plano-knee-{pid}"
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{int(cores * period)} {period}")
        else:
            raise QuotaError("error: --cpu-quota needs the cgroup cpu controller (v1 /sys/fs/cgroup/cpu or v2 cpu.max) — "
                             "run without --cpu-quota")
        (group / "cgroup.procs").write_text(str(pid))
    except OSError as err:
        raise QuotaError(f"error: cannot set a CPU quota ({err}) — run as root, or without --cpu-quota") from err
    return group


def release_quota(group: Path, pid: int) -> None:
    """Moves the process back to the root group (if it still runs) and removes the cgroup."""
    try:
        if Path(f"/proc/{pid}").exists():
            (group.parent / "cgroup.procs").write_text(str(pid))
        group.rmdir()
    except OSError:
        pass


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


# telemetrygen: one root and this many children per trace. Its --rate is spans per second per
# worker, paced by a limiter that sleeps before every span: on this machine one worker tops out
# near 1,800 spans/s (asked 8,000, reached 1,794), so the rate is spread over workers of 1,000.
TG_CHILDREN = 3
TG_WORKER_RATE = 1000
TG_MAX_WORKERS = 4  # `max`: unthrottled (--rate 0), as fast as one core of telemetrygen goes


def replay_load(traffic: Path, endpoint: str, load_cpu: int):
    """Plano-shaped traffic: `invoke traces.replay` of the chaos run's synthetic file, looped."""
    def send(target: int, seconds: float) -> tuple[int, float, int]:
        loops = max(1, int(target * seconds / _spans_in(traffic)) + 1)
        r = subprocess.run(["taskset", "-c", str(load_cpu), sys.executable, "-m", "invoke", "traces.replay", str(traffic),
                            "--speed", "0", "--json", "--rate", str(target), "--loop", str(loops), "--retry-for", "0",
                            "--endpoint", endpoint], cwd=paths.ROOT, capture_output=True, text=True, timeout=seconds * 20 + 120)
        summary = json.loads(r.stdout)
        return int(summary["accepted_spans"]), summary["spans_per_s"], int(summary["rejected_spans"])
    return send


def telemetrygen_load(binary: Path, endpoint: str, load_cpu: int, telemetry_port: int, accepted_name: str,
                      dimensions: list[str], service: str):
    """OpenTelemetry's Go load generator: synthetic traces with every span-metrics dimension set
    (as Plano's LLM spans have them), at a rate one core of Python cannot reach. What the gateway
    accepted and refused is read from its own counters."""
    attrs = [a for d in dimensions for a in ("--telemetry-attributes", f'{d}="knee"')]

    def send(target: int, seconds: float) -> tuple[int, float, int]:
        workers = -(-target // TG_WORKER_RATE) if target else TG_MAX_WORKERS
        accepted0 = _telemetry(telemetry_port, [accepted_name])[accepted_name]
        t0 = time.monotonic()
        r = subprocess.run(["taskset", "-c", str(load_cpu), str(binary), "traces", "--otlp-endpoint", endpoint, "--otlp-insecure",
                            "--service", service, "--child-spans", str(TG_CHILDREN), "--workers", str(workers),
                            "--rate", f"{target / workers:g}", "--duration", f"{seconds:g}s", *attrs],
                           capture_output=True, text=True, timeout=seconds * 4 + 60)
        elapsed = time.monotonic() - t0
        accepted = int(_telemetry(telemetry_port, [accepted_name])[accepted_name] - accepted0)
        if r.returncode != 0:
            raise SystemExit(f"telemetrygen failed: {(r.stderr.strip().splitlines() or ['no output'])[-1]}")
        # spans are made during exactly `seconds`; start-up and the last flush take the rest of elapsed
        return accepted, accepted / min(seconds, elapsed), 0  # what the gateway refused, its own counter says
    return send


def run_step(tier: gateways.Tier, scale: dict, names: dict, load, target: int, seconds: float,
             ceiling: float = 1.0) -> Step:
    step = Step(target, ceiling=ceiling)
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
    step.accepted, step.reached, rejected = load(target, seconds)
    elapsed = time.monotonic() - t0
    step.cpu = (_cpu_seconds(pid) - cpu0) / elapsed
    # the span metrics flush every spanMetrics.flushInterval: wait until the counter stops moving
    counted = chaos.settled(lambda: int(_telemetry(port["gatewayMetrics"], [calls])[calls] - counted0),
                            step.accepted, quiet_s=5, deadline_s=60)
    done.set()
    watcher.join()
    after = _telemetry(port["gatewayTelemetry"], counters)
    step.refused = int(after[counters[1]] - before[counters[1]]) + rejected
    step.failed = int(sum(after[c] - before[c] for c in counters[2:]))
    step.uncounted = step.accepted - counted
    step.rss_mib = peak[0]
    return step


def _spans_in(path: Path) -> int:
    return sum(chaos.per_trace(path.read_text().splitlines()).values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nox -s bench -- knee", description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="2000,4000,8000,12000,16000,24000,32000",
                    help="spans per second to try, in order; `max`: as fast as the load generator can "
                         "(default %(default)s)")
    ap.add_argument("--seconds", type=float, default=15, help="how long each step sends (default %(default)s)")
    ap.add_argument("--cpu", type=int, default=1, help="the CPU the gateway is pinned to (default %(default)s)")
    ap.add_argument("--load-cpu", type=int, default=0, help="the CPU the load generator is pinned to (default %(default)s)")
    ap.add_argument("--load", choices=("replay", "telemetrygen"), default="replay",
                    help="replay: Plano-shaped traffic through `invoke traces.replay` (Python: about 9,000 spans/s on a "
                         "core); telemetrygen: OpenTelemetry's Go generator, fast enough to saturate the gateway "
                         "(default %(default)s)")
    ap.add_argument("--cpu-quota", type=float, default=None,
                    help="cap the gateway at this share of a core (CFS quota, e.g. 0.5), so that a load generator on "
                         "the other core can saturate it; per-core figures scale it back up (default: a whole core)")
    args = ap.parse_args(argv)
    if args.cpu_quota is not None and not 0.05 <= args.cpu_quota <= 1:
        ap.error("--cpu-quota must be between 0.05 and 1 (a share of one core)")
    ceiling = args.cpu_quota or 1.0
    rates = [0 if r.strip() == "max" else int(r) for r in args.rates.split(",")]
    if 0 in rates and args.load != "telemetrygen":
        ap.error("--rates max needs --load telemetrygen (the replay paces itself)")
    stack = settings.load("native")
    scale, names = gateways.info(), stack["metricNames"]
    with tempfile.TemporaryDirectory(prefix="plano-knee-") as tmp:
        root = Path(tmp)
        traffic, _ = chaos.traffic_file(root, seed=11)
        tier = gateways.plan(root)
        gw = tier.parts["gateway-0"]
        gw.argv = ["taskset", "-c", str(args.cpu), *gw.argv]
        tier.parts = {k: v for k, v in tier.parts.items() if k in ("remote-prometheus", "prometheus", "tempo", "gateway-0")}
        steps: list[Step] = []
        endpoint = f"127.0.0.1:{scale['ports']['gatewayOtlpGrpc']}"
        if args.load == "telemetrygen":
            binary = tools.ensure(tools.telemetrygen(stack["versions"]["collector"])).binary()
            load = telemetrygen_load(binary, endpoint, args.load_cpu, scale["ports"]["gatewayTelemetry"],
                                     names["collectorAccepted"], stack["spanMetricsDimensions"], stack["planoServices"]["llm"])
        else:
            load = replay_load(traffic, endpoint, args.load_cpu)
        group = None
        try:
            for name in tier.parts:
                tier.start(name)
            if args.cpu_quota:
                group = cpu_quota(gw.process.pid, args.cpu_quota)
            for rate in rates:
                step = run_step(tier, scale, names, load, rate, args.seconds, ceiling)
                steps.append(step)
                print(f"  {rate or 'max':>6} spans/s: reached {step.reached:,.0f}, refused {step.refused}, failed {step.failed}, "
                      f"uncounted {step.uncounted}, {step.cpu:.2f} cores, {step.rss_mib:.0f} MiB, limit: {step.limit}", flush=True)
                if step.limit == "collector":
                    break  # at its ceiling; a step the load generator fell short of may go on (`max` last)
        finally:
            if group is not None:
                release_quota(group, gw.process.pid)
            tier.stop()
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    quota = f", capped at {args.cpu_quota:g} of a core (CFS quota)" if args.cpu_quota else ""
    print(f"\nmachine: {machine()}; load average {' '.join(loadavg)}; gateway pinned to CPU {args.cpu}{quota}, {args.load} "
          f"to CPU {args.load_cpu} (taskset); {args.seconds:g} s a step\n")
    print("| target spans/s | reached | refused | failed | uncounted | collector CPU (cores) | spans/s per core | peak RSS (MiB) | limit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in steps:
        per_core = s.reached / s.cpu if s.cpu else 0
        print(f"| {f'{s.target:,}' if s.target else 'max'} | {s.reached:,.0f} | {s.refused} | {s.failed} | {s.uncounted} | {s.cpu:.2f} | {per_core:,.0f} | "
              f"{s.rss_mib:.0f} | {s.limit} |")
    good = [s for s in steps if s.lossless]
    if not good:
        print("\nno step was lossless: lower --rates")
        return 1
    best = max(good, key=lambda s: s.reached)
    if steps[-1].limit == "collector":
        top = steps[-1]
        print(f"\nknee: {best.reached:,.0f} spans/s lossless on {ceiling:g} of a core ({best.cpu:.2f} cores, "
              f"{best.rss_mib:.0f} MiB); saturated at {top.reached:,.0f} spans/s with {top.cpu:.2f} cores "
              f"({top.reached / top.cpu:,.0f} spans/s per core; refused {top.refused}, failed {top.failed}, "
              f"uncounted {top.uncounted})")
    else:
        print(f"\nno knee below {best.reached:,.0f} spans/s: the load generator topped out first, with the collector at "
              f"{best.cpu:.2f} cores ({best.reached / best.cpu:,.0f} spans/s per core of CPU used)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

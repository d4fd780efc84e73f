"""Replay throughput benchmark: `invoke traces.replay` against OpenTelemetry's telemetrygen,
side by side in one run, into the same live collector (native mode).

    python -m plano_obs.bench.replay [--spans 100000]

For each sender: spans sent, wall time, spans/s, the collector's refused and failed spans
during the run (its own otelcol_* counters), and the sender's peak resident memory."""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from .. import health, native, paths, tools
from ..render import stack_info
from .native_stack import _machine

PER_TRACE = 4  # telemetrygen: one root and 3 children per trace


def _measured(cmd: list[str], info: dict) -> dict:
    before = health.collector_counters(info)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=paths.ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if status:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed (status {status})")
    after = health.collector_counters(info)
    while True:  # until the collector's counters stop moving (receiver → pipelines)
        time.sleep(1)
        now = health.collector_counters(info)
        if now == after:
            break
        after = now
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {"wall_s": wall, "rss_mib": usage.ru_maxrss / 1024, "out": out.decode(), "collector": delta}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000, help="spans per sender (default 100000)")
    parser.add_argument("--telemetrygen-seconds", type=int, default=10, help="how long telemetrygen runs")
    args = parser.parse_args()
    info = stack_info("native")
    endpoint = f"127.0.0.1:{info['ports']['otlpGrpc']}"
    started_here = not native.Supervisor().running()
    if started_here:
        subprocess.run([sys.executable, "-m", "invoke", "up", "--mode", "native"], cwd=paths.ROOT, check=True,
                       capture_output=True)
    tg = tools.ensure(tools.telemetrygen(info["versions"]["collector"])).binary()
    print(f"machine: {_machine()}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            traffic = Path(tmp) / "traffic.jsonl"
            # synth makes ~4.3 spans per trace at its default mix
            subprocess.run([sys.executable, "-m", "invoke", "traces.synth", "--seed", "1", "--rps", "100",
                            "--duration", str(math.ceil(args.spans / 4.3 / 100)), "--out", str(traffic)],
                           cwd=paths.ROOT, check=True, capture_output=True)
            print(f"replay file: {traffic.stat().st_size / 1e6:.1f} MB")
            rows = {}
            rows["traces.replay (grpc)"] = _measured(
                [sys.executable, "-m", "invoke", "traces.replay", str(traffic), "--speed", "0", "--json"], info)
            summary = json.loads(rows["traces.replay (grpc)"]["out"])
            rows["traces.replay (grpc)"]["spans"] = summary["spans"]
            rows["traces.replay (grpc)"]["send_spans_per_s"] = summary["spans_per_s"]
            # telemetrygen drops what is still queued when a fixed --traces count ends, so it runs
            # for a fixed time and its rate is what the collector accepted
            r = _measured([str(tg), "traces", "--otlp-endpoint", endpoint, "--otlp-insecure", "--duration",
                           f"{args.telemetrygen_seconds}s", "--child-spans", str(PER_TRACE - 1), "--workers", "1",
                           "--rate", "0"], info)
            r["spans"] = int(r["collector"].get("otelcol_receiver_accepted_spans", 0))
            rows["telemetrygen (1 worker)"] = r
    finally:
        if started_here:
            subprocess.run([sys.executable, "-m", "invoke", "down", "--mode", "native"], cwd=paths.ROOT, capture_output=True)
    print(f"{'sender':<26} {'spans':>8} {'wall s':>7} {'spans/s':>9} {'accepted':>9} {'refused':>8} {'failed':>7} {'RSS MiB':>8}")
    for name, r in rows.items():
        c = r["collector"]
        print(f"{name:<26} {r['spans']:>8} {r['wall_s']:>7.2f} {r['spans'] / r['wall_s']:>9,.0f} "
              f"{c.get('otelcol_receiver_accepted_spans', 0):>9.0f} {c.get('otelcol_receiver_refused_spans', 0):>8.0f} "
              f"{c.get('otelcol_exporter_send_failed_spans', 0):>7.0f} {r['rss_mib']:>8.1f}")
        if "send_spans_per_s" in r:
            print(f"{'':<26} (send phase alone, after loading and validating the file: {r['send_spans_per_s']:,.0f} spans/s)")


if __name__ == "__main__":
    main()

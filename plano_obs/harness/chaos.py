"""`nox -s chaos`: a fault matrix against a live native stack. Each fault (plano_obs/harness/faults.py)
is injected while a replay of known traces is running; afterwards every trace is looked up in
Tempo and the span-metrics counters are read back from Prometheus, so the table says exactly
what was sent, accepted, stored, counted and lost. Starts its own stack in a temporary state
folder (a tmpfs of its own when run as root, so the disk can be filled) and stops it.

    python -m plano_obs.harness.chaos [--only NAME[,NAME…]] [--tmpfs-mib 768]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from plano_obs.config import paths, settings
from plano_obs.harness import faults
from plano_obs.harness.bench.cardinality import flood
from plano_obs.runtime import health
from plano_obs.traces import otlpjson

@dataclass
class Row:
    fault: str
    sent: int = 0  # spans the replay sent
    accepted: int = 0  # spans the collector acknowledged to the replay
    stored: int = 0  # distinct spans Tempo returns for the sent trace ids
    counted: int = 0  # spans the span-metrics counters in Prometheus grew by
    note: str = ""
    uncounted_ok: str | None = None
    before_fault: int = -1  # spans the collector had accepted from the replay when the fault landed

    @property
    def lost(self) -> int:
        return max(self.accepted - self.stored, 0)

    @property
    def uncounted(self) -> int:
        return max(self.accepted - self.counted, 0)


def per_trace(lines: list[str]) -> dict[str, int]:
    per_trace: dict[str, int] = {}
    for line in lines:
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    per_trace[s["traceId"]] = per_trace.get(s["traceId"], 0) + 1
    return per_trace


def traffic_file(folder: Path, seed: int, kind: str | None = None) -> tuple[Path, dict[str, int]]:
    """A fresh file (unique ids per seed) and its span count per trace id."""
    out = folder / f"chaos-{seed}.jsonl"
    if kind == "models":
        out.write_text("".join(otlpjson.to_json_line(r) + "\n" for r in flood(5000)))
    else:  # ~1,700 spans of mixed Plano traffic over 8 s
        r = faults.invoke("traces.synth", "--seed", str(seed), "--rps", "40", "--duration", "8", "--out", str(out))
        if r.returncode:
            raise SystemExit(f"error: traces.synth failed: {r.stderr.strip()}")
    return out, per_trace(out.read_text().splitlines())


def trace_spans(base: str, tid: str, attempts: int = 4) -> int:
    """Distinct spans Tempo returns for one trace; 0 only when Tempo says it has none (a lookup that
    timed out or failed is asked again: a busy Tempo must not read as a lost trace)."""
    for attempt in range(attempts):
        try:
            r = requests.get(f"{base}/api/v2/traces/{tid}", timeout=10 * (attempt + 1))
            if r.status_code == 404:
                return 0
            r.raise_for_status()
            body = r.json()
        except (requests.RequestException, ValueError):
            threading.Event().wait(1.0)
            continue
        batches = body.get("trace", body).get("resourceSpans") or []
        # distinct span ids: a span returned twice must not hide one that is missing
        return len({s.get("spanId") for rs in batches for ss in rs.get("scopeSpans", []) for s in ss.get("spans", [])})
    raise SystemExit(f"error: Tempo did not answer for trace {tid} after {attempts} tries — see its log")


def settled(measure, target: int, quiet_s: float, deadline_s: float) -> int:
    """Polls `measure` until it equals target, or has not changed for quiet_s, or the deadline."""
    end, last, since = time.monotonic() + deadline_s, None, time.monotonic()
    while True:
        value = measure()
        if value != last:
            last, since = value, time.monotonic()
        if value == target or time.monotonic() - since > quiet_s or time.monotonic() > end:
            return value
        threading.Event().wait(1.0)


def guard_idle(info: dict, deadline_s: float = 180) -> None:
    """Waits until the Tempo guard has no check due, seen three times a second apart (it polls
    every half second, so a restart it has not noticed yet cannot hide between two readings)."""
    if not info.get("tempoGuard"):
        return
    url, end, idle = health.url(info, "tempoGuard", "/metrics"), time.monotonic() + deadline_s, 0
    while idle < 3 and time.monotonic() < end:
        try:
            text = requests.get(url, timeout=5).text
            pending = next((float(l.split()[-1]) for l in text.splitlines() if l.startswith("plano_tempo_guard_pending ")), 0.0)
        except requests.RequestException:
            pending = 1.0  # restarting with the stack
        idle = idle + 1 if pending == 0 else 0
        threading.Event().wait(1.0)


def stored(info: dict, per_trace: dict[str, int]) -> int:
    """Spans Tempo returns for the traces, once the Tempo guard has re-sent what Tempo lost and
    the count stops growing."""
    guard_idle(info)
    base = health.url(info, "tempo")
    with ThreadPoolExecutor(8) as pool:
        def measure() -> int:
            return sum(pool.map(lambda tid: trace_spans(base, tid), per_trace))
        return settled(measure, sum(per_trace.values()), quiet_s=20, deadline_s=180)


def counted_since(info: dict, t0: float) -> int:
    """How much the span-metrics calls counters grew since t0, from Prometheus's raw samples:
    each series' value at t0 (0 for a series born later), then every increase, a drop to a lower
    value read as a counter reset (the collector restarted) whose new value all counts."""
    now = time.time()
    window = int(now - t0) + 30
    r = requests.get(health.url(info, "prometheus", "/api/v1/query"),
                     params={"query": f"{info['metricNames']['calls']}[{window}s]", "time": f"{now:.3f}"}, timeout=10)
    r.raise_for_status()
    return round(sum(growth([(float(t), float(v)) for t, v in series["values"]], t0)
                     for series in r.json()["data"]["result"]))


def growth(samples: list[tuple[float, float]], t0: float) -> float:
    """How much one counter grew after t0: from its last value at or before t0 (0 if it was born
    later), adding each increase; a lower value is a reset, and all of it is new."""
    before = [v for t, v in samples if t <= t0]
    prev, total = (before[-1] if before else 0.0), 0.0
    for _, v in (s for s in samples if s[0] > t0):
        total += v - prev if v >= prev else v
        prev = v
    return total


def run_fault(ctx: faults.Context, folder: Path, seed: int, fault: faults.Fault) -> Row:
    file, per_trace = traffic_file(folder, seed, fault.traffic)
    row = Row(fault.name, sent=sum(per_trace.values()), uncounted_ok=fault.uncounted_ok)
    t0 = time.time()
    accepted0 = health.collector_counters(ctx.info).get("otelcol_receiver_accepted_spans", 0.0)
    # --retry-for outlasts every fault's gap: the replay keeps sending across restarts
    replay = subprocess.Popen([sys.executable, "-m", "invoke", "traces.replay", str(file), "--keep-ids", "--json",
                               "--retry-for", "120"], cwd=paths.ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    # the fault lands mid-traffic: once the collector has taken a third of the replay (the file
    # spans 8 s of traffic), never by the clock
    row.before_fault = int(mid_traffic(ctx.info, accepted0, row.sent, replay))
    row.note = fault.inject(ctx)
    extra = fault.restore(ctx)
    row.note += f"; {extra}" if extra else ""
    stdout, stderr = replay.communicate(timeout=600)
    try:
        row.accepted = int(json.loads(stdout)["accepted_spans"])
    except (json.JSONDecodeError, KeyError, ValueError):
        row.note += "; the replay printed no summary"
    if replay.returncode:
        row.note += f"; replay exit {replay.returncode}: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}"
    row.stored = stored(ctx.info, per_trace)
    row.counted = settled(lambda: counted_since(ctx.info, t0), row.accepted, quiet_s=8, deadline_s=60)
    return row


def mid_traffic(info: dict, accepted0: float, total: int, replay: subprocess.Popen, deadline_s: float = 60) -> float:
    """Waits until the collector has accepted a third of the replay's spans; returns how many it
    had then (what was sent before the fault)."""
    end = time.monotonic() + deadline_s
    while True:
        took = health.collector_counters(info).get("otelcol_receiver_accepted_spans", 0.0) - accepted0
        if took >= total / 3 or replay.poll() is not None or time.monotonic() > end:
            return took
        time.sleep(0.05)


def table(rows: list[Row]) -> str:
    out = ["| fault | spans sent | accepted before the fault | accepted | in Tempo | counted in Prometheus | lost |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r.fault} | {r.sent} | {r.before_fault} | {r.accepted} | {r.stored} | {r.counted} | {r.lost} |" for r in rows]
    return "\n".join(out)


def verdict(rows: list[Row]) -> tuple[str, int]:
    """The last line and the exit status. Any span accepted and missing from Tempo fails the run,
    whatever Tempo logged: a loss is a loss. So does a fault that did not land mid-traffic (no
    span accepted before it, or every span), and counts missing where none may be."""
    lost = sum(r.lost for r in rows)
    uncounted = sum(r.uncounted for r in rows)
    unexplained = [r.fault for r in rows if r.uncounted and not r.uncounted_ok]
    off_traffic = [r.fault for r in rows if r.fault != "none" and not 0 < r.before_fault < r.sent]
    line = f"{len(rows) - 1 if rows and rows[0].fault == 'none' else len(rows)} faults, {lost} lost spans"
    if lost:
        line += " (" + "; ".join(f"{r.lost} in {r.fault}" for r in rows if r.lost) + ")"
    if off_traffic:
        line += f" (not mid-traffic, so proving nothing: {', '.join(off_traffic)})"
    if uncounted:
        line += f" ({uncounted} accepted spans not counted in Prometheus" + \
                (f"; unexplained in: {', '.join(unexplained)})" if unexplained else ", all after a collector restart)")
    return line, 1 if lost or off_traffic or unexplained else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nox -s chaos --", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated fault names (default: all)")
    ap.add_argument("--tmpfs-mib", type=int, default=768, help="size of the state folder's tmpfs (root only)")
    args = ap.parse_args(argv)
    chosen = [f for f in faults.FAULTS if not args.only or f.name in args.only.split(",")]
    state = Path(tempfile.mkdtemp(prefix="plano-chaos-"))
    os.environ["PLANO_STATE_DIR"] = str(state)
    mib = faults.tmpfs(state, args.tmpfs_mib)
    rows: list[Row] = []
    try:
        r = faults.invoke("up", "--mode", "native", "--no-plano")
        if r.returncode:
            print(r.stdout + r.stderr, file=sys.stderr)
            return 1
        ctx = faults.Context(settings.load("native"), state, mib)
        with tempfile.TemporaryDirectory(prefix="plano-chaos-traces-") as folder:  # off the state disk
            for i, fault in enumerate(chosen):
                skip = fault.skip(ctx)
                if skip:
                    print(f"… {fault.name}: skipped — {skip}", flush=True)
                    continue
                print(f"… {fault.name}", flush=True)
                rows.append(run_fault(ctx, Path(folder), 1000 + i, fault))
    finally:
        faults.invoke("down", "--mode", "native")
        kept = Path(tempfile.mkdtemp(prefix="plano-chaos-logs-"))
        shutil.copytree(state / "logs", kept, dirs_exist_ok=True)
        if mib:
            subprocess.run(["umount", str(state)], capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
    print("\n" + table(rows))
    line, status = verdict(rows)
    print(f"\n{line}")
    print(f"logs of the run: {kept}")
    for row in rows:
        print(f"  {row.fault}: {row.note}" + (f" [not counted: {row.uncounted}, {row.uncounted_ok}]"
                                              if row.uncounted and row.uncounted_ok else ""))
    return status


if __name__ == "__main__":
    raise SystemExit(main())

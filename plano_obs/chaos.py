"""`nox -s chaos`: a fault matrix against a live native stack. Each fault is injected while a
replay of known traces is running; afterwards every trace is looked up in Tempo and the
collector's books are read, so the table says exactly what was sent, accepted, stored and
lost. Starts its own stack in a temporary state folder and stops it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from . import health, native, paths


@dataclass
class Row:
    fault: str
    sent: int = 0  # spans the replay sent
    accepted: int = 0  # spans the collector acknowledged to the replay
    stored: int = 0  # spans Tempo returns for the sent trace ids
    note: str = ""

    @property
    def lost(self) -> int:
        return self.accepted - self.stored


def _invoke(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=600)


def _traces(folder: Path, seed: int) -> tuple[Path, dict[str, int]]:
    """A fresh synthetic file (unique ids per seed) and its span count per trace id."""
    out = folder / f"chaos-{seed}.jsonl"
    r = _invoke("traces.synth", "--seed", str(seed), "--rps", "40", "--duration", "8", "--out", str(out))
    if r.returncode:
        raise SystemExit(f"error: traces.synth failed: {r.stderr.strip()}")
    per_trace: dict[str, int] = {}
    for line in out.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    per_trace[s["traceId"]] = per_trace.get(s["traceId"], 0) + 1
    return out, per_trace


def _stored(info: dict, per_trace: dict[str, int], deadline_s: float) -> int:
    """Spans Tempo returns for the traces, once the count stops growing (or the deadline)."""
    base = health.url(info, "tempo")
    end, last, stable_since = time.monotonic() + deadline_s, -1, time.monotonic()
    while True:
        total = 0
        for tid in per_trace:
            try:
                r = requests.get(f"{base}/api/v2/traces/{tid}", timeout=5)
                body = r.json() if r.ok else {}
            except requests.RequestException:
                body = {}
            batches = body.get("trace", body).get("resourceSpans") or []
            total += sum(len(ss.get("spans", [])) for rs in batches for ss in rs.get("scopeSpans", []))
        if total != last:
            last, stable_since = total, time.monotonic()
        if total == sum(per_trace.values()) or time.monotonic() - stable_since > 20 or time.monotonic() > end:
            return total
        time.sleep(1)


def _signal(name: str, sig: int) -> Callable[[dict], str]:
    def fault(info: dict) -> str:
        pid = native.Supervisor().processes()[name]["pid"]
        SIGNALLED[name] = pid
        os.kill(pid, sig)
        return f"{signal.Signals(sig).name} to {name} (pid {pid})"
    return fault


def _restart_after(name: str, hang_s: float = 10.0) -> Callable[[dict], None]:
    def restore(info: dict) -> None:
        sup = native.Supervisor()
        pid = SIGNALLED.pop(name, 0)  # the process that got the signal (supervisord may have started another)
        end = time.monotonic() + hang_s
        while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            time.sleep(0.2)
        if pid and Path(f"/proc/{pid}").exists():  # a hung shutdown: what an operator (or supervisord's stop) does
            os.kill(pid, signal.SIGKILL)
            HUNG.append(f"{name} still running {hang_s:.0f} s after the signal: SIGKILLed")
        end = time.monotonic() + 60
        while sup.processes()[name]["statename"] != "RUNNING":  # supervisord restarts unexpected exits
            if sup.processes()[name]["statename"] in ("EXITED", "STOPPED", "FATAL"):
                sup.rpc().startProcess(name)
            if time.monotonic() > end:
                raise SystemExit(f"error: {name} did not come back within 60 s")
            time.sleep(0.5)
        health.wait_ready(info, [name], 60)
    return restore


HUNG: list[str] = []
SIGNALLED: dict[str, int] = {}


def _down_up(info: dict) -> str:
    start = time.monotonic()
    for verb in ("down", "up"):  # the replay meets the gap and retries across it
        r = _invoke(verb, "--mode", "native", "--no-plano") if verb == "up" else _invoke(verb, "--mode", "native")
        if r.returncode:
            raise SystemExit(f"error: invoke {verb} failed: {r.stderr.strip()}")
    return f"invoke down, then up, mid-replay ({time.monotonic() - start:.1f} s without a collector)"


FAULTS: list[tuple[str, Callable[[dict], str], Callable[[dict], None]]] = [
    ("none", lambda info: "no fault", lambda info: None),
    ("tempo SIGKILL", _signal("tempo", signal.SIGKILL), _restart_after("tempo")),
    ("tempo SIGTERM", _signal("tempo", signal.SIGTERM), _restart_after("tempo")),
    ("collector SIGKILL", _signal("collector", signal.SIGKILL), _restart_after("collector")),
    ("collector SIGTERM", _signal("collector", signal.SIGTERM), _restart_after("collector")),
    ("down/up", _down_up, lambda info: None),
]


def _collector_pid() -> int:
    return native.Supervisor().processes().get("collector", {}).get("pid", 0)


def run_fault(info: dict, folder: Path, seed: int, name: str, inject, restore) -> Row:
    file, per_trace = _traces(folder, seed)
    row = Row(name, sent=sum(per_trace.values()))
    pid = _collector_pid()
    # --retry-for outlasts every fault's gap: the replay keeps sending across restarts
    replay = subprocess.Popen([sys.executable, "-m", "invoke", "traces.replay", str(file), "--keep-ids", "--json",
                               "--retry-for", "90"], cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threading.Event().wait(3.0)  # the fault lands mid-replay: the file spans 8 s of traffic
    row.note = inject(info)
    HUNG.clear()
    restore(info)  # at once: the replay's retries carry it over the gap
    row.note += "".join(f"; {h}" for h in HUNG)
    stdout, stderr = replay.communicate(timeout=300)
    if _collector_pid() != pid:
        row.note += "; the collector restarted"
    # accepted = what the collector acknowledged to the sender (the replay's exact books)
    try:
        report = json.loads(stdout)
        row.accepted = int(report["accepted_spans"])
    except (json.JSONDecodeError, KeyError, ValueError):
        row.note += "; the replay printed no summary"
    if replay.returncode:
        row.note += f"; replay exit {replay.returncode}: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}"
    row.stored = _stored(info, per_trace, deadline_s=120)
    return row


def main() -> int:
    state = tempfile.mkdtemp(prefix="plano-chaos-")
    os.environ["PLANO_STATE_DIR"] = state
    r = _invoke("up", "--mode", "native", "--no-plano")
    if r.returncode:
        print(r.stdout + r.stderr, file=sys.stderr)
        return 1
    info = native.info()
    rows: list[Row] = []
    try:
        folder = Path(state) / "traces"
        folder.mkdir()
        for i, (name, inject, restore) in enumerate(FAULTS):
            print(f"… {name}", flush=True)
            rows.append(run_fault(info, folder, 1000 + i, name, inject, restore))
    finally:
        _invoke("down", "--mode", "native")
    print(f"\n| fault | spans sent | accepted | in Tempo | lost |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.fault} | {row.sent} | {row.accepted} | {row.stored} | {row.lost} |")
    lost = sum(max(r.lost, 0) for r in rows)
    print(f"\n{len(rows) - 1} faults, {lost} lost spans")
    for row in rows:
        print(f"  {row.fault}: {row.note}")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The faults `nox -s chaos` injects mid-replay, and how each is undone. A fault returns a
sentence for the table's notes; its restore brings every component back to ready and returns
what it had to do on the way (a hung process killed, a crashed one started again)."""
from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from plano_obs.config import paths
from plano_obs.runtime import health, supervisor

HANG_S = 10.0  # a process still alive this long after its signal is SIGKILLed, as supervisord's stop would
HOLD_S = 10.0  # how long a stolen port or a full disk lasts
DEAD = ("EXITED", "STOPPED", "FATAL", "BACKOFF")


@dataclass
class Context:
    info: dict  # stack.json of the running stack
    state: Path  # its state folder
    tmpfs_mib: int = 0  # size of the tmpfs the state folder is on (0: not on one)
    signalled: dict[str, int] = field(default_factory=dict)
    held: socket.socket | None = None


@dataclass
class Fault:
    name: str
    inject: Callable[[Context], str]
    restore: Callable[[Context], str]
    # why the span-metrics counts may fall short (None: they must equal what was accepted)
    uncounted_ok: str | None = None
    # the traffic: None for a fresh synthetic file, else a name understood by chaos.traffic_file
    traffic: str | None = None
    skip: Callable[[Context], str | None] = lambda ctx: None


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, capture_output=True, text=True,
                          timeout=600)


def bring_back(ctx: Context) -> str:
    """Starts every component supervisord reports dead and waits until all are ready."""
    sup, notes = supervisor.Supervisor(), []
    end = time.monotonic() + 90
    while True:
        procs = sup.processes()
        dead = [n for n, p in procs.items() if p["statename"] in DEAD]
        for name in dead:
            notes.append(f"{name} {procs[name]['statename']}, started again")
            try:
                sup.rpc().startProcess(name)
            except Exception:  # noqa: BLE001 — still spawning, or it exits at once: retried below
                pass
        starting = [n for n, p in procs.items() if p["statename"] != "RUNNING"]
        if not dead and not starting:
            break
        if time.monotonic() > end:
            raise SystemExit(f"error: {', '.join(dead or starting)} did not come back within 90 s")
        threading.Event().wait(0.5)
    probes = health.wait_ready(ctx.info, list(procs), 90)
    if not all(p.ok for p in probes.values()):
        raise SystemExit(f"error: not ready 90 s after the fault: {', '.join(n for n, p in probes.items() if not p.ok)}")
    return "; ".join(dict.fromkeys(notes))


def signal_to(name: str, sig: int) -> Callable[[Context], str]:
    def inject(ctx: Context) -> str:
        pid = supervisor.Supervisor().processes()[name]["pid"]
        ctx.signalled[name] = pid
        os.kill(pid, sig)
        return f"{signal.Signals(sig).name} to {name}"
    return inject


def after_signal(name: str) -> Callable[[Context], str]:
    def restore(ctx: Context) -> str:
        pid = ctx.signalled.pop(name, 0)  # the process that got the signal (supervisord may start another)
        end, note = time.monotonic() + HANG_S, ""
        while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            threading.Event().wait(0.2)
        if pid and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
            note = f"{name} still running {HANG_S:.0f} s after the signal: SIGKILLed"
        return "; ".join(n for n in (note, bring_back(ctx)) if n)
    return restore


def down_up(ctx: Context) -> str:
    start = time.monotonic()
    for args in (("down", "--mode", "native"), ("up", "--mode", "native", "--no-plano")):
        r = invoke(*args)
        if r.returncode:
            raise SystemExit(f"error: invoke {args[0]} failed: {r.stderr.strip()}")
    return f"`invoke down`, then `up` ({time.monotonic() - start:.1f} s without a collector)"


def steal_port(ctx: Context) -> str:
    """The collector stops; another process takes its OTLP/gRPC port before it starts again."""
    port = ctx.info["ports"]["otlpGrpc"]
    sup = supervisor.Supervisor()
    sup.rpc().stopProcess("collector")
    thief = socket.socket()
    thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    thief.bind((health.host(ctx.info), port))
    thief.listen()  # accepts connections and never answers: what a wrong service on the port does
    ctx.held = thief
    try:
        sup.rpc().startProcess("collector")
    except Exception as err:  # noqa: BLE001 — the expected outcome: it cannot bind
        started = f"start refused ({getattr(err, 'faultString', err)})"
    else:
        started = "started (unexpected)"
    status = invoke("status", "--mode", "native").stdout
    row = next((line for line in status.splitlines() if line.startswith("collector ")), "")
    return f"collector stopped, port {port} taken by this process for {HOLD_S:.0f} s; collector {started}; " \
           f"`invoke status`: {' '.join(row.split())}"


def give_port_back(ctx: Context) -> str:
    threading.Event().wait(HOLD_S)
    if ctx.held is not None:
        ctx.held.close()
        ctx.held = None
    return bring_back(ctx)


def _fill(path: Path, leave: int) -> int:
    """Appends to a file until at most `leave` bytes are free (or none); bytes written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    written = 0
    try:
        while True:
            st = os.statvfs(path)
            free = st.f_bavail * st.f_frsize
            if free <= leave:
                return written
            written += os.write(fd, b"\0" * min(1 << 20, max(free - leave, 4096)))
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        return written
    finally:
        os.close(fd)


def _alert_firing(ctx: Context, name: str, deadline_s: float) -> float | None:
    """Seconds until Prometheus reports the alert firing, or None."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            alerts = requests.get(health.url(ctx.info, "prometheus", "/api/v1/alerts"), timeout=5).json()
            if any(a["labels"]["alertname"] == name and a["state"] == "firing" for a in alerts["data"]["alerts"]):
                return time.monotonic() - start
        except (requests.RequestException, ValueError, KeyError):
            pass
        threading.Event().wait(1.0)
    return None


def fill_disk(ctx: Context) -> str:
    """Fills the disk of the state folder completely."""
    written = _fill(ctx.state / "filler", 0)
    st = os.statvfs(ctx.state)
    return f"state folder ({ctx.tmpfs_mib} MiB tmpfs) full for {HOLD_S:.0f} s ({written >> 20} MiB written, " \
           f"{st.f_bavail * st.f_frsize} bytes left)"


def free_disk(ctx: Context) -> str:
    """Frees the disk, waits for the alert, then restarts Tempo as the alert and
    docs/reliability.md say to: Tempo 3 stops cutting blocks at the first ENOSPC and serves none
    of the traces written since until it restarts."""
    threading.Event().wait(HOLD_S)
    (ctx.state / "filler").unlink(missing_ok=True)
    notes = [bring_back(ctx)]
    fired = _alert_firing(ctx, "PlanoStateDiskWriteFailed", 90)
    notes.append(f"PlanoStateDiskWriteFailed fired {fired:.0f} s after the disk was freed" if fired is not None
                 else "PlanoStateDiskWriteFailed did not fire within 90 s")
    signal_to("tempo", signal.SIGTERM)(ctx)
    notes += ["then Tempo was restarted", after_signal("tempo")(ctx)]
    return "; ".join(n for n in notes if n)


def needs_tmpfs(ctx: Context) -> str | None:
    return None if ctx.tmpfs_mib else "the state folder is not on a tmpfs of its own (needs root to mount one)"


RESET = "the collector restarted: spans it counted after Prometheus's last scrape of it are gone"
FAULTS: list[Fault] = [
    Fault("none", lambda ctx: "no fault", lambda ctx: ""),
    Fault("tempo SIGKILL", signal_to("tempo", signal.SIGKILL), after_signal("tempo")),
    Fault("tempo SIGTERM", signal_to("tempo", signal.SIGTERM), after_signal("tempo")),
    Fault("collector SIGKILL", signal_to("collector", signal.SIGKILL), after_signal("collector"), RESET),
    Fault("collector SIGTERM", signal_to("collector", signal.SIGTERM), after_signal("collector"), RESET),
    Fault("prometheus SIGKILL", signal_to("prometheus", signal.SIGKILL), after_signal("prometheus")),
    Fault("prometheus SIGTERM", signal_to("prometheus", signal.SIGTERM), after_signal("prometheus")),
    Fault("down/up", down_up, lambda ctx: "", RESET),
    Fault("port stolen", steal_port, give_port_back, RESET),
    Fault("state disk full", fill_disk, free_disk, skip=needs_tmpfs),
    Fault("5000 models", lambda ctx: "one replay of 5,000 distinct llm.model values", lambda ctx: "",
          traffic="models"),
]


def tmpfs(state: Path, mib: int) -> int:
    """Mounts a tmpfs of `mib` MiB on the (empty) state folder; its size, or 0 if that is not possible."""
    if os.geteuid() != 0:
        return 0
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=0700", "plano-chaos", str(state)],
                       capture_output=True, text=True)
    return mib if r.returncode == 0 else 0


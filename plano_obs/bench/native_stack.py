"""Native stack benchmark: cold build time per component, warm `invoke up` to all-ready,
and resident memory of the idle stack.

    python -m plano_obs.bench.native_stack [--cold] [--runs N]

--cold builds every component into a fresh cache with an empty Go build cache (the Go
module download cache is shared, so network time is not counted)."""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import generate, paths, settings, supervisor, tools


def machine() -> str:
    cpus = os.cpu_count()
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor())
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    return f"{cpus} cores ({model}), {mem} GiB RAM, {platform.system()} {platform.release()}, {go}"


def cold_builds() -> dict[str, float]:
    versions = settings.load("compose")["versions"]
    manifest = (generate.rendered() / "collector" / "otelcol-builder.yaml").read_text()
    times = {}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as gocache:
        os.environ.update(PLANO_OBS_CACHE=cache, GOCACHE=gocache)
        try:
            for name, build in (("ocb (collector builder)", lambda: tools.ensure(tools.ocb(versions["collector"]))),
                                ("collector (ocb build)", lambda: tools.ensure_collector(versions["collector"], manifest)),
                                ("prometheus + promtool", lambda: tools.ensure(tools.prometheus(versions["prometheus"])))):
                start = time.monotonic()
                build()
                times[name] = time.monotonic() - start
        finally:
            del os.environ["PLANO_OBS_CACHE"], os.environ["GOCACHE"]
    return times


def _invoke(*args: str) -> float:
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"invoke {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return time.monotonic() - start


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def warm_up(runs: int) -> tuple[list[float], dict[str, int]]:
    _invoke("stack.install")
    _invoke("down", "--mode", "native")
    times = []
    for _ in range(runs):
        times.append(_invoke("up", "--mode", "native"))
        _invoke("down", "--mode", "native")
    _invoke("up", "--mode", "native")
    time.sleep(30)  # idle: let start-up allocations settle before reading memory
    sup = supervisor.Supervisor()
    rss = {name: _rss_kib(p["pid"]) for name, p in sup.processes().items() if p["pid"]}
    rss["supervisord"] = _rss_kib(sup.pid())
    _invoke("down", "--mode", "native")
    return times, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also measure cold builds (several minutes)")
    parser.add_argument("--runs", type=int, default=3, help="warm `invoke up` runs")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.cold:
        for name, seconds in cold_builds().items():
            print(f"cold build  {name:<26} {seconds:7.1f} s")
    times, rss = warm_up(args.runs)
    print("warm `invoke up --mode native` to all-ready: " + ", ".join(f"{t:.1f} s" for t in times)
          + f" (best {min(times):.1f} s)")
    for name, kib in sorted(rss.items()):
        print(f"idle RSS    {name:<12} {kib / 1024:7.1f} MiB")
    print(f"idle RSS    {'total':<12} {sum(rss.values()) / 1024:7.1f} MiB")


if __name__ == "__main__":
    main()

"""Native stack benchmark: cold build time per component, warm `invoke up` to all-ready,
and resident memory of the idle stack.

    python -m plano_obs.harness.bench.native_stack [--cold] [--sequential] [--builds-only] [--runs N]

--cold builds every component into a fresh cache folder, with an empty Go build cache, a fresh
pnpm store and npm cache (so the web UI's npm packages are downloaded and counted; the Go module
download cache is shared, so Go network time is not), the way `invoke up` does: the builds at
the same time (binaries.resolve). --sequential builds them one after another instead, each part
alone. --builds-only leaves out the warm `invoke up` runs (they start the stack on its ports)
and times a warm resolve instead (everything cached: nothing is built)."""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from plano_obs.config import generate, paths, settings
from plano_obs.runtime import binaries, prombuild, promui, supervisor, tools


def machine() -> str:
    cpus = os.cpu_count()
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor())
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpus} cores ({model}), {mem} GiB RAM, {platform.system()} {platform.release()}, {go}, Node.js {node}"


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _own() -> float:
    """CPU seconds of this process and every child it waited for."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _busy() -> float:
    """CPU seconds every core has spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class ColdRun:
    steps: dict[str, tuple[float, float | None]]  # label → (wall, CPU seconds) of each build step
    wall: float  # the whole build, as `invoke up` waits for it
    cpu: float  # CPU seconds of this process and everything it ran meanwhile
    others: float  # CPU seconds every other process on the machine used meanwhile
    warm: float  # a resolve right after: everything cached
    promtool: tuple[float, float | None] | None = None  # built afterwards (--sequential): not part of `invoke up`


def cold_builds(sequential: bool) -> ColdRun:
    """Cold builds into fresh caches, timed per step (tools.timings, tools.cpu_seconds). CPU
    seconds are the work, whatever else the machine was doing; `others` says how much that was."""
    versions = settings.load("native")["versions"]
    manifest = (generate.rendered() / "collector" / "otelcol-builder.yaml").read_text()
    saved = {k: os.environ.get(k) for k in ("PLANO_OBS_CACHE", "GOCACHE", "npm_config_cache", "XDG_CACHE_HOME")}
    tools.timings.clear()
    tools.cpu_seconds.clear()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as gocache, \
            tempfile.TemporaryDirectory() as npm:
        os.environ.update(PLANO_OBS_CACHE=cache, GOCACHE=gocache, npm_config_cache=f"{npm}/npm",
                          XDG_CACHE_HOME=f"{npm}/xdg")
        try:
            busy, own, start = _busy(), _own(), time.monotonic()
            if sequential:
                recipe = prombuild.recipe(versions)
                tools.ensure(tools.ocb(versions["collector"]))
                tools.ensure_collector(versions["collector"], manifest)
                promui.pnpm_bin(versions["pnpm"])
                prombuild.ensure(recipe)
            else:
                found = binaries.resolve(versions, manifest)
                for name in ("collector", "prometheus"):
                    if found[name].path is None:
                        raise SystemExit(f"{name} was not built: {found[name].source}")
            wall, cpu = time.monotonic() - start, _own() - own
            others = max(0.0, _busy() - busy - cpu)
            steps = {name: (w, tools.cpu_seconds.get(name)) for name, w in tools.timings.items()}
            start = time.monotonic()
            binaries.resolve(versions, manifest)
            run = ColdRun(steps, wall, cpu, others, time.monotonic() - start)
            if sequential:
                tool = prombuild.ensure_promtool(prombuild.recipe(versions))
                label = f"{tool.name} {tool.version}"
                run.promtool = (tools.timings[label], tools.cpu_seconds.get(label))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return run


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
    parser.add_argument("--sequential", action="store_true", help="cold builds one after another, not at once")
    parser.add_argument("--builds-only", action="store_true", help="no warm `invoke up` runs (they use the stack's ports)")
    parser.add_argument("--runs", type=int, default=3, help="warm `invoke up` runs")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.cold:
        print(f"load average before: {_load()}")
        run = cold_builds(args.sequential)
        for name, (wall, cpu) in run.steps.items():
            print(f"cold build  {name:<44} {wall:7.1f} s" + (f"  ({cpu:.0f} CPU-s)" if cpu is not None else ""))
        how = "one after another" if args.sequential else "at once, as `invoke up` builds"
        print(f"cold build  {'total (' + how + ')':<44} {run.wall:7.1f} s  ({run.cpu:.0f} CPU-s, "
              f"{run.cpu / run.wall:.2f} cores)")
        print(f"other processes meanwhile: {run.others:.0f} CPU-s ({run.others / run.wall:.2f} cores); "
              f"load average after: {_load()}")
        print(f"warm resolve (all cached, nothing built): {run.warm:.1f} s")
        if run.promtool:
            print(f"promtool afterwards (the lint and images need it, `invoke up` does not): "
                  f"{run.promtool[0]:.1f} s ({run.promtool[1] or 0:.0f} CPU-s)")
    if args.builds_only:
        return
    times, rss = warm_up(args.runs)
    print("warm `invoke up --mode native` to all-ready: " + ", ".join(f"{t:.1f} s" for t in times)
          + f" (best {min(times):.1f} s)")
    for name, kib in sorted(rss.items()):
        print(f"idle RSS    {name:<12} {kib / 1024:7.1f} MiB")
    print(f"idle RSS    {'total':<12} {sum(rss.values()) / 1024:7.1f} MiB")


if __name__ == "__main__":
    main()

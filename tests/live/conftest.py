"""Live tests against a running stack (`nox -s smoke`).

The stack is started once for the session (native mode unless PLANO_SMOKE_MODE=compose)
and stopped at the end; PLANO_SMOKE_REUSE=1 uses a stack that is already up and leaves it."""
from __future__ import annotations

import os
import subprocess
import shutil
import sys
import tempfile
import time
from collections import Counter
from typing import Callable

import pytest
import requests

from plano_obs.checks import promql
from plano_obs.config import paths, settings
from plano_obs.runtime import health

# How the suite runs, from its own command-line options (`nox -s smoke -- --mode compose`, set in
# pytest_configure before any test module is imported), else from the environment variables
# named in pytest_addoption, else the defaults.
MODE = "native"
REUSE = KEEP = False
LOCAL_IMAGES = False  # Compose mode with the images `invoke images.build` made
COMPOSE_ENVOY = False  # the dev Envoy and its mock LLM as Compose services (profile dev-envoy)
DEV_ENVOY = True  # the dev Envoy runs: always natively, in Compose only with --dev-envoy

_OPTIONS = (  # (option, environment variable, help)
    ("--reuse", "PLANO_SMOKE_REUSE", "test the stack that is already up, and leave it"),
    ("--keep", "PLANO_SMOKE_KEEP", "leave the stack this run started running"),
    ("--local-images", "PLANO_SMOKE_LOCAL_IMAGES", "Compose mode with the images `invoke images.build` made"),
    ("--dev-envoy", "PLANO_SMOKE_DEV_ENVOY", "Compose mode with the dev Envoy and mock LLM as Compose services"),
)


def pytest_addoption(parser):
    group = parser.getgroup("plano", "the live stack (nox -s smoke -- OPTIONS)")
    group.addoption("--mode", choices=("native", "compose"), default=None,
                    help="start the stack natively (default) or in Compose; env PLANO_SMOKE_MODE")
    for option, var, text in _OPTIONS:
        group.addoption(option, action="store_true", default=False, help=f"{text}; env {var}=1")


def pytest_configure(config):
    """Reads the suite's options (flag, then environment, then default). A stack this suite
    starts gets a state folder of its own: no stale samples from an earlier run (Prometheus
    keeps serving a restarted collector's old counters for 5 minutes), and the user's own .state/
    is left alone. Made when the run starts, not when this file is imported."""
    global MODE, REUSE, KEEP, LOCAL_IMAGES, COMPOSE_ENVOY, DEV_ENVOY
    MODE = config.getoption("--mode") or os.environ.get("PLANO_SMOKE_MODE") or "native"
    flags = {option: config.getoption(option) or os.environ.get(var) == "1" for option, var, _ in _OPTIONS}
    REUSE, KEEP, LOCAL_IMAGES = flags["--reuse"], flags["--keep"], flags["--local-images"]
    COMPOSE_ENVOY = MODE == "compose" and flags["--dev-envoy"]
    DEV_ENVOY = MODE == "native" or COMPOSE_ENVOY
    if not REUSE and MODE == "native" and "PLANO_SMOKE_STATE" not in os.environ:
        os.environ["PLANO_SMOKE_STATE"] = os.environ["PLANO_STATE_DIR"] = tempfile.mkdtemp(prefix="plano-smoke-")


def invoke(*args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "invoke", *args]
    return subprocess.run(cmd, cwd=paths.ROOT, env=dict(os.environ, **(env or {})),
                          capture_output=True, text=True, timeout=timeout)


def wait_for(what: str, probe: Callable[[], object], ok: Callable[[object], bool], deadline_s: float = 30.0,
             interval: float = 0.25):
    """Polls probe() until ok(value) or the deadline; fails with the last value seen."""
    end = time.monotonic() + deadline_s
    last = None
    while True:
        try:
            last = probe()
        except Exception as err:  # connection refused while starting, etc.
            last = err
        if not isinstance(last, Exception) and ok(last):
            return last
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def info() -> dict:
    return settings.load(MODE)


@pytest.fixture(scope="session")
def live(info):
    """The running stack for the whole session."""
    if not REUSE:
        r = invoke("up", "--mode", MODE, *(["--local-images"] if LOCAL_IMAGES else []),
                   *(["--dev-envoy"] if COMPOSE_ENVOY else []))
        assert r.returncode == 0, f"invoke up failed:\n{r.stdout}\n{r.stderr}"
    yield info
    if KEEP and not REUSE:
        print(f"\nstack left running (--keep); state in {os.environ.get('PLANO_STATE_DIR', '.state')}; "
              f"stop it with PLANO_STATE_DIR=… invoke down")
    elif not REUSE:
        r = invoke("down", "--mode", MODE)
        assert r.returncode == 0, r.stderr
        if os.environ.get("PLANO_SMOKE_STATE"):
            shutil.rmtree(os.environ["PLANO_SMOKE_STATE"], ignore_errors=True)


class Prometheus:
    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        resp = requests.get(f"{self.base}/api/v1/query", params=params, timeout=5)
        resp.raise_for_status()
        return resp.json()["data"]["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def by(self, expr: str, labels: tuple[str, ...], at: float | None = None) -> Counter:
        """Each series' value, keyed by the values of `labels` ("" when absent)."""
        return Counter({tuple(r["metric"].get(k, "") for k in labels): float(r["value"][1]) for r in self.query(expr, at)})


def delta(after: Counter, before: Counter) -> Counter:
    """What grew (or shrank) between two readings; unchanged keys left out."""
    return Counter({k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)})


@pytest.fixture(scope="session")
def prom(live) -> Prometheus:
    return Prometheus(f"http://127.0.0.1:{live['ports']['prometheus']}")


def collector_counter(live, key: str) -> float:
    """One of the collector's own counters, by its metricNames key (collectorAccepted, …), from
    its telemetry endpoint: exact now, no scrape delay."""
    return health.collector_counters(live).get(live["metricNames"][key], 0.0)


@pytest.fixture
def settled(live, prom):
    """Waits until every span the collector accepted so far is counted in Prometheus, so a
    test's "before" reading is not taken while an earlier test's spans are still in flight."""
    calls = live["metricNames"]["calls"]
    end = time.monotonic() + 30
    while True:
        accepted = collector_counter(live, "collectorAccepted")
        counted = prom.scalar(f"sum({calls})") or 0.0
        if counted == accepted:
            return
        if time.monotonic() > end:
            if REUSE:  # a collector restarted earlier leaves stale series for 5 minutes
                print(f"\nwarning: Prometheus counts {counted} spans, the collector accepted {accepted}")
                return
            pytest.fail(f"Prometheus counts {counted} spans but the collector accepted {accepted} (after 30 s)")
        time.sleep(0.5)


def scrape_seconds() -> float:
    """The span-metrics scrape interval, which Grafana's Prometheus datasource uses as timeInterval."""
    return promql.seconds(settings.load(MODE)["spanMetricsScrapeInterval"])


# Components whose tests must run: CI sets PLANO_SMOKE_REQUIRE=tempo,brightstaff when it has
# their binaries, so a missing one fails instead of skipping.
REQUIRED = {c.strip() for c in os.environ.get("PLANO_SMOKE_REQUIRE", "").split(",") if c.strip()}


def component(live: dict, name: str) -> str:
    """Base URL of a running component; skips (or fails, when required) if it is not running."""
    if not health.probe(live, name).ok:
        why = (f"{name} is not running (native mode runs it only when its binary is found: "
               f"PLANO_{name.upper()}_BIN or PATH; see docs/native.md)") if MODE == "native" else (
               f"{name} is not running in Compose (no image for it on this engine, or it runs on the host "
               f"in native mode only; `invoke up` said which; see docs/compose.md)")
        if name in REQUIRED:
            pytest.fail(f"{why}, but PLANO_SMOKE_REQUIRE names it")
        pytest.skip(why)
    return health.url(live, live["components"][name]["port"])


def needs(live: dict, expr: str, dashboard: str = "") -> set[str]:
    """The optional components whose metrics a query reads: Tempo (service-graph metrics), the
    dev Envoy (Plano's WASM counter) and the dev Plano (everything on the Brightstaff dashboard)."""
    names = {s.name for s in promql.analyse(expr).selectors}
    graph = {live["metricNames"][k] for k in ("serviceGraphRequests", "serviceGraphFailed", "serviceGraphServerSecondsSum")}
    out = set()
    if names & graph:
        out.add("tempo")
    if live["metricNames"]["rateLimited"] in names and not DEV_ENVOY:
        out.add("envoy")
    if dashboard == "Plano - Brightstaff":
        out.add("brightstaff")
    return out


def runs(live: dict, name: str) -> bool:
    """Whether an optional component runs; fails when PLANO_SMOKE_REQUIRE names it and it does not."""
    if name == "envoy":
        ok = DEV_ENVOY
    else:
        ok = health.probe(live, name).ok
    if not ok and name in REQUIRED:
        pytest.fail(f"{name} is not running, but PLANO_SMOKE_REQUIRE names it")
    return ok


# Lifecycle tests start and stop stacks of their own: they run before the shared one. Tempo's
# exact searches and edges come next, before other tests add traffic; tests that restart the
# shared stack run last.
_ORDER = ("test_lifecycle", "test_tempo")
_LAST = ("test_delivery", "test_persistence")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1]
        if name in _LAST:
            return len(_ORDER) + 1 + _LAST.index(name)
        return _ORDER.index(name) if name in _ORDER else len(_ORDER)
    items.sort(key=rank)

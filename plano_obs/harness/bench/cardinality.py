"""Cardinality benchmark: a flood of distinct `llm.model` values into a collector and a
Prometheus of the bench's own, without and with the cardinality guard, side by side in one run.

    python -m plano_obs.harness.bench.cardinality [--models 5000] [--base-port 29500]

Both runs use the stack's rendered native configs (span_metrics connector, processors,
span-metrics scrape job, rules); "no guard" only removes the connector's cardinality limit and
expirations, the scrape jobs' sample/label limits, and puts the memory limiter back at 80 % of
the host. Each run sends mixed Plano traffic (the baseline), then one `plano(llm)` trace per
distinct model, waits until Prometheus has counted every span, and reads: series of the calls
metric, Prometheus head series, the span-metrics scrape's size, both processes' RSS, and the
overflow alert. Ports are base-port … base-port+9 (29000–29999, away from the dev stack)."""
from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import requests
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from plano_obs.config import settings
from plano_obs.config.render import render
from plano_obs.harness.bench.native_stack import machine
from plano_obs.runtime import binaries, prombuild
from plano_obs.traces import synth

SPAN_JOB = "otel-collector-spanmetrics"
ALERT = "PlanoSpanMetricsCardinalityOverflow"
PORTS = ("otlpHttp", "collectorMetrics", "collectorTelemetry", "collectorHealth", "prometheus")


def _calls() -> str:
    return settings.load("native")["metricNames"]["calls"]


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _configs(guard: bool, ports: dict[str, int]) -> tuple[dict, dict, str, list[str]]:
    """Collector config, Prometheus config, rules and Prometheus flags from the native rendering."""
    files = render("native")
    col = yaml.safe_load(files["native/otel-collector.yaml"])
    prom = yaml.safe_load(files["native/prometheus.yml"])
    pipes = col["service"]["pipelines"]
    used = set(pipes["traces"]["processors"]) | set(pipes["metrics/span_metrics"]["processors"])
    connector = copy.deepcopy(col["connectors"]["span_metrics"])
    processors = {k: v for k, v in col["processors"].items() if k in used}
    if not guard:
        for key in ("aggregation_cardinality_limit", "series_expiration", "metrics_expiration"):
            connector.pop(key, None)
        processors["memory_limiter"] = {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25}
    collector = {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports['collectorHealth']}"}},
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{ports['otlpHttp']}"}}}},
        "processors": processors,
        "connectors": {"span_metrics": connector},
        "exporters": {"prometheus": {**col["exporters"]["prometheus"], "endpoint": f"127.0.0.1:{ports['collectorMetrics']}"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "normal", "readers": [{"pull": {"exporter": {"prometheus": {
                "host": "127.0.0.1", "port": ports["collectorTelemetry"]}}}}]}},
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": pipes["traces"]["processors"], "exporters": ["span_metrics"]},
                "metrics/span_metrics": pipes["metrics/span_metrics"],
            },
        },
    }
    targets = {SPAN_JOB: "collectorMetrics", "otel-collector": "collectorTelemetry", "prometheus": "prometheus"}
    jobs = []
    for job in prom["scrape_configs"]:
        if job["job_name"] in targets:
            job = {**job, "static_configs": [{"targets": [f"127.0.0.1:{ports[targets[job['job_name']]]}"]}]}
            if not guard:
                job = {k: v for k, v in job.items() if k not in ("sample_limit", "label_limit")}
            jobs.append(job)
    prometheus = {**prom, "scrape_configs": jobs}
    flags = [f for f in json.loads(files["native/processes.json"])["prometheus"]["args"]
             if not f.startswith(("--config.file", "--storage.tsdb.path", "--web.listen-address"))]
    return collector, prometheus, files["native/rules.yml"], flags + [f"--web.listen-address=127.0.0.1:{ports['prometheus']}"]


def _rss_mib(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _wait(what: str, ok: Callable[[], bool], deadline_s: float, logs: list[Path]) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if ok():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:]) for p in logs)
    raise SystemExit(f"timed out after {deadline_s:.0f} s waiting for {what}\n{tails}")


class _Run:
    """One collector and one Prometheus, started in a temporary folder and stopped on exit."""

    def __init__(self, guard: bool, ports: dict[str, int], tmp: Path) -> None:
        self.ports, self.tmp, self.procs, self.files = ports, tmp, {}, []
        self.collector_cfg, prom_cfg, rules, self.flags = _configs(guard, ports)
        (tmp / "otel-collector.yaml").write_text(yaml.safe_dump(self.collector_cfg, sort_keys=False))
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_cfg, sort_keys=False))
        (tmp / "rules.yml").write_text(rules)
        self.logs = [tmp / "collector.log", tmp / "prometheus.log"]

    def __enter__(self) -> _Run:
        info = settings.load("native")
        col = binaries.stack_collector()
        prom = prombuild.ensure(prombuild.recipe(info["versions"])).binary()
        try:
            for name, cmd, log in (
                    ("collector", [str(col), f"--config={self.tmp / 'otel-collector.yaml'}"], self.logs[0]),
                    ("prometheus", [str(prom), f"--config.file={self.tmp / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={self.tmp / 'data'}", *self.flags], self.logs[1])):
                self.files.append(log.open("wb"))
                self.procs[name] = subprocess.Popen(cmd, stdout=self.files[-1], stderr=subprocess.STDOUT,
                                                    start_new_session=True)
            _wait("the collector", lambda: requests.get(self._url("collectorHealth", "/"), timeout=2).ok, 30, self.logs)
            _wait("Prometheus", lambda: requests.get(self._url("prometheus", "/-/ready"), timeout=2).ok, 60, self.logs)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for f in self.files:
            f.close()

    def _url(self, port: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}{path}"

    def send(self, reqs: list[ExportTraceServiceRequest]) -> int:
        spans = 0
        for req in reqs:
            r = requests.post(self._url("otlpHttp", "/v1/traces"), data=req.SerializeToString(),
                              headers={"Content-Type": "application/x-protobuf"}, timeout=30)
            r.raise_for_status()
            spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        return spans

    def query(self, expr: str) -> float:
        result = requests.get(self._url("prometheus", "/api/v1/query"), params={"query": expr}, timeout=10).json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def counted(self, spans: int) -> None:
        """Waits until Prometheus has scraped a count of every span sent."""
        _wait(f"Prometheus to count {spans} spans", lambda: self.query(f"sum({_calls()})") >= spans,
              120, self.logs)

    def alert_state(self) -> str:
        alerts = requests.get(self._url("prometheus", "/api/v1/alerts"), timeout=10).json()["data"]["alerts"]
        return next((a["state"] for a in alerts if a["labels"]["alertname"] == ALERT), "inactive")

    def measure(self) -> dict[str, object]:
        text = requests.get(self._url("collectorMetrics", "/metrics"), timeout=60).content
        tsdb = requests.get(self._url("prometheus", "/api/v1/status/tsdb"), timeout=10).json()["data"]
        col_rss, col_peak = _rss_mib(self.procs["collector"].pid)
        prom_rss, prom_peak = _rss_mib(self.procs["prometheus"].pid)
        job = f'{{job="{SPAN_JOB}"}}'
        return {
            "calls series": int(self.query(f"count({_calls()})")),
            "overflow spans": int(self.query(f'sum({_calls()}{{otel_metric_overflow="true"}})')),
            "spans counted": int(self.query(f"sum({_calls()})")),
            "head series": tsdb["headStats"]["numSeries"],
            "samples/scrape": int(self.query(f"scrape_samples_scraped{job}")),
            "scrape MB (proto)": self.query(f"scrape_body_size_bytes{job}") / 1e6,
            "/metrics MB (text)": len(text) / 1e6,
            "refused spans": int(sum(float(line.split()[-1]) for line in requests.get(
                self._url("collectorTelemetry", "/metrics"), timeout=10).text.splitlines()
                if line.startswith(settings.load("native")["metricNames"]["collectorRefused"]))),
            "collector RSS MiB": col_rss, "collector peak MiB": col_peak,
            "Prometheus RSS MiB": prom_rss, "Prometheus peak MiB": prom_peak,
            "overflow alert": self.alert_state(),
        }


def flood(models: int, batch: int = 250) -> list[ExportTraceServiceRequest]:
    """One successful direct `plano(llm)` call per distinct model (with its routing and egress
    spans), as synth shapes brightstaff's: exactly one new calls series per model."""
    start, out = time.time_ns(), []
    for first in range(0, models, batch):
        req = ExportTraceServiceRequest()
        for i in range(first, min(models, first + batch)):
            opts = synth.Options(models=[f"openai/bench-model-{i:05d}"], agent_share=0, error_share=0,
                                 ratelimit_share=0, rps=1, duration_s=1, seed=i)
            req.resource_spans.extend(synth.generate(opts, start)[0].resource_spans)
        out.append(req)
    return out


def run(guard: bool, models: int, ports: dict[str, int]) -> dict[str, dict[str, object]]:
    baseline = synth.generate(synth.Options(seed=1, rps=20, duration_s=5), time.time_ns())
    with tempfile.TemporaryDirectory(prefix="plano-bench-cardinality-") as tmp, _Run(guard, ports, Path(tmp)) as r:
        sent = base = r.send(baseline)
        r.counted(sent)
        # every job scraped once more after the baseline, so the head holds all its series
        since = time.time()
        _wait("a scrape of every job", lambda: r.query(f"count(timestamp(up) > {since})") == 3, 60, r.logs)
        before = r.measure()
        start = time.monotonic()
        sent += r.send(flood(models))
        send_s = time.monotonic() - start
        r.counted(sent)
        if r.query(f'sum({_calls()}{{otel_metric_overflow="true"}})') > 0:
            # the rule is evaluated every evaluation_interval
            _wait(f"{ALERT} to fire", lambda: r.alert_state() == "firing", 60, r.logs)
        time.sleep(10)
        after = r.measure()
        after["spans sent"], before["spans sent"] = sent, base
        print(f"  {'guard' if guard else 'no guard'}: {models} models sent in {send_s:.1f} s", flush=True)
        return {"before": before, "after": after}


def _table(results: dict[str, dict[str, dict[str, object]]]) -> str:
    cols = [(name, phase) for name in results for phase in ("before", "after")]
    rows = list(next(iter(results.values()))["after"])
    head = f"{'':<22}" + "".join(f"{name + ' ' + phase:>20}" for name, phase in cols)
    lines = [head]
    for row in rows:
        cells = []
        for name, phase in cols:
            v = results[name][phase].get(row, "")
            cells.append(f"{v:>20,.1f}" if isinstance(v, float) else f"{v:>20,}" if isinstance(v, int) else f"{v:>20}")
        lines.append(f"{row:<22}" + "".join(cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5000, help="distinct llm.model values (default 5000)")
    parser.add_argument("--base-port", type=int, default=29500, help="first of 10 ports, within 29000-29999 (default 29500)")
    args = parser.parse_args()
    if not 29000 <= args.base_port <= 29990:
        used = sorted(settings.load("native")["ports"].values())
        parser.error(f"--base-port must be within 29000-29990 (the dev stack's ports are {used[0]}-{used[-1]})")
    print(f"machine: {machine()}", flush=True)
    results = {}
    for i, (name, guard) in enumerate((("no guard", False), ("guard", True))):
        ports = {p: args.base_port + 5 * i + k for k, p in enumerate(PORTS)}
        busy = [p for p in ports.values() if not _free(p)]
        if busy:
            raise SystemExit(f"ports {busy} are in use — pick other ones with --base-port")
        results[name] = run(guard, args.models, ports)
    print(_table(results))


if __name__ == "__main__":
    main()

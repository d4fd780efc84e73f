"""What the scale-out tests share: salted copies of the fixtures (trace ids known in advance),
a replay into any OTLP/gRPC endpoint, the span count Tempo returns per trace, the collector's
own span counters, and the service-graph edges the fixtures make versus those a Tempo drew."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from plano_obs.config import paths, settings
from tests.fixtures.counts import FIXTURES, edges, spans_per_trace, with_new_ids


def replay(endpoint: str, file: Path, *extra: str) -> subprocess.Popen:
    """`invoke traces.replay` of a salted file (ids kept) into `endpoint`, in the background."""
    return subprocess.Popen([sys.executable, "-m", "invoke", "traces.replay", str(file), "--speed", "0", "--keep-ids",
                             "--json", "--endpoint", endpoint, *extra],
                            cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def salted(folder: Path, salt: str, fixture: str, copies: int = 1) -> tuple[Path, dict[str, int], dict[str, str]]:
    """One file holding `copies` salted copies of a fixture; its trace ids and span counts. One
    fixture a file: a replay keeps the gaps between a file's records, and the fixtures were
    recorded at different times, so together the older ones would land far in the past."""
    out = folder / f"{salt}-{Path(fixture).stem}.jsonl"
    spans, old, lines = {}, {}, []
    for i in range(copies):
        part = folder / f"{salt}-{i}-{Path(fixture).stem}.jsonl"
        mapping = with_new_ids(FIXTURES[fixture], part, f"{salt}{i}")
        spans.update({mapping[t]: n for t, n in spans_per_trace(FIXTURES[fixture]).items()})
        if i == 0:
            old.update(mapping)
        lines.append(part.read_text())
    out.write_text("".join(lines))
    return out, spans, old


def span_ids(base: str, tid: str) -> Counter:
    """How often the Tempo at `base` returns each span id of one trace (empty when it has none):
    a span delivered twice (at-least-once, after a fault) is returned twice."""
    r = requests.get(f"{base}/api/v2/traces/{tid}", timeout=10)
    if r.status_code == 404:
        return Counter()
    r.raise_for_status()
    body = r.json().get("trace", {})
    return Counter(span["spanId"] for rs in body.get("resourceSpans", []) for ss in rs.get("scopeSpans", [])
                   for span in ss.get("spans", []))


def span_count(base: str, tid: str) -> int:
    """Spans the Tempo at `base` returns for one trace (0 when it has none)."""
    return sum(span_ids(base, tid).values())


def span_counts(base: str, want: dict[str, int]) -> dict[str, int]:
    return {tid: span_count(base, tid) for tid in want}


def wait_whole(base: str, want: dict[str, int], what: str, deadline_s: float = 120.0) -> dict[str, int]:
    """Waits until the Tempo at `base` returns every trace of `want` with exactly its span count,
    then reads them all once more (a trace seen whole must still be whole), and returns those
    counts. Each round asks only for the traces not yet seen whole, so a slow query path cannot
    eat the deadline by re-reading hundreds of finished traces. On timeout it fails with what is
    wrong: how many traces are missing, short or over-counted, with examples."""
    end = time.monotonic() + deadline_s
    got: dict[str, int | str] = {}
    pending = list(want)
    while True:
        for tid in pending:
            try:
                got[tid] = span_count(base, tid)
            except requests.RequestException as err:  # a 5xx or timeout while a component restarts
                got[tid] = f"error: {err}"
        pending = [t for t in want if got.get(t) != want[t]]
        if not pending:
            final = span_counts(base, want)
            if final == want:
                return final
            got.update(final)
            pending = [t for t in want if final[t] != want[t]]
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what} at {base}: {whole_summary(got, want)}")
        time.sleep(1)


def whole_summary(got: dict, want: dict[str, int]) -> str:
    """One line on how `got` (span count or error per trace) differs from `want`."""
    bad = {t: got.get(t) for t in want if got.get(t) != want[t]}
    kinds = Counter("error" if isinstance(v, str) or v is None else "missing" if v == 0
                    else "short" if v < want[t] else "over-counted" for t, v in bad.items())
    examples = ", ".join(f"{t}: {bad[t]!r} of {want[t]}" for t in list(bad)[:5])
    return (f"{len(want) - len(bad)} of {len(want)} traces whole; {dict(kinds)}; "
            f"spans returned {sum(v for v in got.values() if isinstance(v, int))} of {sum(want.values())}; e.g. {examples}")


def collector_counters(metrics_url: str) -> Counter:
    """A collector's own span counters from its telemetry endpoint, per exporter (and the
    receiver's): exact now, no scrape delay."""
    out: Counter = Counter()
    for line in requests.get(metrics_url, timeout=5).text.splitlines():
        m = re.match(r'(otelcol_(?:receiver_accepted|receiver_refused|exporter_sent|exporter_send_failed)_spans)[^{ ]*(?:\{(.*)\})? (\S+)$',
                     line)
        if m:
            exporter = re.search(r'exporter="([^"]+)"', m.group(2) or "")
            out[m.group(1) + (f"[{exporter.group(1)}]" if exporter else "")] += float(m.group(3))
    return out


def drawn_edges(prometheus_url: str, metric: str, source: str) -> Counter:
    """A Tempo's service-graph edges (by client, server) as its metrics-generator wrote them."""
    r = requests.get(f"{prometheus_url}/api/v1/query",
                     params={"query": f'sum by (client, server) ({metric}{{source="{source}"}})'}, timeout=10)
    r.raise_for_status()
    return Counter({(x["metric"].get("client"), x["metric"].get("server")): float(x["value"][1])
                    for x in r.json()["data"]["result"]})


def expected_edges(copies: int, fixtures: tuple[str, ...] = tuple(FIXTURES)) -> dict[str, dict]:
    """The edges the single-node stack's Tempo draws for `copies` replays of the fixtures, read
    from the fixtures with the stack's own service-graph rules: {"total"|"failed": {edge: n}}."""
    rules = settings.load("native")["serviceGraph"]
    want = {"total": Counter(), "failed": Counter()}
    for path in (FIXTURES[f] for f in fixtures):
        for kind, counter in edges(path, rules["clients"], rules["roots"]).items():
            want[kind].update(counter)
    return {k: {e: float(n * copies) for e, n in v.items()} for k, v in want.items()}

"""Prometheus's own web UI, in a real browser: headless Chromium opens the query page with a
dashboard's query in the table view and the table shows, for a model the replayed file names,
the value Prometheus's API gives. Native mode builds the UI from Prometheus's sources
(docs/native.md#prometheus-and-its-web-ui); this is what proves it is there and works.

A screenshot is kept in $PLANO_SMOKE_ARTIFACTS (else a temporary folder), printed by the test.
Without Chromium (Debian's `chromium`, or $PLANO_CHROMIUM) the test skips, unless
PLANO_SMOKE_REQUIRE names `chromium`."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

from plano_obs.checks import grafana
from tests.fixtures.counts import FIXTURES, counts
from tests.live.chromium import TABLE_ROWS, Chromium, executable
from tests.live.conftest import REQUIRED, delta, invoke, scrape_seconds, wait_for

PANEL = "Cumulative Request Count"  # Requests Overview: LLM calls per model, an instant query


def _chromium() -> str:
    binary = executable()
    missing = None if binary else "Chromium is not installed (`apt-get install chromium`, or set PLANO_CHROMIUM)"
    if binary:
        try:
            import websocket  # noqa: F401  (the `test` extra)
        except ImportError:
            missing = "websocket-client is not installed (`pip install -e '.[test]'`)"
    if missing:
        if "chromium" in REQUIRED:
            pytest.fail(f"{missing}, but PLANO_SMOKE_REQUIRE names chromium")
        pytest.skip(missing)
    return binary


def _artifacts() -> Path:
    return Path(os.environ.get("PLANO_SMOKE_ARTIFACTS") or tempfile.mkdtemp(prefix="plano-smoke-artifacts-"))


def test_the_query_page_shows_a_dashboard_query_as_a_table(live, prom, settled):
    binary = _chromium()
    (query,) = [q for q in grafana.queries(15 * 60, scrape_seconds()) if q.panel == PANEL]
    fixture = FIXTURES["plano-direct.json"]
    want = {(m,): n for m, n in counts(fixture)["model"].items()}  # LLM calls per model in the file
    model = max(want, key=want.get)[0]
    by_model = lambda: prom.by(query.expr, ("llm_model",))
    before = by_model()
    r = invoke("traces.replay", str(fixture), "--speed", "0")
    assert r.returncode == 0, r.stderr
    wait_for(f"the file's calls counted {want}", lambda: delta(by_model(), before), lambda d: d == want)
    api = by_model()

    url = f"{prom.base}/query?" + urlencode({"g0.expr": query.expr, "g0.tab": "table"})
    with Chromium(binary) as browser:
        browser.open(url)
        rows = browser.wait_for(f"the table of {PANEL} with {model}", TABLE_ROWS,
                                lambda rows: any(f'llm_model="{model}"' in row[0] for row in rows if row))
        shot = browser.screenshot(_artifacts() / "prometheus-query-table.png")
        title = browser.evaluate("document.title")
    print(f"\nscreenshot of {url}: {shot}")
    shown = {row[0]: row[1] for row in rows if len(row) == 2}
    (series,) = [name for name in shown if f'llm_model="{model}"' in name]
    assert float(shown[series]) == api[(model,)], f"the UI shows {shown[series]}, the API {api[(model,)]}"
    assert len(shown) == len(api), f"the UI shows {sorted(shown)}, the API {sorted(api)}"
    assert "Prometheus" in title, title

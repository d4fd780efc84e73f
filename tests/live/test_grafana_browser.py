"""Every provisioned dashboard in a real browser, in a real Grafana: headless Chromium opens each
dashboard after known traffic, waits until every panel has loaded, and finds no panel in error.
Runs wherever Grafana runs (native mode with PLANO_GRAFANA_BIN, or Compose with its image); on
this project's build machines there is no Grafana, so it skips with that reason (the requests
Grafana would send are proven without it in test_grafana_requests.py).

The page is read through the test ids Grafana's own end-to-end tests use (`data-testid Panel
header <title>`, `data-testid Panel status error`, the `Panel loading bar` label)."""
from __future__ import annotations

import base64
import json

import pytest

from plano_obs.checks import grafana
from plano_obs.runtime import secrets
from tests.fixtures.counts import FIXTURES
from tests.live.chromium import Chromium
from tests.live.conftest import component, invoke
from tests.live.test_browser import _artifacts, _chromium

PANELS = "document.querySelectorAll('[data-testid^=\"data-testid Panel header \"]').length"
LOADING = "document.querySelectorAll('[aria-label=\"Panel loading bar\"]').length"
ERRORS = ("Array.from(document.querySelectorAll('[data-testid=\"data-testid Panel status error\"]'))"
          ".map(e => (e.closest('[data-viz-panel-key]') || e).innerText.slice(0, 200))")


@pytest.mark.parametrize("dashboard", grafana.load(), ids=lambda d: d["uid"])
def test_every_panel_of_the_dashboard_loads_without_error(dashboard, live, settled):
    base = component(live, "grafana")  # skips here: no Grafana on this project's machines
    binary = _chromium()
    r = invoke("traces.replay", str(FIXTURES["plano-mixed.jsonl"]), "--speed", "0")
    assert r.returncode == 0, r.stderr
    password = secrets.read(secrets.env_file())[secrets.VARIABLE]
    token = base64.b64encode(f"{live['grafanaUser']}:{password}".encode()).decode()
    panels = len(list(grafana.panels(dashboard)))
    with Chromium(binary) as browser:
        browser.call("Network.enable")
        browser.call("Network.setExtraHTTPHeaders", headers={"Authorization": f"Basic {token}"})
        browser.open(f"{base}/d/{dashboard['uid']}?orgId=1&from=now-15m&to=now")
        browser.wait_for(f"the {panels} panels of {dashboard['title']}", f"[{PANELS}, {LOADING}]",
                         lambda v: v[0] == panels and v[1] == 0, deadline_s=60)
        errors = browser.evaluate(ERRORS)
        shot = browser.screenshot(_artifacts() / f"grafana-{dashboard['uid']}.png")
    print(f"\nscreenshot: {shot}")
    assert errors == [], json.dumps(errors, indent=2)

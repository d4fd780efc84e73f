"""The scale-out run (`nox -s scale`): its parts start once per module, as local processes on
the ports of _config.gatewayTier, and stop at the end."""
from __future__ import annotations

import pytest

from plano_obs.config import settings
from plano_obs.harness.scale import gateways


@pytest.fixture(scope="module")
def tier(tmp_path_factory):
    running = gateways.up(tmp_path_factory.mktemp("scale"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def scale() -> dict:
    return gateways.info()


@pytest.fixture(scope="session")
def names() -> dict:
    return settings.load("native")["metricNames"]

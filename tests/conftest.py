import json
from pathlib import Path

import pytest

from plano_obs.config import render


@pytest.fixture(scope="session")
def rendered() -> dict[str, dict[str, str]]:
    """Default renderings of both modes (no user overrides)."""
    return {mode: render.render(mode) for mode in render.MODES}


@pytest.fixture
def override(tmp_path: Path):
    """Writes an override mixin and returns its path."""
    def write(text: str) -> Path:
        p = tmp_path / "local.libsonnet"
        p.write_text(text)
        return p
    return write


@pytest.fixture(scope="session")
def dashboard(rendered) -> dict:
    return json.loads(rendered["compose"]["dashboards/plano-requests-overview.json"])

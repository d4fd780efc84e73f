"""The development Plano: its config, rendered by Plano's own `planoai` package (the same
renderer `planoai up` uses), into what brightstaff reads. Nothing here imitates Plano: the
config is Plano's format and the renderer and binary are Plano's."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from plano_obs.errors import PlanoError

RENDERED = "plano_config_rendered.yaml"


class DevPlanoError(PlanoError):
    """Plano's config could not be rendered."""


def _planoai_data() -> Path:
    try:
        import planoai
    except ImportError as err:
        raise DevPlanoError("the planoai package is not installed", "`pip install -e .` installs it") from err
    return Path(planoai.__file__).parent / "data"


def render(config: Path, out_dir: Path) -> Path:
    """Renders `config` (Plano's plano_config.yaml) into out_dir; returns the rendered file.
    planoai reads its inputs from environment variables and validates against Plano's schema."""
    data = _planoai_data()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PLANO_CONFIG_FILE=str(config),
               PLANO_CONFIG_SCHEMA_FILE=str(data / "plano_config_schema.yaml"), TEMPLATE_ROOT=str(data),
               ENVOY_CONFIG_TEMPLATE_FILE="envoy.template.yaml",
               PLANO_CONFIG_FILE_RENDERED=str(out_dir / RENDERED), ENVOY_CONFIG_FILE_RENDERED=str(out_dir / "envoy.yaml"))
    code = "from planoai.config_generator import validate_and_render_schema as r; r()"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    (out_dir / "render.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0 or not (out_dir / RENDERED).exists():
        lines = [ln for ln in (r.stderr or r.stdout).strip().splitlines() if ln.strip()]
        raise DevPlanoError(f"planoai could not render {config}: {lines[-1] if lines else 'no output'}",
                            f"full output in {out_dir / 'render.log'}")
    return out_dir / RENDERED

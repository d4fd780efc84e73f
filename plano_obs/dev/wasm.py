"""The development Envoy's proxy-wasm filter: WebAssembly text in envoy/, compiled at build
time (no binary is committed) with wasmtime's wat2wasm."""
from __future__ import annotations

import os
from pathlib import Path

from plano_obs.config import paths
from plano_obs.errors import ToolError

SOURCE = paths.ROOT / "envoy" / "plano-ratelimit.wat"


def build(out_dir: Path) -> Path:
    """Compiles the filter into out_dir unless the .wasm there is newer than its source."""
    out = out_dir / "plano-ratelimit.wasm"
    if out.exists() and out.stat().st_mtime >= SOURCE.stat().st_mtime:
        return out
    import wasmtime
    try:
        binary = wasmtime.wat2wasm(SOURCE.read_text())
    except Exception as err:  # wasmtime raises its own error types with the line and column
        raise ToolError(f"{SOURCE.relative_to(paths.ROOT)}: does not compile: {str(err).strip().splitlines()[0]}") from err
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(binary)
    os.replace(tmp, out)
    return out

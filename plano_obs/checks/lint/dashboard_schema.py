"""Grafana's own schema as a judge, without Grafana: every generated dashboard is written as a
TypeScript value typed `Dashboard` from `@grafana/schema` (the release matching the pinned
Grafana) and checked with `tsc --strict --noEmit`. Node comes from the machine; the two npm
packages are installed once, at their pins (_config.versions.grafanaSchema, .typescript), into
the cache.

One documented exception (docs/dashboards.md#schema): fields the schema types as a TypeScript
enum (`ThresholdsMode`) hold the enum's string value in JSON, which TypeScript will not assign
to an enum type; the checked file writes them as the enum member whose value that string is,
so a value that is no member still fails."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from plano_obs.config import paths, settings
from plano_obs.errors import ToolError

# JSON key → (TypeScript enum, {JSON value: enum member}) for the schema's enum-typed fields.
ENUMS = {"mode": ("ThresholdsMode", {"absolute": "Absolute", "percentage": "Percentage"})}


def toolchain() -> Path:
    """The folder with node_modules holding the pinned @grafana/schema and typescript."""
    versions = settings.load("compose")["versions"]
    folder = paths.cache_dir() / "node" / f"grafana-schema-{versions['grafanaSchema']}-ts-{versions['typescript']}"
    if (folder / ".complete").exists():
        return folder
    if shutil.which("npm") is None:
        raise ToolError("npm is not installed — the dashboard schema check needs Node.js and npm",
                        "install Node.js 18+ (e.g. `apt-get install nodejs npm`)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": "plano-dashboard-schema-check", "private": True}))
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--save-exact",
                        f"@grafana/schema@{versions['grafanaSchema']}", f"typescript@{versions['typescript']}"],
                       cwd=folder, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise ToolError(f"npm install of @grafana/schema {versions['grafanaSchema']} failed: "
                        f"{(r.stderr or r.stdout).strip().splitlines()[-1]}", "check the npm registry is reachable")
    (folder / ".complete").write_text("")
    return folder


def to_typescript(value: object, key: str | None = None) -> str:
    """A JSON value as a TypeScript expression, enum-typed fields as enum members."""
    if key in ENUMS and isinstance(value, str) and value in ENUMS[key][1]:
        return f"{ENUMS[key][0]}.{ENUMS[key][1][value]}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_typescript(v, k)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_typescript(v) for v in value) + "]"
    return json.dumps(value)


def source(dashboards: dict[str, dict]) -> str:
    enums = sorted({e for e, _ in ENUMS.values()})
    lines = [f"import {{ {', '.join(enums)} }} from '@grafana/schema';", "import type { Dashboard } from '@grafana/schema';", ""]
    for name, dash in sorted(dashboards.items()):
        lines.append(f"// {name}")
        lines.append(f"export const {re.sub(r'[^A-Za-z0-9]', '_', name)}: Dashboard = {to_typescript(dash)};")
    return "\n".join(lines) + "\n"


def check(dashboards: dict[str, dict]) -> list[str]:
    """tsc's findings, one line each, naming the dashboard."""
    folder = toolchain()
    check_file = folder / "dashboards.ts"
    text = source(dashboards)
    check_file.write_text(text)
    names = [line[3:] for line in text.splitlines() if line.startswith("// ")]
    tsc = folder / "node_modules" / ".bin" / "tsc"
    r = subprocess.run([str(tsc), "--strict", "--noEmit", "--moduleResolution", "bundler", "--module", "esnext",
                        "--target", "es2022", "--skipLibCheck", check_file.name], cwd=folder, capture_output=True, text=True,
                       timeout=300)
    problems = []
    for line in r.stdout.splitlines():
        m = re.match(r"dashboards\.ts\((\d+),\d+\): error (TS\d+): (.*)", line)
        if m:
            # the dashboard whose `export const` line the error is on (one line per dashboard)
            index = (int(m.group(1)) - 5) // 2
            problems.append(f"{names[index] if 0 <= index < len(names) else '?'}: {m.group(2)} {m.group(3)}")
    if r.returncode and not problems:
        problems.append(f"tsc failed: {(r.stdout + r.stderr).strip().splitlines()[-1]}")
    return problems

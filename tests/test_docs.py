"""Docs that cannot drift: every config knob, task and nox session is on its reference page."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import _jsonnet

from plano_obs import paths

LEAVES = """
local c = (import 'config.libsonnet')._config;
local leaves(o, p) = std.flattenArrays([
  if std.isObject(o[k]) then leaves(o[k], p + k + '.') else [p + k]
  for k in std.objectFields(o)
]);
leaves(c, '')
"""


def _documented(page: str) -> set[str]:
    return set(re.findall(r"`([^`\s]+)`", (paths.ROOT / "docs" / page).read_text()))


def test_every_config_knob_is_in_configuration_md():
    leaves = json.loads(_jsonnet.evaluate_snippet("leaves", LEAVES, jpathdir=[str(paths.STACK)]))
    names = _documented("configuration.md")

    def covered(leaf: str) -> bool:
        """`a.b.c` is documented as itself, as `a.b` (a group documented whole) or `a.*`/`a.b.*`;
        a top-level object is never documented by its bare name alone."""
        parts = leaf.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if f"{prefix}.*" in names or ((i >= 2 or len(parts) == 1) and prefix in names):
                return True
        return False

    missing = [leaf for leaf in leaves if not covered(leaf)]
    assert not missing, f"_config keys missing from docs/configuration.md: {missing}"


def _invoke_tasks() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "invoke", "--list", "--list-format", "json"], cwd=paths.ROOT,
                         capture_output=True, text=True, check=True).stdout
    tree = json.loads(out)

    def walk(coll: dict, prefix: str) -> set[str]:
        names = {prefix + t["name"] for t in coll.get("tasks", [])}
        for sub in coll.get("collections", []):
            names |= walk(sub, prefix + sub["name"] + ".")
        return names

    return walk(tree, "")


def test_every_task_is_in_tasks_md():
    text = (paths.ROOT / "docs" / "tasks.md").read_text()
    missing = [t for t in sorted(_invoke_tasks()) if f"invoke {t}" not in text and f"`{t}`" not in text
               and f"= `stack.{t}`" not in text and f"(= `{t}`)" not in text]
    assert not missing, f"tasks missing from docs/tasks.md: {missing}"


def test_every_nox_session_is_documented():
    text = (paths.ROOT / "docs" / "tasks.md").read_text() + (paths.ROOT / "README.md").read_text()
    out = subprocess.run([sys.executable, "-m", "nox", "--list"], cwd=paths.ROOT,
                         capture_output=True, text=True, check=True).stdout
    # "* lint -> …" (selected by default) and "- bench -> …" (on request); --json lists only the first
    sessions = set(re.findall(r"^[*-] (\S+) ->", out, flags=re.M))
    assert {"lint", "tests", "smoke"} <= sessions
    missing = [s for s in sorted(sessions) if f"nox -s {s}" not in text]
    assert not missing, f"nox sessions missing from docs/tasks.md: {missing}"

"""Docs that cannot drift: every config knob, task and nox session is on its reference page."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import rjsonnet

from plano_obs.config import paths

LEAVES = """
local c = ((import '../mixin/config.libsonnet') + (import 'config.libsonnet') + (import 'dev-tools.libsonnet')
           + (import 'topologies.libsonnet'))._config;
local leaves(o, p) = std.flattenArrays([
  if std.isObject(o[k]) then leaves(o[k], p + k + '.') else [p + k]
  for k in std.objectFields(o)
]);
leaves(c, '')
"""


def _documented(page: str) -> set[str]:
    return set(re.findall(r"`([^`\s]+)`", (paths.ROOT / "docs" / page).read_text()))


def test_every_config_knob_is_in_configuration_md():
    leaves = json.loads(rjsonnet.evaluate_snippet("leaves", LEAVES, jpathdir=[str(paths.STACK)]))
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
    """Every name `invoke` accepts: tasks as `invoke --list` shows them, and the short name of
    each collection's default task (`invoke traffic` = `traffic.send`)."""
    out = subprocess.run([sys.executable, "-m", "invoke", "--list"], cwd=paths.ROOT,
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for name, alias in re.findall(r"^  ([a-z][\w.-]*)(?: \(([^)]*)\))?", out, flags=re.M):
        names.add(name)
        names |= {a.strip() for a in alias.split(",") if a.strip()}
    return names


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


def _nox_sessions() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "nox", "--list"], cwd=paths.ROOT,
                         capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"^[*-] (\S+) ->", out, flags=re.M))


def test_every_command_a_doc_names_exists():
    """`invoke X` and `nox -s Y` in README.md and docs/ name tasks and sessions that exist."""
    tasks, sessions = _invoke_tasks(), _nox_sessions()
    aliases = {t.split(".", 1)[1] for t in tasks if "." in t}  # stack.up is also `up`
    wrong = []
    for page in [paths.ROOT / "README.md", *sorted((paths.ROOT / "docs").glob("*.md"))]:
        for code in re.findall(r"`([^`\n]+)`", page.read_text()):
            for name in re.findall(r"(?:^|&& |; )(?:python3? -m )?invoke ([a-z][\w.-]*)", code):
                if name not in tasks and name not in aliases:
                    wrong.append(f"{page.name}: invoke {name}")
            for name in re.findall(r"nox -s ([a-z]\w*)", code):
                if name not in sessions:
                    wrong.append(f"{page.name}: nox -s {name}")
    assert not wrong, f"docs name commands that do not exist: {sorted(set(wrong))}"


def test_every_task_option_is_in_tasks_md():
    text = (paths.ROOT / "docs" / "tasks.md").read_text() + (paths.ROOT / "docs" / "traces.md").read_text()
    missing = []
    for task in sorted(_invoke_tasks()):
        helped = subprocess.run([sys.executable, "-m", "invoke", "--help", task], cwd=paths.ROOT,
                                capture_output=True, text=True).stdout
        for option in re.findall(r"^\s+(?:-\w, )?--([a-z][\w-]*)", helped, flags=re.M):
            if f"--{option}" not in text:
                missing.append(f"{task} --{option}")
    assert not missing, f"task options missing from docs/tasks.md: {missing}"

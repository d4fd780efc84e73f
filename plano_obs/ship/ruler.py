"""`invoke rules.export`: the stack's recording rules and alerts in the two forms rulers load —
Mimir's ruler a namespace file (`mimirtool rules load`: `namespace:` and `groups:`), Prometheus a
plain rule file (`rule_files:`, `groups:`). Both hold the groups of generated/compose/rules.yml
(the Plano mixin's recording rules and alerts, mixin/), unchanged."""
from __future__ import annotations

from pathlib import Path

import yaml

from plano_obs.config import generate
from plano_obs.errors import PlanoError

HEADER = "# Written by `invoke rules.export` from generated/compose/rules.yml (the Plano mixin, mixin/). Do not edit.\n"


class ExportError(PlanoError):
    """The rules cannot be read or written; carries the path."""

    def __init__(self, cause: str, remedy: str, path: Path) -> None:
        super().__init__(cause, remedy)
        self.path = path


def groups(source: Path | None = None) -> list[dict]:
    """The rule groups of source, by default those of the rendering the stack runs (overrides applied)."""
    source = source or generate.rendered() / "compose" / "rules.yml"
    try:
        return yaml.safe_load(source.read_text())["groups"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
        raise ExportError(f"cannot read the rule groups of {source}: {err}", "check the file (`invoke rules.export` renders it into the state folder)", source) from err


def documents(rule_groups: list[dict], namespace: str) -> dict[str, dict]:
    """{file name: document}: the Mimir namespace file and the Prometheus rule file."""
    return {
        f"{namespace}.mimir.yaml": {"namespace": namespace, "groups": rule_groups},
        f"{namespace}.rules.yml": {"groups": rule_groups},
    }


def write(out: Path, rule_groups: list[dict], namespace: str) -> list[Path]:
    """Writes both files into `out`, each whole or not at all (temporary file, then rename)."""
    texts = {name: HEADER + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10_000)
             for name, doc in documents(rule_groups, namespace).items()}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"cannot create {out}: {err.strerror}", "pass a writable folder to --out", out) from err
    written = []
    for name, text in texts.items():
        target, tmp = out / name, out / f".{name}.tmp"
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise ExportError(f"cannot write {target}: {err.strerror}", "pass a writable folder to --out", target) from err
        written.append(target)
    return written

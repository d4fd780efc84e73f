"""The package's layers (docs/development.md#code-layout), read from the imports: a module
imports only from its own layer or a lower one, and never one of the package's own modules
under another name."""
import ast

import pytest

from plano_obs.config import paths

# from the top down; a layer may import the layers after it
ORDER = ("tasks", "harness", "traces", "checks", "runtime", "dev", "ship", "config", "errors")


def _layer(module: str) -> str:
    """'plano_obs.runtime.native' -> 'runtime'; 'plano_obs.errors' -> 'errors'."""
    parts = module.split(".")
    assert parts[0] == "plano_obs" and len(parts) > 1, module
    return parts[1]


def _imports(path) -> list[tuple[int, str, str | None]]:
    """(line, the plano_obs module imported, the alias it is bound to, if any)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("plano_obs"):
            for a in node.names:
                name = node.module if node.module != "plano_obs" else f"plano_obs.{a.name}"
                out.append((node.lineno, name, a.asname))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name, a.asname) for a in node.names if a.name.startswith("plano_obs")]
        elif isinstance(node, ast.ImportFrom) and node.level:
            out.append((node.lineno, "relative", None))
    return sorted(out)


def violations(files) -> list[str]:
    found = []
    for path in files:
        rel = path.relative_to(paths.ROOT)
        own = _layer(".".join(rel.with_suffix("").parts))
        for line, module, alias in _imports(path):
            where = f"{rel}:{line}"
            if module == "relative":
                found.append(f"{where}: a relative import (the package imports absolutely)")
                continue
            target = _layer(module)
            if ORDER.index(target) < ORDER.index(own):
                found.append(f"{where}: {own} imports {module}, a higher layer ({target})")
            if alias:
                found.append(f"{where}: {module} imported as {alias}")
    return found


def test_every_folder_of_the_package_is_a_layer():
    folders = {p.name for p in (paths.ROOT / "plano_obs").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(ORDER) - {"errors"}


def test_no_import_runs_up_a_layer_and_none_is_renamed():
    files = sorted((paths.ROOT / "plano_obs").rglob("*.py"))
    assert len(files) > 80
    assert violations(files) == []


def test_the_check_catches_an_upward_import_an_alias_and_a_relative_import(tmp_path, monkeypatch):
    pkg = tmp_path / "plano_obs" / "config"
    pkg.mkdir(parents=True)
    (pkg / "bad.py").write_text("from plano_obs.runtime import native\n"
                                "from plano_obs.config import paths as where\n"
                                "from . import render\n"
                                "from plano_obs.errors import PlanoError\n")
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    assert violations([pkg / "bad.py"]) == [
        "plano_obs/config/bad.py:1: config imports plano_obs.runtime, a higher layer (runtime)",
        "plano_obs/config/bad.py:2: plano_obs.config imported as where",
        "plano_obs/config/bad.py:3: a relative import (the package imports absolutely)"]


@pytest.mark.parametrize("layer", ORDER[:-1])
def test_each_module_is_in_the_layout_table(layer):
    text = (paths.ROOT / "docs" / "development.md").read_text()
    assert f"`plano_obs/{layer}/`" in text
    for module in sorted((paths.ROOT / "plano_obs" / layer).rglob("*.py")):
        if module.name == "__init__.py":
            continue
        rel = module.relative_to(paths.ROOT / "plano_obs")
        named = f"`{rel}`" in text or f"`{rel.name}`" in text or f"`{rel.parent}/`" in text
        assert named, f"docs/development.md's code layout does not name plano_obs/{rel}"

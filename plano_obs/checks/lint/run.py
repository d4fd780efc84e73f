"""`python -m plano_obs.checks.lint.run [CHECK...]`: the checks behind `nox -s lint`.
Each check prints what it looked at and returns its problems; any problem fails the run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import yaml

from plano_obs.checks import grafana, promql
from plano_obs.checks.lint import dashboard_rules, dashboard_schema, kubernetes_check
from plano_obs.config import generate, paths, settings
from plano_obs.config.render import MODES
from plano_obs.errors import PlanoError
from plano_obs.runtime import binaries, docker, prombuild, tools

# Pinned formatter options: changing them reformats every file, so they change on purpose only.
JSONNETFMT_OPTIONS = ["--indent", "2", "--max-blank-lines", "2", "--string-style", "s",
                      "--comment-style", "s", "--pretty-field-names", "--pad-objects",
                      "--no-pad-arrays", "--sort-imports"]
SKIP_DIRS = {".git", ".nox", "generated", ".state", ".secrets", "node_modules", "build", ".venv"}


def _files(suffixes: tuple[str, ...], under: tuple[Path, ...] = (paths.ROOT,)) -> list[Path]:
    found = []
    for base in under:
        for p in sorted(base.rglob("*")):
            rel = p.relative_to(paths.ROOT).parts
            if p.is_file() and p.name.endswith(suffixes) and not SKIP_DIRS.intersection(rel) \
                    and not any(part.endswith(".egg-info") for part in rel):
                found.append(p)
    return found


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def check_yaml() -> list[str]:
    """yamllint on hand-written YAML (generated YAML is checked by its consumers)."""
    files = _files((".yml", ".yaml"))
    print(f"yamllint: {len(files)} hand-written file(s)")
    if not files:
        return []
    r = _run([sys.executable, "-m", "yamllint", "-c", str(paths.ROOT / ".yamllint.yaml"), "-f", "parsable", *map(str, files)])
    return [line for line in r.stdout.splitlines() if line.strip()] + ([r.stderr.strip()] if r.returncode and not r.stdout else [])


def check_jsonnetfmt() -> list[str]:
    files = _files((".jsonnet", ".libsonnet"), tuple(p for p in paths.JSONNET_SOURCES if p.exists()))
    files = [f for f in files if f != paths.DEFAULT_OVERRIDES]
    version = settings.version("jsonnetfmt")
    fmt = tools.ensure(tools.jsonnetfmt(version)).binary()
    print(f"jsonnetfmt {version}: {len(files)} file(s)")
    problems = []
    for f in files:
        if _run([str(fmt), "--test", *JSONNETFMT_OPTIONS, str(f)]).returncode != 0:
            problems.append(f"{f.relative_to(paths.ROOT)}: not formatted — run `{fmt} -i {' '.join(JSONNETFMT_OPTIONS)} {f.relative_to(paths.ROOT)}`")
    return problems


def _promtool() -> Path:
    return prombuild.ensure_promtool(prombuild.recipe(settings.load()["versions"])).binary()


def check_prometheus() -> list[str]:
    """promtool on the generated config and rules of each mode, and the rule unit tests."""
    promtool = _promtool()
    problems = []
    for mode in MODES:
        d = paths.GENERATED / mode
        for args in (["check", "config", str(d / "prometheus.yml")], ["check", "rules", str(d / "rules.yml")]):
            r = _run([str(promtool), *args])
            print(f"promtool {' '.join(args[:2])} generated/{mode}/{Path(args[-1]).name}: {'ok' if r.returncode == 0 else 'FAILED'}")
            if r.returncode:
                problems.append(f"promtool {' '.join(args)}: {(r.stderr or r.stdout).strip()}")
    # the scale test's remote-write target, and Compose's Prometheus with the dev Envoy on its network
    for extra in (paths.GENERATED / "scale" / "prometheus.yml", paths.GENERATED / "compose" / "prometheus.dev-envoy.yml"):
        r = _run([str(promtool), "check", "config", str(extra)])
        print(f"promtool check config {extra.relative_to(paths.ROOT)}: {'ok' if r.returncode == 0 else 'FAILED'}")
        if r.returncode:
            problems.append(f"promtool check config {extra}: {(r.stderr or r.stdout).strip()}")
    tests = _files((".test.yml",), (paths.ROOT / "tests" / "rules",))
    if tests:
        r = _run([str(promtool), "test", "rules", *map(str, tests)])
        print(f"promtool test rules: {len(tests)} file(s): {'ok' if r.returncode == 0 else 'FAILED'}")
        if r.returncode:
            problems.append(f"promtool test rules: {(r.stdout + r.stderr).strip()}")
    return problems


def check_promql() -> list[str]:
    """Every dashboard target and rule expression parses (after Grafana's substitutions)."""
    problems, count = [], 0
    for path in sorted((paths.GENERATED / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        variables = grafana.variable_values(dash)
        for t in grafana.targets(dash):
            count += 1
            try:
                promql.parse(promql.substitute(t.expr, variables))
            except promql.PromQLError as err:
                problems.append(f"{path.name} / {t.panel.get('title')} / {t.ref}: {err}")
    for mode in MODES:
        rules = yaml.safe_load((paths.GENERATED / mode / "rules.yml").read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                count += 1
                try:
                    promql.parse(rule["expr"])
                except promql.PromQLError as err:
                    problems.append(f"rules.yml ({mode}) / {rule.get('record') or rule.get('alert')}: {err}")
    print(f"promql: {count} expression(s) parsed")
    return problems


def check_dashboards() -> list[str]:
    info = settings.load("compose")
    uids = set(info["datasources"].values())
    problems, files = [], sorted((paths.GENERATED / "dashboards").glob("*.json"))
    for path in files:
        problems += dashboard_rules.check(json.loads(path.read_text()), uids)
    print(f"dashboard rules: {len(files)} dashboard(s)")
    return problems


def check_compose() -> list[str]:
    """The Compose file as a real Compose implementation reads it (`config --quiet`)."""
    try:
        cmd = docker.compose_command()
    except PlanoError:
        cmd = [str(tools.ensure(tools.compose(settings.version("compose"))).binary())]
    env = {"GRAFANA_ADMIN_PASSWORD": "lint-only-not-a-secret", "PATH": "/usr/bin:/bin"}
    problems = []
    # the default file, with the override `--local-images` adds (docs/compose.md#local-images), and
    # with both overrides and the dev Envoy's profile (`--dev-envoy`)
    compose, local, dev = (paths.GENERATED / f for f in (docker.COMPOSE_FILE, docker.LOCAL_IMAGES_FILE, docker.DEV_ENVOY_FILE))
    for files in ([compose], [compose, local], [compose, local, dev]):
        profile = ["--profile", docker.DEV_ENVOY_PROFILE] if dev in files else []
        r = _run([*cmd, *(a for f in files for a in ("-f", str(f))), *profile, "config", "--quiet"], env=env)
        names = " + ".join(f.name for f in files)
        print(f"compose config {names} ({' '.join(Path(c).name for c in cmd)}): {'ok' if r.returncode == 0 else 'FAILED'}")
        if r.returncode:
            problems.append(f"compose config {names}: {(r.stderr or r.stdout).strip()}")
    return problems


def _collector() -> Path:
    """The collector built from generated/'s manifest: the configs checked are generated/'s."""
    manifest = (paths.GENERATED / "collector" / "otelcol-builder.yaml").read_text()
    return binaries.collector(settings.version("collector", "compose"), manifest).path  # type: ignore[return-value]


def check_collector() -> list[str]:
    """The collector's own `validate` on each mode's config, with the binary native mode runs."""
    binary = _collector()
    problems = []
    # scale: the front collector of `nox -s scale`; the gateway tier's agent and gateways (its own
    # Tempo's, and the combined run's that send to the scaled-out Tempo)
    tier = paths.GENERATED / "native" / "gateway-tier"
    configs = [paths.GENERATED / mode / "otel-collector.yaml" for mode in (*MODES, "scale")]
    configs += [tier / "agent-collector.yaml", *sorted(tier.glob("gateway-*.yaml")), *sorted(tier.glob("combined/gateway-*.yaml"))]
    for cfg in configs:
        r = _run([str(binary), "validate", f"--config={cfg}"])
        print(f"otelcol-plano validate {cfg.relative_to(paths.ROOT)}: {'ok' if r.returncode == 0 else 'FAILED'}")
        if r.returncode:
            problems.append(f"collector validate {cfg.relative_to(paths.ROOT)}: {(r.stderr or r.stdout).strip()}")
    return problems


def check_drift() -> list[str]:
    """generated/ against a fresh build of the defaults: overrides never reach it (they render into
    the state folder), so a user's stack/local.libsonnet changes nothing here."""
    diffs = generate.drift()
    print(f"drift: {len(diffs)} generated file(s) differ from a fresh build")
    return [f"generated/{rel} differs from a fresh build — run `invoke build` and commit\n{diff}" for rel, diff in diffs.items()]


def check_schema() -> list[str]:
    """Every dashboard against Grafana's own Dashboard type (@grafana/schema, tsc --strict)."""
    folder = paths.GENERATED / "dashboards"
    dashboards = {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    versions = settings.version("grafanaSchema", "compose"), settings.version("typescript", "compose")
    print(f"schema: {len(dashboards)} dashboard(s) against @grafana/schema {versions[0]} (tsc {versions[1]})")
    return dashboard_schema.check(dashboards)


def check_kubernetes() -> list[str]:
    """generated/kubernetes/: schemas of the pinned Kubernetes, the PrometheusRule, the gateway's config."""
    said, problems = kubernetes_check.check(paths.GENERATED / "kubernetes", settings.version("kubernetes", "compose"), _promtool(),
                                            _collector())
    for line in said:
        print(line)
    return problems


CHECKS: dict[str, Callable[[], list[str]]] = {
    "drift": check_drift,
    "yaml": check_yaml,
    "jsonnetfmt": check_jsonnetfmt,
    "prometheus": check_prometheus,
    "promql": check_promql,
    "dashboards": check_dashboards,
    "schema": check_schema,
    "compose": check_compose,
    "collector": check_collector,
    "kubernetes": check_kubernetes,
}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        print(f"error: unknown check(s) {', '.join(unknown)} — choose from {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            problems = CHECKS[name]()
        except PlanoError as err:
            problems = [err.line()]
        for p in problems:
            print(f"  ✗ [{name}] {p}")
        failed += bool(problems)
    print(f"lint: {len(names) - failed} check(s) passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

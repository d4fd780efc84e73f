"""The lint's `kubernetes` check: generated/kubernetes/ judged offline by what would judge it in
a cluster. Core objects against the API schemas of the pinned Kubernetes release (the
kubernetes-validate package ships them, strict: an unknown field is an error); the
PrometheusRule, a CRD those schemas lack, by its shape and its rules by promtool; the gateway's
collector config by the collector's own `validate` (the agent's needs the contrib
`loadbalancing` exporter, which cannot be built here: tests/test_kubernetes.py checks its
structure)."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

RULE_API = "monitoring.coreos.com/v1"


def load(folder: Path) -> dict[str, dict]:
    """{file name: object} of every manifest in the folder."""
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))}


def rule_shape(obj: dict) -> list[str]:
    """What the Prometheus operator requires of a PrometheusRule, short of the rules themselves."""
    problems = []
    if obj.get("apiVersion") != RULE_API:
        problems.append(f"apiVersion is {obj.get('apiVersion')!r}, not {RULE_API!r}")
    meta = obj.get("metadata") or {}
    if not meta.get("name") or not meta.get("namespace"):
        problems.append("metadata needs a name and a namespace")
    spec = obj.get("spec")
    if not isinstance(spec, dict) or set(spec) != {"groups"} or not isinstance(spec["groups"], list) or not spec["groups"]:
        problems.append("spec must hold only a non-empty list `groups`")
    return problems


def _validate(obj: dict, version: str) -> str:
    import kubernetes_validate
    import kubernetes_validate.utils
    import kubernetes_validate.version
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as err:
        path = ".".join(str(p) for p in err.path)
        return f"{path or '(top)'}: {err.message}"
    except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as err:
        return str(err)
    except kubernetes_validate.utils.VersionNotSupportedError:
        return (f"kubernetes-validate {kubernetes_validate.version.__version__} has no schemas for Kubernetes {version} "
                "— set _config.versions.kubernetes to a release it ships")
    return ""


def check(folder: Path, version: str, promtool: Path, collector: Path | None) -> tuple[list[str], list[str]]:
    """(lines saying what was checked, problems)."""
    said, problems = [], []
    manifests = load(folder)
    for name, obj in manifests.items():
        kind = obj.get("kind", "?")
        if kind == "PrometheusRule":
            shape = rule_shape(obj)
            problems += [f"{name}: {p}" for p in shape]
            if not shape:
                with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
                    yaml.safe_dump(obj["spec"], fh)
                try:
                    r = subprocess.run([str(promtool), "check", "rules", fh.name], capture_output=True, text=True)
                finally:
                    os.unlink(fh.name)
                said.append(f"{name}: PrometheusRule shape, promtool check rules on its spec: {'ok' if r.returncode == 0 else 'FAILED'}")
                if r.returncode:
                    problems.append(f"{name}: promtool check rules: {(r.stderr or r.stdout).strip()}")
            continue
        error = _validate(obj, version)
        if error:
            problems.append(f"{name}: {kind} against Kubernetes {version}: {error}")
    said.append(f"kubernetes-validate (strict, Kubernetes {version}): "
                f"{sum(o.get('kind') != 'PrometheusRule' for o in manifests.values())} object(s)")
    if collector is not None:
        for name, obj in manifests.items():
            if obj.get("kind") == "ConfigMap" and "gateway" in name and "config.yaml" in obj.get("data", {}):
                with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
                    fh.write(obj["data"]["config.yaml"])
                try:
                    r = subprocess.run([str(collector), "validate", f"--config={fh.name}"], capture_output=True, text=True,
                                       env={**os.environ, "POD_NAME": "lint"})
                finally:
                    os.unlink(fh.name)
                said.append(f"otelcol-plano validate {name} config.yaml: {'ok' if r.returncode == 0 else 'FAILED'}")
                if r.returncode:
                    problems.append(f"{name}: collector validate: {(r.stderr or r.stdout).strip()}")
    return said, problems

"""Grafana's Dashboard type as a judge (plano_obs/checks/lint/dashboard_schema.py): the generated dashboards pass
`tsc --strict` against @grafana/schema, and the mistakes it exists for are caught."""
import copy
import json

import pytest

from plano_obs.checks.lint import dashboard_schema
from plano_obs.config import paths


@pytest.fixture(scope="module")
def dashboards():
    folder = paths.GENERATED / "dashboards"
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_generated_dashboards_pass(dashboards):
    assert len(dashboards) == 3 and dashboard_schema.check(dashboards) == []


def test_enum_fields_become_enum_members_and_only_known_values():
    assert dashboard_schema.to_typescript({"thresholds": {"mode": "absolute", "steps": []}}) == \
        '{"thresholds": {"mode": ThresholdsMode.Absolute, "steps": []}}'
    assert dashboard_schema.to_typescript({"mode": "relative"}) == '{"mode": "relative"}'  # left for tsc to refuse


@pytest.mark.parametrize("mutate, code", [
    (lambda d: d["panels"][0].update(fieldConfg=d["panels"][0].pop("fieldConfig")), "TS2353"),  # misspelled key
    (lambda d: d.update(refresh=10), "TS2322"),  # a number where Grafana wants '10s'
    (lambda d: d["panels"][0]["fieldConfig"]["defaults"].update(thresholds={"mode": "relative", "steps": []}), "TS2322"),
])
def test_mistakes_are_caught_and_name_the_dashboard(dashboards, mutate, code):
    name = "plano-llm-usage.json"
    broken = copy.deepcopy(dashboards[name])
    mutate(broken)
    problems = dashboard_schema.check({name: broken, "plano-requests-overview.json": dashboards["plano-requests-overview.json"]})
    assert len(problems) == 1 and problems[0].startswith(f"{name}: {code} "), problems

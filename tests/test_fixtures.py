"""The fixture tables in docs/fixtures.md say exactly what the files contain."""
import re
from collections import Counter

from plano_obs.config import paths, settings
from tests.fixtures.counts import FIXTURES, counts, usage
from tests import traceplan

TABLE_KEYS = {"service.name": "service", "plano(llm) by llm.model and http.status_code": "model_status",
              "plano(agent) by agent_id": "agent", "plano(orchestrator) by selection.listener": "listener",
              "plano(llm) tokens by kind": "tokens", "plano(llm) cost by kind": "cost",
              "plano(llm) with a time to first token, by tenant.id": "ttft_tenant"}


def _documented() -> dict[str, dict[str, dict[str, int]]]:
    text = (paths.ROOT / "docs" / "fixtures.md").read_text()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = section.splitlines()[0].strip()
        tables = out.setdefault(name, {})
        current = None
        for line in section.splitlines():
            m = re.match(r"^\| (.+?) \| (spans|tokens|USD|[\d.]+) \|$", line)
            if not m:
                continue
            if m.group(2) in ("spans", "tokens", "USD"):
                current = TABLE_KEYS[m.group(1)]
                tables[current] = {}
            else:
                tables[current][m.group(1)] = float(m.group(2)) if "." in m.group(2) else int(m.group(2))
    return out


def _usage_tables(path) -> dict[str, dict]:
    info = settings.load()
    u = usage(path, info["usage"], info["modelProviders"])
    out: dict[str, Counter] = {"tokens": Counter(), "cost": Counter(), "ttft_tenant": Counter()}
    for (_, _, _, kind), v in u["tokens"].items():
        out["tokens"][kind] += v
    for (_, _, _, kind), v in u["cost"].items():
        out["cost"][kind] += v
    for (_, _, tenant), v in u["ttft_count"].items():
        out["ttft_tenant"][tenant] += v
    out["cost"] = Counter({k: round(v, 6) for k, v in out["cost"].items()})
    return out


def test_documented_counts_match_the_files():
    documented = _documented()
    assert set(documented) == set(FIXTURES)
    for name, path in FIXTURES.items():
        actual = {**counts(path), **_usage_tables(path)}
        for key, table in documented[name].items():
            assert table == {k: v for k, v in actual[key].items() if v}, f"{name}: {key}"
        assert "tokens" in documented[name], f"{name}: no token table"


def test_fixtures_load_and_plan_to_the_same_counts():
    for name, path in FIXTURES.items():
        plan = traceplan.plan(traceplan.load(path))
        c = counts(path)
        assert plan.span_count == c["spans"]["spans"], name
        assert len(plan.traces) == c["traces"]["traces"], name


def test_fixtures_follow_plano_telemetry():
    """Brightstaff spans are INTERNAL with UNSET status; each component is its own resource."""
    for path in FIXTURES.values():
        for rec in traceplan.load(path):
            for rs in rec.request.resource_spans:
                service = {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
                assert service.startswith("plano(")
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        if service not in ("plano(inbound)", "plano(outbound)"):  # brightstaff's
                            assert span.kind == 1  # INTERNAL
                            assert span.status.code == 0  # UNSET
                        attrs = {a.key: a.value for a in span.attributes}
                        if service == "plano(llm)":
                            assert span.name.startswith("POST /v1/chat/completions ")
                            if "http.status_code" in attrs:
                                assert attrs["http.status_code"].WhichOneof("value") == "int_value"
                        if service == "plano(agent)":
                            assert span.name == f"{attrs['agent_id'].string_value} /v1/chat/completions"

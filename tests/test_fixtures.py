"""The fixture tables in docs/fixtures.md say exactly what the files contain."""
import re

from plano_obs import paths
from plano_obs.traces import otlpjson, replay
from tests.fixtures.counts import FIXTURES, counts

TABLE_KEYS = {"service.name": "service", "plano(llm) by llm.model and http.status_code": "model_status",
              "plano(agent) by agent_id": "agent", "plano(orchestrator) by selection.listener": "listener"}


def _documented() -> dict[str, dict[str, dict[str, int]]]:
    text = (paths.ROOT / "docs" / "fixtures.md").read_text()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = section.splitlines()[0].strip()
        tables = out.setdefault(name, {})
        current = None
        for line in section.splitlines():
            m = re.match(r"^\| (.+?) \| (spans|\d+) \|$", line)
            if not m:
                continue
            if m.group(2) == "spans":
                current = TABLE_KEYS[m.group(1)]
                tables[current] = {}
            else:
                tables[current][m.group(1)] = int(m.group(2))
    return out


def test_documented_counts_match_the_files():
    documented = _documented()
    assert set(documented) == set(FIXTURES)
    for name, path in FIXTURES.items():
        actual = counts(path)
        for key, table in documented[name].items():
            assert table == dict(actual[key]), f"{name}: {key}"


def test_fixtures_load_and_plan_to_the_same_counts():
    for name, path in FIXTURES.items():
        plan = replay.plan(otlpjson.load(path))
        c = counts(path)
        assert plan.span_count == c["spans"]["spans"], name
        assert len(plan.traces) == c["traces"]["traces"], name


def test_fixtures_follow_plano_telemetry():
    """Brightstaff spans are INTERNAL with UNSET status; each component is its own resource."""
    for path in FIXTURES.values():
        for rec in otlpjson.load(path):
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

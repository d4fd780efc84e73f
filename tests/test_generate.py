"""generated/ is written whole or not at all, and drift is detected file by file."""
import shutil

import pytest

from plano_obs.config import generate, paths
from plano_obs.errors import DriftError, JsonnetError


@pytest.fixture
def out(tmp_path):
    target = tmp_path / "generated"
    shutil.copytree(paths.GENERATED, target)
    return target


def test_committed_files_match_a_fresh_build(out):
    assert generate.drift(out) == {}


def test_an_edited_file_is_reported_with_a_diff(out):
    f = out / "compose" / "prometheus.yml"
    f.write_text(f.read_text().replace("evaluation_interval: 15s", "evaluation_interval: 60s"))
    diffs = generate.drift(out)
    assert list(diffs) == ["compose/prometheus.yml"]
    assert "-  evaluation_interval: 60s" in diffs["compose/prometheus.yml"]
    assert "+  evaluation_interval: 15s" in diffs["compose/prometheus.yml"]
    with pytest.raises(DriftError, match="compose/prometheus.yml") as err:
        generate.check_drift(out)
    assert "invoke build" in err.value.line()


def test_missing_and_stale_files_count_as_drift_and_build_repairs_them(out):
    (out / "native" / "tempo.yaml").unlink()
    (out / "compose" / "old.yaml").write_text("x: 1\n")
    assert sorted(generate.drift(out)) == ["compose/old.yaml", "native/tempo.yaml"]
    changed = generate.build(out)
    assert sorted(changed) == ["compose/old.yaml", "native/tempo.yaml"]
    assert generate.drift(out) == {}


def test_a_jsonnet_error_writes_nothing(out, override):
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = override("{ _config+:: { nope: 1 } }")
    with pytest.raises(JsonnetError):
        generate.build(out, overrides=bad)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_only_limits_the_build_to_one_folder(out, override):
    path = override("{ _config+:: { ports+: { grafana: 3001 } } }")
    changed = generate.build(out, overrides=path, only="dashboards/")
    assert changed == []  # ports do not show in dashboards
    changed = generate.build(out, overrides=path, only="native/")
    assert set(changed) == {"native/processes.json", "native/prometheus.yml", "native/stack.json"}

"""rjsonnet renders the stack; the C++ binding, Jsonnet's reference implementation, agrees on the
values and is the one that locates an error (docs/architecture.md#from-jsonnet-to-files)."""
from __future__ import annotations

import json

import _jsonnet
import pytest
import rjsonnet

from plano_obs.config import paths, render

# touches the collector, Prometheus, Tempo, the ports and the bind address of every mode
OVERRIDE = """{ _config+:: {
  bindAddress: '0.0.0.0',
  ports+: { grafana: 3001 },
  spanMetrics+: { namespace: 'plano.spans', flushInterval: '2s' },
  remote+: { metrics+: { remoteWriteUrl: 'https://mimir.example.com/api/v1/push', auth: 'basic' } },
} }"""


def test_the_default_rendering_is_the_committed_generated_folder_byte_for_byte():
    committed = {str(p.relative_to(paths.GENERATED)): p.read_bytes() for p in paths.GENERATED.rglob("*") if p.is_file()}
    fresh = {rel: text.encode("utf-8") for rel, text in render.render_all().items()}
    assert sorted(fresh) == sorted(committed)
    assert [rel for rel in sorted(fresh) if fresh[rel] != committed[rel]] == []


@pytest.mark.slow
def test_rjsonnet_gives_the_cpp_bindings_values_for_a_whole_mode(override):
    """One full mode with an override (the committed files already cover the defaults), compared
    as sorted JSON text: a 1 where the binding gives 1.0 would differ too. About 10 s: the
    binding's evaluation."""
    args = {"tla_codes": {"overrides": f"import {json.dumps(str(override(OVERRIDE)))}"}}
    fast, reference = {}, {}
    for deployment in render.deployments_of("native"):
        entry = str(render.entry_point(deployment))
        fast.update(json.loads(rjsonnet.evaluate_file(entry, **args)))
        reference.update(json.loads(_jsonnet.evaluate_file(entry, **args)))
    assert len(fast) > 40
    assert json.dumps(fast, sort_keys=True) == json.dumps(reference, sort_keys=True)


def test_a_failing_builtin_is_located_where_it_fails(override):
    """rjsonnet names the caller's frame for a missing field (here stack/check.libsonnet, which
    reads the override); the binding names the override's own line."""
    path = override("local empty = {};\n{ _config+:: { bindAddress: empty.nope } }\n")
    args = {"tla_codes": {"overrides": render._overrides_code(path)}}
    with pytest.raises(RuntimeError) as own:
        rjsonnet.evaluate_file(str(render.entry_point("native")), **args)
    assert f"{path}:2" not in str(own.value)
    with pytest.raises(render.JsonnetError) as err:
        render.render("native", path)
    assert err.value.line() == f"{path}:2: field does not exist: nope"


def test_an_error_only_rjsonnet_raises_keeps_its_own_location(override, monkeypatch):
    """Should the evaluators ever disagree, rjsonnet's message is reported, located at its frame."""
    monkeypatch.setattr(_jsonnet, "evaluate_file", lambda *a, **k: "{}")
    path = override("{ _config+:: { ports+: { grafana: 70000 } } }")
    with pytest.raises(render.JsonnetError) as err:
        render.render("native", path)
    line = err.value.line()
    assert line.startswith(f"stack/check.libsonnet:{_need_line()}: _config.ports.grafana is 70000, not a port"), line
    assert line.endswith("— rjsonnet refused what the C++ Jsonnet binding evaluates: report it, with the override")


def _need_line() -> int:
    lines = (paths.STACK / "check.libsonnet").read_text().splitlines()
    return next(i for i, l in enumerate(lines, 1) if "local need(" in l)

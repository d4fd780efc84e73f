"""The rendering cache (plano_obs/render.py): a rendering is reused only for the very same
inputs, a changed source or override renders again, PLANO_RENDER_CACHE=off bypasses it, and a
damaged entry is rendered again instead of trusted."""
from __future__ import annotations

import json

import pytest

from plano_obs import paths, render


@pytest.fixture
def evaluations(monkeypatch, tmp_path):
    """Counts real evaluations; the Jsonnet itself is replaced by a one-file stand-in (this
    tests the cache, not the stack), and the cache lives in a folder of the test's own."""
    monkeypatch.setenv("PLANO_OBS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PLANO_RENDER_CACHE", raising=False)
    calls = []

    def evaluate_file(path, tla_vars, tla_codes):
        calls.append((tla_vars["mode"], tla_codes["overrides"]))
        return json.dumps({f"{tla_vars['mode']}/stack.json": {"format": "json", "value": {"n": len(calls)}}})
    monkeypatch.setattr(render._jsonnet, "evaluate_file", evaluate_file)
    return calls


def test_the_same_inputs_render_once_across_calls(evaluations):
    first = render.render("compose")
    assert render.render("compose") == first and len(evaluations) == 1
    render.render("native")  # the mode is an input
    assert len(evaluations) == 2
    assert len(list((paths.cache_dir() / "render").glob("*.json"))) == 2


def test_a_changed_override_renders_again(evaluations, tmp_path):
    local = tmp_path / "local.libsonnet"
    local.write_text("{ _config+:: { bindAddress: '127.0.0.1' } }\n")
    render.render("compose", local)
    render.render("compose", local)
    assert len(evaluations) == 1
    local.write_text("{ _config+:: { bindAddress: '0.0.0.0' } }\n")
    render.render("compose", local)
    assert len(evaluations) == 2
    # so does a file the override may import, beside it
    (tmp_path / "more.libsonnet").write_text("{}\n")
    render.render("compose", local)
    assert len(evaluations) == 3


def test_a_changed_source_renders_again(evaluations, monkeypatch, tmp_path):
    src = tmp_path / "stack"
    src.mkdir()
    (src / "main.jsonnet").write_text("function(mode, overrides) {}\n")
    monkeypatch.setattr(paths, "MAIN_JSONNET", src / "main.jsonnet")
    monkeypatch.setattr(paths, "JSONNET_SOURCES", (src,))
    render.render("compose")
    (src / "config.libsonnet").write_text("{ x: 1 }\n")
    render.render("compose")
    (src / "config.libsonnet").write_text("{ x: 2 }\n")
    render.render("compose")
    render.render("compose")
    assert len(evaluations) == 3


def test_off_bypasses_the_cache(evaluations, monkeypatch):
    monkeypatch.setenv("PLANO_RENDER_CACHE", "off")
    render.render("compose")
    render.render("compose")
    assert len(evaluations) == 2
    assert not (paths.cache_dir() / "render").exists()


def test_a_damaged_entry_is_rendered_again(evaluations):
    render.render("compose")
    (entry,) = (paths.cache_dir() / "render").glob("*.json")
    entry.write_text('{"compose/stack.json": "trunc')
    assert render.render("compose") == {"compose/stack.json": '{\n  "n": 2\n}\n'}
    assert len(evaluations) == 2


def test_only_the_most_recent_renderings_are_kept(evaluations, monkeypatch, tmp_path):
    monkeypatch.setattr(render, "CACHE_KEEP", 3)
    local = tmp_path / "local.libsonnet"
    for i in range(5):
        local.write_text(f"{{ n: {i} }}\n")
        render.render("compose", local)
    assert len(list((paths.cache_dir() / "render").glob("*.json"))) == 3

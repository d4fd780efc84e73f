"""libyaml's text, re-indented, is byte for byte what PyYAML's Python emitter writes; when the
re-indenting gets a structure wrong, the Python emitter's text is used."""
from __future__ import annotations

import pytest
import yaml

from plano_obs.config import render, yamltext

OVERRIDE = """{ _config+:: { bindAddress: '0.0.0.0', ports+: { grafana: 3001 },
  remote+: { metrics+: { remoteWriteUrl: 'https://mimir.example.com/api/v1/push', auth: 'basic', externalLabels: { region: 'eu' } } },
} }"""

SHAPES = {
    "lists in lists": {"a": [[1, 2], [[3], []], [{"x": [4, 5]}]], "b": []},
    "lists of mappings": {"k": [{"a": 1, "b": [1, {"c": [2]}]}, {}, {"d": {"e": ["f"]}}]},
    "a list at the top": [[1], {"a": [1]}, "x"],
    "keys and values that need quotes": {"a: b": "- x", "? y": ": z", "k:": "v:", "-x": "-", "#c": "a #b", "t": "true",
                                         "n": "1.0", "e": "", "sp": " lead", "q": "it's"},
    "keys too long to be simple": {"k" * 130: [1, 2], "short": {"k" * 129: {"z": [1]}}},
    "unicode": {"µ": "→ arrow", "mark": "✔"},
    "multi-line text, quoted": {"a": "line1\nline2\n", "b": ["x\ny", "z"]},
    "scalars": {"f": 0.1, "g": 1e20, "h": -3, "i": 1.0, "j": None, "k": True},
}
BLOCK_SHAPES = {
    "blocks in a list": {"data": ["a\nb\n", "  lead\nx\n", "no trailing\nnewline", "keep\n\n\n", "\nstarts empty\n"]},
    "blocks in a mapping": {"data": {"a.yaml": "receivers:\n  otlp:\n    - x\n- y:\n", "b": {"c": "x\n  y\n"}}},
    "blocks in nested lists": {"x": [{"y": ["p\nq\n", {"z": "r\ns\n"}]}], "w": ["- not an item\n", "key:\n- not a list\n"]},
}


def _fast(value, blocks: bool) -> str:
    """libyaml's text, re-indented: what dump() returns unless it falls back."""
    if yamltext._C is None:
        pytest.skip("PyYAML without libyaml: dump() is the Python emitter")
    dumper = yamltext._CBlocks if blocks else yamltext._C
    return yamltext._indent_lists(yaml.dump(value, Dumper=dumper, **yamltext._OPTIONS))


def _yaml_specs(overrides=None):
    for path, spec in {p: s for m in render.MODES for p, s in render.evaluate(m, overrides).items()}.items():
        if spec["format"] == "yaml":
            yield path, spec["value"], False
        elif spec["format"] == "kubernetes":
            yield path, render._embed_data(spec["value"]), True


def test_every_generated_yaml_file_with_an_override_is_the_python_emitters_text(override):
    specs = list(_yaml_specs(override(OVERRIDE)))
    assert len(specs) > 50
    assert [p for p, value, blocks in specs if _fast(value, blocks) != yamltext.python_dump(value, blocks)] == []


@pytest.mark.parametrize("name", [*SHAPES, *BLOCK_SHAPES])
def test_shapes_the_stack_may_grow_are_written_as_the_python_emitter_writes_them(name):
    value, blocks = (SHAPES[name], False) if name in SHAPES else (BLOCK_SHAPES[name], True)
    assert _fast(value, blocks) == yamltext.python_dump(value, blocks)
    assert yaml.safe_load(yamltext.dump(value, blocks)) == value


def test_a_structure_the_re_indenting_gets_wrong_falls_back_to_the_python_emitter(monkeypatch):
    """Were a list left at its key's column, its text would still parse, as another structure
    (here the list would join the mapping above it): the comparison catches that."""
    value = {"a": [{"b": [1, 2]}], "c": [3]}
    monkeypatch.setattr(yamltext, "_indent_lists", lambda text: text.replace("\n  - ", "\n- "))
    assert yamltext.dump(value) == yamltext.python_dump(value) == "a:\n  - b:\n      - 1\n      - 2\nc:\n  - 3\n"

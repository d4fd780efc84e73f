"""YAML text as the generated files have it: block style, keys sorted, each list indented under
its key (yamllint's default), multi-line strings as literal blocks where asked.

PyYAML's Python emitter writes exactly that, given one tweak (_Indented), but once rjsonnet
evaluated the stack in milliseconds it was the largest cost of a build (about 0.4 s of CPU).
libyaml's emitter writes the same text some four times faster, except for one thing it cannot
be told: it starts a list under a key at the key's own column. So its text is re-indented
(_indent_lists), parsed back by libyaml and compared with the value; whatever does not come back
equal is written by the Python emitter instead. The re-indenting can cost speed, never meaning.
tests/test_yamltext.py holds both writers to the same bytes."""
from __future__ import annotations

import re

import yaml

_OPTIONS = {"sort_keys": True, "default_flow_style": False, "width": 10_000, "allow_unicode": True}


class _Indented(yaml.SafeDumper):
    """PyYAML's Python emitter with lists indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


class _IndentedBlocks(_Indented):
    """Multi-line text as literal blocks (a ConfigMap's files), readable in a diff."""


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_IndentedBlocks.add_representer(str, _literal)

_C = getattr(yaml, "CSafeDumper", None)  # None when PyYAML was built without libyaml
if _C is not None:
    class _CBlocks(_C):  # type: ignore[valid-type, misc]
        pass

    _CBlocks.add_representer(str, _literal)

# a line's leading markers ("- " items, "? " and ": " of a long key), and a block scalar's header
_MARKERS = re.compile(r"(?:[-?:] )+|-$")
_HEADER = re.compile(r"[|>][1-9]?[-+]?")


def _indent_lists(text: str) -> str:
    """libyaml's `key:\\n- a` as `key:\\n  - a`: each list that starts at its key's column moves
    two columns right, with everything inside it (nested lists add up); block scalars' lines
    move with their node and are never read as structure."""
    out = []
    lists: list[int] = []  # columns of the open lists that libyaml left at their key's column
    after_key = None  # column of the key that ended the previous line ("key:"), if any
    block = None  # inside a block scalar: lines indented deeper than this are its text
    for line in text.split("\n"):
        content = line.lstrip(" ")
        col = len(line) - len(content)
        if not content or (block is not None and col > block):
            out.append(" " * (2 * len(lists)) + line if content else line)
            continue
        block = None
        item = content == "-" or content.startswith("- ")
        while lists and (col < lists[-1] or (col == lists[-1] and not item)):
            lists.pop()
        if item and col == after_key:
            lists.append(col)
        out.append(" " * (2 * len(lists)) + line)
        markers = _MARKERS.match(content)
        width = len(markers.group(0)) if markers else 0
        key_col, rest = col + width, content[width:]
        after_key = key_col if rest.endswith(":") else None
        if _HEADER.fullmatch(rest):  # "- |": the item's text
            block = key_col - 2
        elif ": " in rest and _HEADER.fullmatch(rest.rpartition(": ")[2]):  # "key: |"
            block = key_col
    return "\n".join(out)


def dump(value: object, literal_blocks: bool = False) -> str:
    """The YAML text of value (literal_blocks: multi-line strings as `|` blocks)."""
    if _C is not None:
        text = _indent_lists(yaml.dump(value, Dumper=_CBlocks if literal_blocks else _C, **_OPTIONS))
        if yaml.load(text, Loader=yaml.CSafeLoader) == value:
            return text
    return python_dump(value, literal_blocks)


def python_dump(value: object, literal_blocks: bool = False) -> str:
    """The reference: PyYAML's Python emitter."""
    return yaml.dump(value, Dumper=_IndentedBlocks if literal_blocks else _Indented, **_OPTIONS)

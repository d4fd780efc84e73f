"""PromQL as Grafana sends it: macro and variable substitution, then a real parser
(promql-parser, a port of Prometheus' own grammar) for checks on the syntax tree."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import promql_parser as pp

# What Grafana substitutes for its global macros. The lint only needs valid durations;
# the smoke suite passes the values Grafana would compute for its query range.
DEFAULT_MACROS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval_ms": "15000",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
RATE_FUNCS = {"rate", "irate", "increase"}
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


class PromQLError(ValueError):
    """An expression that does not parse, with the text that was parsed."""

    def __init__(self, expr: str, cause: str) -> None:
        super().__init__(f"{cause}: {expr}")
        self.expr, self.cause = expr, cause


def substitute(expr: str, variables: dict[str, str] | None = None, macros: dict[str, str] | None = None) -> str:
    """Replaces $__macros and $variables / ${variables} / [[variables]] as Grafana does."""
    values = dict(DEFAULT_MACROS, **(macros or {}))
    values.update(variables or {})

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise PromQLError(expr, f"unknown variable ${name}")
        return values[name]

    return _VARIABLE.sub(repl, expr)


def parse(expr: str) -> pp.Expr:
    try:
        return pp.parse(expr)
    except Exception as err:  # the binding raises ValueError/RuntimeError variants
        raise PromQLError(expr, str(err).strip().splitlines()[0]) from err


@dataclass
class Selector:
    name: str
    in_rate: bool  # inside rate/irate/increase (so a counter is used correctly)
    range: str | None = None
    matchers: dict[str, str] = field(default_factory=dict)  # label → value (the last, if repeated)


@dataclass
class Tree:
    selectors: list[Selector] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)


def _matchers(vs) -> dict[str, str]:
    return {m.name: m.value for m in vs.matchers.matchers} if vs.matchers else {}


def _walk(node, in_rate: bool, tree: Tree) -> None:
    if isinstance(node, pp.Call):
        name = node.func.name
        tree.functions.append(name)
        for arg in node.args:
            _walk(arg, in_rate or name in RATE_FUNCS, tree)
    elif isinstance(node, pp.MatrixSelector):
        vs = node.vector_selector
        tree.selectors.append(Selector(vs.name or "", in_rate, pp.display_duration(node.range), _matchers(vs)))
    elif isinstance(node, pp.VectorSelector):
        tree.selectors.append(Selector(node.name or "", in_rate, matchers=_matchers(node)))
    elif isinstance(node, pp.BinaryExpr):
        _walk(node.lhs, in_rate, tree)
        _walk(node.rhs, in_rate, tree)
    elif isinstance(node, (pp.AggregateExpr, pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        _walk(node.expr, in_rate, tree)
        if isinstance(node, pp.AggregateExpr) and node.param is not None:
            _walk(node.param, in_rate, tree)


def analyse(expr: str) -> Tree:
    tree = Tree()
    _walk(parse(expr), False, tree)
    return tree


def is_counter(metric: str, counters: set[str] = frozenset()) -> bool:
    return metric.endswith(COUNTER_SUFFIXES) or metric in counters


_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A Prometheus or Go duration ('500ms', '1m30s', '2s') in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)

"""Task options where invoke's own parsing falls short of "one line, then a non-zero exit".

Numbers: invoke casts an option to its default's type inside its parser, so `--loop abc` ends
in a ValueError traceback, and an option whose default is None arrives as text
(`--rate 2000` is '2000'). Through `Task`, a value that does not cast reaches the task as the
text the user typed, and `number()` reads it into a named error that names the option.

Positionals: invoke has no optional positional argument (pyinvoke/invoke#159), and it takes a
`--help` given after a task's name as that task's positional value. Through `Task`, a
positional argument with a default may be left out, and `TASK --help` prints the task's help."""
from __future__ import annotations

import math
from typing import Any

import invoke
from invoke.parser import Argument
from invoke.parser.parser import ParseMachine

from ..errors import PlanoError

_HELP_FLAGS = ("--help", "-h")


class OptionError(PlanoError):
    """A task option with a value the task cannot use; carries the option and the value."""

    def __init__(self, option: str, value: object, expected: str, remedy: str = "") -> None:
        super().__init__(f"{option} must be {expected}, got {_show(value)}", remedy)
        self.option, self.value = option, value


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show(value: object) -> str:
    """A number as typed (-5, 1.5), anything else quoted ('abc')."""
    if isinstance(value, str):
        try:
            float(value)
            return value.strip()
        except ValueError:
            return repr(value)
    return _fmt(value)


def number(option: str, value: object, *, integer: bool = False, minimum: float | None = None,
           above: float | None = None, maximum: float | None = None, remedy: str = "") -> Any:
    """The option's value as an int (integer=True) or a finite float, within the bounds given:
    `minimum` and `maximum` inclusive, `above` exclusive. Text is what the command line gave."""
    kind = "a whole number" if integer else "a number"
    if minimum is not None and maximum is not None:
        expected = f"{kind} from {_fmt(minimum)} to {_fmt(maximum)}"
    elif minimum is not None:
        expected = f"{kind}, {_fmt(minimum)} or more"
    elif above is not None:
        expected = f"{kind} above {_fmt(above)}"
    else:
        expected = kind
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError
        if integer:
            parsed: float = int(value.strip()) if isinstance(value, str) else int(value)
            if parsed != value and not isinstance(value, str):
                raise ValueError  # 2.5 given from Python
        else:
            parsed = float(value)
    except (ValueError, OverflowError):
        raise OptionError(option, value, expected, remedy) from None
    if not math.isfinite(parsed) or (minimum is not None and parsed < minimum) \
            or (above is not None and parsed <= above) or (maximum is not None and parsed > maximum):
        raise OptionError(option, value, expected, remedy)
    return parsed


class _Lenient(Argument):
    """A typed option that keeps the user's text when it does not cast (see number())."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast)
        except ValueError:
            super().set_value(value, cast=False)


class _Positional(_Lenient):
    """A positional argument; `fallback` is what it takes when left out (None: required)."""

    fallback: Any = None


class Task(invoke.Task):
    """An invoke task whose typed options never fail in the parser, whose positional
    arguments with a default are optional, and whose `--help` after the name shows help."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        out: list[Argument] = []
        for arg in super().get_arguments(ignore_unknown_help):
            cls = _Positional if arg.positional else _Lenient
            # invoke's help shows no value for a float option, as if it were a switch
            kind = str if arg.kind is float else arg.kind
            new = cls(names=arg.names, kind=kind, default=None if arg.positional else arg.default,
                      help=arg.help, positional=arg.positional, optional=arg.optional,
                      incrementable=arg.incrementable, attr_name=arg.attr_name)
            if isinstance(new, _Positional):
                new.fallback = arg.default  # invoke would never ask for a positional with a default
            out.append(new)
        return out


_invoke_complete_context = getattr(ParseMachine.complete_context, "invoke_original", ParseMachine.complete_context)


def _complete_task_context(self: ParseMachine) -> None:
    """Before invoke checks that every positional argument was given: a `--help` taken as a
    positional value asks for the task's help (as it does after a task without positionals),
    and a left-out optional positional takes its default."""
    context = self.context
    positionals = [a for a in (context.positional_args if context else []) if isinstance(a, _Positional)]
    help_flag = self.initial.flags.get("--help") if self.initial is not None else None
    wants_help = help_flag is not None and any(a.value in _HELP_FLAGS for a in positionals)
    if wants_help:
        help_flag.value = context.name
    for arg in positionals:
        if arg.value is None and (arg.fallback is not None or wants_help):
            arg.set_value(arg.fallback if arg.fallback is not None else "", cast=False)
    _invoke_complete_context(self)


_complete_task_context.invoke_original = _invoke_complete_context  # type: ignore[attr-defined]
ParseMachine.complete_context = _complete_task_context  # type: ignore[method-assign]

"""Task options where invoke's own parsing falls short of "one line, then a non-zero exit".

Numbers: invoke casts an option to its default's type inside its parser, so `--loop abc` ends
in a ValueError traceback, and an option whose default is None arrives as text
(`--rate 2000` is '2000'). Through `Task`, a value that does not cast reaches the task as the
text the user typed, and `number()` reads it into a named error that names the option.

Positionals: invoke takes a `--help` given after a task's name as that task's positional value;
a task with a positional argument calls `help_if_asked()` first, which prints the task's help
through invoke's own Program. (invoke has no optional positional argument, pyinvoke/invoke#159:
an optional value is an option, e.g. `invoke logs --service tempo`.) Only invoke's public API is
used: no class of its parser is patched."""
from __future__ import annotations

import math
from typing import Any

import invoke
from invoke.parser import Argument

from plano_obs.errors import PlanoError

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


class Task(invoke.Task):
    """An invoke task whose typed options never fail in the parser (see number())."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        out: list[Argument] = []
        for arg in super().get_arguments(ignore_unknown_help):
            # invoke's help shows no value for a float option, as if it were a switch
            kind = str if arg.kind is float else arg.kind
            out.append(_Lenient(names=arg.names, kind=kind, default=arg.default, help=arg.help,
                                positional=arg.positional, optional=arg.optional,
                                incrementable=arg.incrementable, attr_name=arg.attr_name))
        return out


def help_if_asked(value: object, task: invoke.Task, namespace: str) -> bool:
    """True (after printing the task's help, as `invoke --help NAMESPACE.TASK` does) when the
    positional value is `--help` or `-h`: what invoke hands a task for `invoke TASK --help`."""
    if value not in _HELP_FLAGS:
        return False
    name = f"{namespace}.{task.name}"
    root = invoke.Collection()
    root.add_collection(invoke.Collection(namespace, task))
    invoke.Program(namespace=root, binary="invoke").run(["invoke", "--help", name], exit=False)
    return True

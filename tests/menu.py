"""Tasks run in-process through invoke's own Program and parser, as `invoke ARGS` would: the
task menu of tasks.py, loaded once for every test that needs it."""
from __future__ import annotations

import importlib.util

from invoke import Program

from plano_obs.config import paths

_spec = importlib.util.spec_from_file_location("plano_obs_task_menu", paths.ROOT / "tasks.py")
menu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(menu)  # type: ignore[union-attr]


def invoke(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `invoke ARGS`; an uncaught exception fails the test."""
    code = 0
    try:
        Program(namespace=menu.ns, binary="invoke").run(["invoke", *args])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err

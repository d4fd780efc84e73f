"""Invoke collections, one module per namespace; tasks.py only composes them."""
from __future__ import annotations

import functools
from typing import Callable

from invoke.exceptions import Exit

from plano_obs.errors import PlanoError


def cli_errors(fn: Callable) -> Callable:
    """Turns a PlanoError into one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PlanoError as err:
            raise Exit(f"error: {err.line()}", code=1) from err

    return wrapper

"""Named errors. Each carries the bad input and a remedy; the task layer prints them as
one line and exits non-zero."""
from __future__ import annotations


class PlanoError(Exception):
    """Base class: `cause` says what is wrong, `remedy` what to do about it."""

    def __init__(self, cause: str, remedy: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.remedy = remedy

    def line(self) -> str:
        return f"{self.cause} — {self.remedy}" if self.remedy else self.cause


class JsonnetError(PlanoError):
    """The Jsonnet sources (or the user's override) do not evaluate."""

    def __init__(self, cause: str, location: str = "", remedy: str = "") -> None:
        super().__init__(f"{location}: {cause}" if location else cause, remedy)
        self.location = location


class DriftError(PlanoError):
    """Committed generated files differ from a fresh build."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(
            "generated files differ from a fresh build: " + ", ".join(paths),
            "run `invoke build` and commit the result",
        )
        self.paths = paths


class PortInUseError(PlanoError):
    """A port the stack needs is taken by another process."""

    def __init__(self, component: str, name: str, address: str, by: str = "") -> None:
        super().__init__(
            f"port {address} ({component}, ports.{name}) is already in use{by}",
            f"stop what listens there, or set _config.ports.{name} in stack/local.libsonnet and run `invoke up` again",
        )
        self.component, self.name, self.address = component, name, address


class DockerError(PlanoError):
    """No usable Docker engine or Compose CLI."""


class ToolError(PlanoError):
    """A tool the project builds or runs (promtool, jsonnetfmt, go) is missing or failed."""

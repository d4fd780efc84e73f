"""Nox sessions. A bare `nox` runs the contract set: lint, unit tests and the live smoke tests.
The work is done by plano_obs; sessions only install and call it."""
import nox

nox.options.sessions = ["lint", "tests", "smoke"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def _install(session: nox.Session, extras: str = "") -> None:
    session.install("-e", f".[{extras}]" if extras else ".")


@nox.session
def lint(session: nox.Session) -> None:
    """Formatting, promtool, PromQL, dashboard rules, Compose config and drift."""
    _install(session)
    session.run("python", "-m", "plano_obs.lint.run", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests (pure logic, no running stack)."""
    _install(session, "test")
    session.run("pytest", *(session.posargs or ["-q", "tests"]))


@nox.session
def smoke(session: nox.Session) -> None:
    """Live tests: bring the stack up (native unless PLANO_SMOKE_MODE=compose), test, tear down."""
    _install(session, "test")
    session.run("pytest", *(session.posargs or ["-q", "-rs", "tests/live"]))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks for docs/benchmarks.md: `nox -s bench -- native [--cold]` or `-- replay`."""
    _install(session)
    which, *rest = session.posargs or ["native"]
    if which not in ("native", "replay"):
        session.error("Usage: nox -s bench -- native [--cold] | replay [--spans N]")
    module = {"native": "plano_obs.bench.native_stack", "replay": "plano_obs.bench.replay"}[which]
    session.run("python", "-m", module, *rest)

"""Nox sessions. A bare `nox` runs the contract set: lint, unit tests and the live smoke tests.
The work is done by plano_obs; sessions only install and call it."""
import nox

nox.options.sessions = ["lint", "tests", "smoke"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def _install(session: nox.Session, dev: bool = True) -> None:
    """The project into the session: with its dev extras (pytest, the lint's tools), or as a user has it."""
    session.install("-e", ".[dev]" if dev else ".")


@nox.session
def lint(session: nox.Session) -> None:
    """Formatting, promtool, PromQL, dashboard rules, Compose config and drift."""
    _install(session)
    session.run("python", "-m", "plano_obs.checks.lint.run", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests (pure logic, no running stack), on every core."""
    _install(session)
    session.run("pytest", *(session.posargs or ["-q", "-n", "auto", "tests"]))


@nox.session
def smoke(session: nox.Session) -> None:
    """Live tests: bring the stack up, test it panel by panel, tear it down.

    Arguments go to pytest, the suite's own options included (tests/live/conftest.py): `--reuse`
    tests the stack that is already up (and leaves it); `--keep` leaves the stack this run
    started; `--mode compose` uses Compose, `--local-images` with the images `invoke images.build`
    made, `--dev-envoy` with the dev Envoy and mock LLM as Compose services."""
    _install(session)
    tests = [] if any(a.startswith("tests") for a in session.posargs) else ["tests/live"]
    session.run("pytest", "-q", "-rs", "--durations=12", *session.posargs, *tests)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks for docs/benchmarks.md and docs/reliability.md: `nox -s bench -- native [--cold]`,
    `-- replay`, `-- cardinality`, `-- freshness`, `-- knee` or `-- compose`."""
    _install(session, dev=False)
    args = list(session.posargs)
    which, *rest = args if args and not args[0].startswith("-") else ["native", *args]  # `-- --cold`: native
    modules = {"native": "plano_obs.harness.bench.native_stack", "replay": "plano_obs.harness.bench.replay",
               "cardinality": "plano_obs.harness.bench.cardinality", "freshness": "plano_obs.harness.bench.freshness",
               "knee": "plano_obs.harness.bench.knee", "compose": "plano_obs.harness.bench.compose_stack"}
    if which not in modules:
        session.error("Usage: nox -s bench -- native [--cold] | replay [--spans N] | cardinality [--models N] | "
                      "freshness [--samples N] | knee [--rates R,R,…] | compose [--runs N]")
    module = modules[which]
    session.run("python", "-m", module, *rest)


@nox.session
def chaos(session: nox.Session) -> None:
    """Fault matrix against a stack it starts: kills and restarts mid-replay, a table of losses."""
    _install(session, dev=False)
    session.run("python", "-m", "plano_obs.harness.chaos", *session.posargs)


@nox.session
def scale(session: nox.Session) -> None:
    """Past one machine, live (docs/scale-out.md): the collector gateway tier (agent, Envoy
    balancer, gateways, remote write) with exact counts, Tempo scaled out over a real Kafka
    against the single binary, and both combined (gateways in front of the scaled Tempo). Needs Java 17+, Maven (Kafka's jars, fetched once) and the native
    binaries (`invoke stack.install`). Args go to pytest."""
    _install(session)
    session.run("pytest", *(session.posargs or ["-q", "-rs", "-s", "--durations=10", "tests/scale"]))

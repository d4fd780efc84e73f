"""Checks on the sources and on the generated files; `nox -s lint` runs them all."""

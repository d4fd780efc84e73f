"""Benchmarks (`nox -s bench`): numbers for docs/benchmarks.md, never asserted in tests."""

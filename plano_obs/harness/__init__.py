"""the fault matrix, the scale-out runs and the benchmarks (nox sessions, not the product)."""

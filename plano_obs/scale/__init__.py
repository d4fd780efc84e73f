"""Tempo scaled out (docs/scale-out.md#tempo-scaled-out): Apache Kafka and Tempo's separate
components as supervised local processes, beside a single-binary Tempo to compare with."""

"""Recorded traces: reading OTLP/JSON, replaying it into the collector, recording and synthesising it."""

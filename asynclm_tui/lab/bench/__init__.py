"""Benchmarks that print tables (commands, never timed tests)."""

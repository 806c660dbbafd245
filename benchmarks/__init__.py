"""Benchmarks: every figure measured on a real run (see docs/BENCHMARKS.md for the rules)."""

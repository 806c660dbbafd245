"""Ingest through the Segment-compatible batch route beside the native one, in one run.

    python -m benchmarks.segment [--quick] [--seconds S] [--rounds N] [--out PATH]

Reuses the ingest benchmark's harness (`benchmarks.ingest`: load generator, processes,
scenarios, tables); `fixtures` turns the same simulator events into Segment batches.
"""

"""Batch-layer benchmarks: `python -m benchmarks.batch compaction|metrics [options]`."""

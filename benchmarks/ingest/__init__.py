"""Ingest throughput of the collector, side by side with a naive peer, in one run.

    python -m benchmarks.ingest [--quick] [--seconds S] [--concurrency C] [--out PATH]

Modules: `fixtures` (events and pre-serialised request bodies), `stats` (percentiles, ratios,
tables: pure), `loadgen` (the load-generator process), `procs` (starting, sampling and
stopping servers), `scenarios` (what is measured), `profile` (in-process cProfile of the hot
path), `naive_collector` (the peer), `__main__` (the command).
"""

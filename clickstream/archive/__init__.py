"""The raw archive: stream records (Kinesis shards or Kafka partitions) to S3
`raw/events/dt=YYYY-MM-DD/hour=HH/` NDJSON.gz, partitioned by arrival time, crash-safe.

`batching` is the pure part (buffers, the hour split, object names, and why replays are safe);
`reading` the contract with the stream adapters; `archiver` the loop with its I/O injected (and
`build_archiver`, the wiring); `runtime` the entry points' logging and stop signals. The readers and the checkpoint store live in
`clickstream.adapters` (`kinesis_reader`, `kafka_reader`, `checkpoints`); the long-running entry
point is `stream_consumers.raw_archiver`, the CLI `clickstream archive run|stats`.
"""

"""Stands in for Amazon Data Firehose on the laptop: the raw archiver, stream records (Kinesis
shards or Kafka partitions) to S3 `raw/events/dt=YYYY-MM-DD/hour=HH/` NDJSON.gz, partitioned by
arrival time, crash-safe. On AWS, Firehose with dynamic partitioning writes the same prefix
(`infra/cdk/clickstream_infra/components/raw_delivery.py`); docs/adr/0005 says why not moto's.

`batching` is the pure part (buffers, the hour split, object names, and why replays are safe);
`reading` the contract between the loop and the readers; `archiver` the loop with its I/O
injected (and `build_archiver`, the wiring); `kinesis_reader` and `kafka_reader` read every shard
or partition. The checkpoints are `clickstream.emulated.checkpoints`, the process concerns
`clickstream.emulated.runtime`; the long-running entry point is `stream_consumers.raw_archiver`,
the CLI `clickstream archive run|stats`.
"""

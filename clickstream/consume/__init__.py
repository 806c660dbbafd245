"""The speed layer's stream consumers: what AWS's event source mappings do around a Lambda handler.

Pure parts: `events` builds the exact Lambda payloads (Kinesis, self-managed Kafka) and a Lambda
context; `responses` reads a handler's partial batch response the way Lambda does; `retry` is
the bounded retry policy; `batches` cuts a shard's batches (size, payload, window) and keeps a
batch's boundaries across retries and restarts; `leases` decides which shard leases a worker
takes or steals so N workers split the shards; `failures` builds the dead-letter message;
`invoke` calls the handler as the runtime does; `options` holds the shared settings.

Loops, with their I/O injected (like `clickstream.archive.archiver`): `kinesis` (leases via
`leasing`, checkpoints, DLQ) and `kafka` (a consumer group). The adapters are
`clickstream.adapters.{kinesis_shards, leases, checkpoints, dlq, kafka_group}`; the entry points
`stream_consumers.kinesis_consumer`, `stream_consumers.kafka_consumer` and `clickstream consume`.
"""

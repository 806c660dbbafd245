"""Stands in for AWS Lambda's event source mapping on the laptop: the speed layer's stream consumers,
which do around the Lambda handler what the mapping does on AWS (docs/adr/0005 says why not moto's).

Pure parts: `events` builds the exact Lambda payloads (Kinesis, self-managed Kafka) and a Lambda
context; `responses` reads a handler's partial batch response the way Lambda does; `retry` is
the bounded retry policy; `batches` cuts a shard's batches (size, payload, window) and keeps a
batch's boundaries across retries and restarts; `leases` decides which shard leases a worker
takes or steals so N workers split the shards; `failures` builds the dead-letter message;
`invoke` calls the handler as the runtime does; `options` holds the shared settings.

Loops, with their I/O injected (like `clickstream.emulated.firehose.archiver`): `kinesis` (leases
via `leasing`, checkpoints, DLQ) and `kafka` (a consumer group). Their I/O: `kinesis_shards`,
`kafka_group`, `lease_table` (DynamoDB), `dlq` (SQS), and `clickstream.emulated.checkpoints`.
The entry points are `stream_consumers.kinesis_consumer`, `stream_consumers.kafka_consumer` and
`clickstream consume`.
"""

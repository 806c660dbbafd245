"""What stands in for an AWS managed service when the platform runs without AWS (the embedded stack,
`make demo`, the integration tests, the LocalStack containers). Nothing on the production path
imports this package: the Lambdas and the DAGs never do (`make lint` checks it).

| here | stands in for | on AWS |
| --- | --- | --- |
| `aws_server` | the AWS APIs (Kinesis, S3, DynamoDB, Glue, SQS, CloudFormation) | AWS |
| `msk_broker` | Amazon MSK (a Kafka-protocol broker) | MSK Serverless (`-c msk=true`) |
| `firehose/` | Amazon Data Firehose: the raw archive | a delivery stream, dynamic partitioning |
| `event_source_mapping/` | Lambda's event source mapping around the stream processor | the mapping |

`checkpoints`, `stream_reading` and `runtime` are shared by the two stream stand-ins: where they
keep their progress (DynamoDB), how they read a stream, how their processes stop and restart.
Why stand-ins rather than moto's own Firehose and Lambda: docs/adr/0005; the layering: docs/adr/0006.
The query engine is not here: DuckDB runs Athena's SQL behind the same adapter
(`clickstream.adapters.query`), chosen by settings.
"""

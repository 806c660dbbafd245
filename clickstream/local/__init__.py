"""The embedded local stack: an AWS-compatible server, a Kafka-protocol broker, the app services."""

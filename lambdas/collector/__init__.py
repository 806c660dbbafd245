"""The collector Lambda (API Gateway HTTP API v2 → `clickstream.collector.service`)."""

"""The speed layer: stream batches → exactly-once realtime counters in DynamoDB (see docs/SPEED_LAYER.md)."""

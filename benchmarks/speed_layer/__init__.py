"""Speed-layer benchmark: stream-processor throughput in-process, and DynamoDB writes per event."""

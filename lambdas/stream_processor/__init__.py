"""The stream-processor Lambda (Kinesis / MSK event source mapping → `clickstream.speed.processor`)."""

"""The only modules that talk to AWS or Kafka. Each resource sits behind one adapter."""

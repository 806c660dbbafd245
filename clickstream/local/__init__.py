"""The embedded local stack: the process manager that starts the AWS-compatible server, the Kafka
broker and the app services (`services`, `stack`, `supervisor`), provisioning, and the demo.

What stands in for an AWS managed service (moto, the broker, the raw archiver, the stream
consumers) is `clickstream.emulated`'s; this package only runs it.
"""

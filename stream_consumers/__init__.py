"""Long-running stand-ins for Firehose and the event source mapping (local runs, containers, MSK): thin entry
points over `clickstream.emulated`."""

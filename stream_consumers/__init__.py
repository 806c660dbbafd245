"""Long-running stream consumers (local runs, containers, MSK): thin entry points over `clickstream`."""

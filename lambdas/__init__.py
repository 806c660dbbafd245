"""Lambda entry points: thin handlers that parse the event and call `clickstream`."""

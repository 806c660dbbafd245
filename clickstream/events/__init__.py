"""The event contract (schema v1): validation, normalisation, anonymisation. Pure, no I/O."""

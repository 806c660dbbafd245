"""CLI command groups; heavy imports happen inside the commands, not at import time."""

"""Shared by the tests that start the embedded stack as a subprocess: free ports and an environment
that isolates it (its own state folder, every listening service off the default ports, none of
the developer's CLICKSTREAM_* or AWS_* settings)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from clickstream import constants as c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stack_env(home: Path, aws_port: int, collector_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKSTREAM_", "AWS_"))}
    return env | {
        c.ENV_HOME: str(home),
        c.ENV_ENDPOINT: f"http://127.0.0.1:{aws_port}",
        c.ENV_COLLECTOR_PORT: str(collector_port),
        # every other listening service on a free port too: a developer's stack may hold the defaults
        c.ENV_API_PORT: str(free_port()),
        c.ENV_AIRFLOW_PORT: str(free_port()),
        c.ENV_PROMETHEUS_PORT: str(free_port()),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "NO_PROXY": "127.0.0.1,localhost",
    }

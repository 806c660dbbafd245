"""The embedded stack's AWS server as its own process (`python -m clickstream.emulated.aws_server`),
for tests that need one apart from their worker's in-process server: moto's state is global to a
process, so a test that saves, restores or races the server's state starts its own."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from clickstream.local import processes
from support.ports import free_port


@contextmanager
def aws_server_process() -> Iterator[str]:
    """Start the server on a free loopback port; yields its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clickstream.emulated.aws_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while processes.http_json(f"{url}/moto-api/config") is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the embedded AWS server did not answer on {url} within 30 s")
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)

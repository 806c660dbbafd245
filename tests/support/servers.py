"""The embedded servers' fixtures, for the integration and e2e tiers (a pytest plugin that
tests/conftest.py loads): one real AWS-compatible server and one real Kafka-protocol broker per
test process (per pytest-xdist worker); every test that asks for `settings` gets a wiped server
with the platform's resources freshly provisioned (through the same CloudFormation route
`clickstream local up` uses, once per worker; later tests get that state restored) and a Kafka
topic of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clickstream import constants as c
from clickstream.adapters import _clients
from clickstream.local.provision import provision
from clickstream.settings import Settings


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from clickstream.emulated.aws_server import patch_moto

    patch_moto()  # as the embedded stack's server is (clickstream.emulated.aws_server)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("kafka") / "kafka.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "clickstream.emulated.msk_broker", "--state-file", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not state.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the embedded Kafka broker (librdkafka mock cluster) did not start within 30 s")
        time.sleep(0.05)
    yield json.loads(state.read_text())["bootstrap"]
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def settings(aws_endpoint: str, kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a freshly reset and provisioned server; a unique Kafka topic per test."""

    env = {
        c.ENV_ENDPOINT: aws_endpoint,
        c.ENV_HOME: str(tmp_path / ".clickstream"),
        c.ENV_KAFKA_BOOTSTRAP: kafka_bootstrap,
        c.ENV_TOPIC: f"clickstream-test-{uuid.uuid4().hex[:12]}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in (c.ENV_STAGE, c.ENV_BUCKET, c.ENV_STREAM, c.ENV_TRANSPORT, c.ENV_WRITE_KEY):
        monkeypatch.delenv(key, raising=False)
    _clients.reset_cache()
    s = Settings.from_env()
    _wiped_and_provisioned(aws_endpoint, s)
    return s


_SAVED: dict[str, str] = {}  # endpoint -> the template whose provisioned state the server saved


def _wiped_and_provisioned(endpoint: str, settings: Settings) -> None:
    """The server as `/moto-api/reset` then `provision(settings)` leave it. The first test (per
    worker and set of resources) does exactly that and saves the state; the others restore it
    (`clickstream.emulated.aws_server.StateSnapshot`: milliseconds, against about 0.4 s)."""
    import urllib.request

    from clickstream.resources import cloudformation_template, platform_resources

    def post(path: str) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}{path}", method="POST")).read()

    template = json.dumps([settings.region, cloudformation_template(platform_resources(settings))], sort_keys=True)
    if _SAVED.get(endpoint) == template:
        post("/clickstream-api/restore")
        return
    post("/moto-api/reset")
    provision(settings)
    post("/clickstream-api/snapshot")
    _SAVED[endpoint] = template


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback traffic must never go through a proxy configured on the machine.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    os.environ.pop("HTTP_PROXY", None)

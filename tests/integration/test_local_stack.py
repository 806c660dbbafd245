"""`clickstream local up | status | down` for real: the CLI in subprocesses, its own servers.

Every test uses a state folder in a temp dir and random free ports (never 4566 or 8000).
The module shares one running stack to keep the run short; each test first brings it to the
state it needs (`up` is a no-op when already there), so the tests do not depend on order.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.local_stack import Stack, cleanup, free_port, make_stack, stack_env

from clickstream import constants as c
from clickstream.local.processes import port_is_free
from clickstream.local.services import SERVICES, StackError, probe_aws
from clickstream.local.spec import ServiceSpec
from clickstream.local.stack import LocalStack
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # starts whole embedded stacks


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = make_stack(tmp_path_factory.mktemp("local-stack") / ".clickstream")
    yield s
    cleanup(s)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_up_starts_healthy_infra_with_resources_and_a_working_broker(stack: Stack) -> None:
    # WHEN the infrastructure is started
    stack.up("--services", "aws,kafka")
    # THEN both are recorded and healthy
    code, doc = stack.status()
    assert code == 0
    assert {s["name"]: s["healthy"] for s in doc["services"]} == {"aws": True, "kafka": True}
    # AND the resources exist on the server it started (checked with boto3, not through our code)
    import boto3

    kw: dict[str, Any] = {"endpoint_url": stack.endpoint, "region_name": "us-east-1"}
    kw |= {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    settings = Settings(home=stack.home, endpoint_url=stack.endpoint)
    summary = boto3.client("kinesis", **kw).describe_stream_summary(StreamName=settings.names.stream)
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == settings.shard_count
    assert settings.names.bucket in {b["Name"] for b in boto3.client("s3", **kw).list_buckets()["Buckets"]}
    tables = set(boto3.client("dynamodb", **kw).list_tables()["TableNames"])
    assert {settings.names.realtime_table, settings.names.checkpoints_table} <= tables
    # AND the broker really speaks Kafka: one message produced and consumed with kafka-python
    bootstrap = json.loads((stack.home / "kafka.json").read_text())["bootstrap"]
    assert bootstrap == next(s["url"] for s in doc["services"] if s["name"] == "kafka")
    _kafka_round_trip(bootstrap)


def _kafka_round_trip(bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic, payload = f"local-stack-{uuid.uuid4().hex[:8]}", uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    meta = producer.send(topic, payload).get(timeout=20)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=10_000)
    tp = TopicPartition(topic, meta.partition)
    consumer.assign([tp])
    consumer.seek(tp, meta.offset)
    got = next(iter(consumer)).value
    consumer.close()
    assert got == payload


def test_second_up_is_a_no_op(stack: Stack) -> None:
    stack.up("--services", "aws,kafka")
    before = stack.pids()
    again = stack.up("--services", "aws,kafka")
    assert stack.pids() == before
    assert again.stdout.count("already running") == 2
    assert "resources: CloudFormation stack clickstream-local-data unchanged" in again.stdout


def test_status_json_describes_each_recorded_service(stack: Stack) -> None:
    stack.up("--services", "aws,kafka")
    recorded = {p["name"]: p for p in stack.state()["processes"]}
    code, doc = stack.status()
    assert code == 0
    assert doc["home"] == str(stack.home)
    services = {s["name"]: s for s in doc["services"]}
    assert set(services) >= {"aws", "kafka"}
    aws = services["aws"]
    assert (aws["pid"], aws["port"], aws["url"]) == (recorded["aws"]["pid"], stack.aws_port, stack.endpoint)
    assert aws["healthy"] and aws["running"] and aws["external"] is None and aws["uptime_seconds"] > 0
    assert Path(aws["log"]) == stack.home / "logs" / "aws.log" and Path(aws["log"]).exists()
    assert services["kafka"]["pid"] == recorded["kafka"]["pid"] and services["kafka"]["port"] is None
    assert doc["resources"]["stream"]["shards"] == 2
    assert doc["resources"]["bucket"]["objects"] == 0
    assert {t["name"] for t in doc["resources"]["tables"]} == {
        "clickstream-local-realtime",
        "clickstream-local-batch",
        "clickstream-local-checkpoints",
    }


def test_a_killed_process_is_reported_unhealthy_then_restarted(stack: Stack) -> None:
    stack.up("--services", "aws,kafka")
    before = stack.pids()
    # GIVEN the broker dies without a chance to clean up
    os.kill(before["kafka"], signal.SIGKILL)
    assert _wait(lambda: _gone(before["kafka"]))
    # THEN status says so, with a failing exit code
    code, doc = stack.status()
    kafka = next(s for s in doc["services"] if s["name"] == "kafka")
    assert code != 0
    assert (kafka["healthy"], kafka["running"]) == (False, False)
    # WHEN up runs again THEN only the dead one is restarted, and it works
    done = stack.up("--services", "aws,kafka")
    after = stack.pids()
    assert after["aws"] == before["aws"] and after["kafka"] != before["kafka"]
    assert "kafka: restarted" in done.stdout
    code, doc = stack.status()
    assert code == 0 and all(s["healthy"] for s in doc["services"])


def test_up_with_the_collector_serves_healthz(stack: Stack) -> None:
    import urllib.request

    if not _has_command("collector", "serve"):
        pytest.skip("`clickstream collector serve` is not in the tree yet")
    # WHEN the collector is started on kafka transport
    stack.up("--services", "collector", "--transport", "kafka")
    # THEN /healthz answers 200 on the configured port, and the collector got the transport
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{stack.collector_port}/healthz", timeout=5) as resp:
        assert resp.status == 200
    assert "transport: kafka" in (stack.home / "logs" / "collector.log").read_text()


def test_up_with_every_service_serves_healthz(tmp_path: Path) -> None:
    import urllib.request

    missing = [" ".join(cmd) for cmd in (("collector", "serve"), ("archive", "run")) if not _has_command(*cmd)]
    if missing:
        pytest.skip(f"not in the tree yet: {', '.join(f'`clickstream {m}`' for m in missing)}")
    s = make_stack(tmp_path / ".clickstream")
    try:
        s.up()
        # `status` probes once (Airflow's api-server gets 6 s); on two loaded cores an answer can
        # take longer right after the start, while the scheduler catches up: ask again, briefly
        deadline = time.monotonic() + 60
        code, doc = s.status()
        while code != 0 and time.monotonic() < deadline:
            time.sleep(2)
            code, doc = s.status()
        expected = {"aws", "kafka", "collector", "archiver", "consumer", "api", "airflow"}
        if shutil.which("prometheus"):
            expected.add("prometheus")
        unhealthy = {x["name"]: x.get("detail") for x in doc["services"] if not x.get("healthy")}
        assert code == 0 and {x["name"] for x in doc["services"]} == expected, unhealthy
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for port in (s.collector_port, int(s.env[c.ENV_API_PORT])):
            with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                assert resp.status == 200
    finally:
        cleanup(s)


def _has_command(group: str, name: str) -> bool:
    import click

    from clickstream.cli import main

    cmd = main.commands.get(group)
    return isinstance(cmd, click.Group) and name in cmd.commands


def test_down_stops_every_recorded_process_and_frees_the_ports(stack: Stack) -> None:
    stack.up("--services", "aws,kafka")
    recorded = stack.state()["processes"]
    kafka_port = int(json.loads((stack.home / "kafka.json").read_text())["bootstrap"].rsplit(":", 1)[1])
    done = stack.cli("down")
    assert done.returncode == 0, done.stderr
    assert all(_gone(p["pid"]) for p in recorded)
    assert _wait(lambda: port_is_free("127.0.0.1", stack.aws_port) and port_is_free("127.0.0.1", kafka_port))
    assert not (stack.home / "state.json").exists() and not (stack.home / "kafka.json").exists()
    code, doc = stack.status()
    assert (code, doc["services"]) == (0, [])


def test_a_port_taken_by_a_plain_listener_fails_with_the_port_named(tmp_path: Path) -> None:
    s = make_stack(tmp_path / ".clickstream")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", s.aws_port))
        squatter.listen()
        done = s.cli("up", "--services", "aws,kafka")
    assert done.returncode != 0
    assert f"port {s.aws_port}" in done.stderr and "service aws" in done.stderr and c.ENV_ENDPOINT in done.stderr
    assert s.state()["processes"] == []  # nothing was left running


def test_a_failed_start_prints_the_log_tail_and_stops_what_it_started(tmp_path: Path) -> None:
    # GIVEN a service that dies on start, after a real dependency (the broker)
    broken = ServiceSpec(
        name="broken",
        description="exits at once",
        command=lambda s, py: [py, "-c", "import sys; print('bad setting: FOO'); sys.exit(3)"],
        health=lambda s, r, n: SERVICES[1].health(s, r, n),
        depends_on=("kafka",),
    )
    settings = Settings(home=tmp_path / ".clickstream", endpoint_url=f"http://127.0.0.1:{free_port()}")
    said: list[str] = []
    stack = LocalStack(settings, specs=(SERVICES[1], broken), env=stack_env(settings.home, 1, 1), notify=said.append)
    # WHEN it is started THEN the error carries its exit code and log, and the broker is stopped again
    with pytest.raises(StackError, match=r"(?s)broken exited while starting \(exit code 3\).*bad setting: FOO"):
        stack.up()
    kafka_pid = int(next(m for m in said if m.startswith("kafka: started")).split("pid ")[1].split(")")[0])
    assert _gone(kafka_pid)
    assert stack.status() == []
    assert not (settings.home / "state.json").exists()


def test_a_moto_server_already_there_is_used_and_left_running(tmp_path: Path) -> None:
    # GIVEN someone else's moto server on the endpoint's port (its own process: moto's state is
    # global per process, so an in-process server would share the other tests' resources)
    s = make_stack(tmp_path / ".clickstream")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s.aws_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while probe_aws(s.endpoint) != "moto":
            assert time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.1)
        # WHEN the stack comes up THEN it says it uses that server, provisions it, and records no pid
        done = s.up("--services", "aws")
        assert f"aws: using the moto already there at {s.endpoint}" in done.stdout
        assert "CloudFormation stack clickstream-local-data created" in done.stdout
        code, doc = s.status()
        assert code == 0
        assert [(x["name"], x["pid"], x["external"], x["healthy"]) for x in doc["services"]] == [
            ("aws", None, "moto", True)
        ]
        # AND down leaves it running
        down = s.cli("down")
        assert down.returncode == 0 and "left running" in down.stdout
        assert probe_aws(s.endpoint) == "moto"
    finally:
        cleanup(s)
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ({"/_localstack/health": b'{"services": {"kinesis": "running", "s3": "available"}}'}, "localstack"),
        ({}, "other"),  # an HTTP server that is neither
    ],
)
def test_probe_tells_localstack_from_other_http_servers(routes: dict[str, bytes], expected: str) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert probe_aws(f"http://127.0.0.1:{server.server_address[1]}") == expected
    finally:
        server.shutdown()
        server.server_close()
    assert probe_aws(f"http://127.0.0.1:{free_port()}") is None  # nothing listening

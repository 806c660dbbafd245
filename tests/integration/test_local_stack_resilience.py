"""The embedded stack keeps its promises under overload and faults, with no one's help.

A real stack (`clickstream local up`: AWS server, broker, collector, archiver, consumer) in its own
state folder and ports. Clients push 500-event batches past what it can take, services are
killed with SIGKILL, and the AWS server is frozen for 30 s. Afterwards:
- every event id the collector acknowledged with a 2xx is in the raw archive;
- every other answer was a 503 with Retry-After (or the client's own timeout);
- every service is healthy again, by itself, within 30 s.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from support.local_stack import Stack, cleanup, make_stack

from clickstream.constants import RAW_EVENTS_PREFIX
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # whole stacks under overload, SIGKILL and a 30 s stall

SERVICES = "collector,archiver,consumer"
BATCH = 500
CLIENT_TIMEOUT = 30.0
RECOVERY_SECONDS = 30.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = make_stack(tmp_path_factory.mktemp("resilience") / ".clickstream")
    s.up("--services", SERVICES)
    yield s
    cleanup(s)


@dataclass
class Outcomes:
    acked: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)  # "200", "503+retry-after", "timeout", ...
    slowest: float = 0.0


def post_batch(stack: Stack, outcomes: Outcomes) -> None:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    events = [
        {"event_type": "page_view", "user_id": f"u{i % 50}", "event_id": str(uuid.uuid4()), "timestamp": at, "url": "/"}
        for i in range(BATCH)
    ]
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.collector_port}/v1/events",
        data=json.dumps(events).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Write-Key": stack.env.get("CLICKSTREAM_WRITE_KEY", "local-write-key"),
        },
        method="POST",
    )
    t0 = time.monotonic()
    try:
        with _OPENER.open(request, timeout=CLIENT_TIMEOUT) as resp:
            body = json.loads(resp.read())
            outcomes.acked.update(body["event_ids"])
            outcomes.answers[str(resp.status)] += 1
    except urllib.error.HTTPError as exc:
        retry = exc.headers.get("Retry-After")
        outcomes.answers[f"{exc.code}{'+retry-after' if retry else ''}"] += 1
    except (TimeoutError, urllib.error.URLError) as exc:
        outcomes.answers["timeout" if "timed out" in str(exc) else f"error: {exc}"] += 1
    outcomes.slowest = max(outcomes.slowest, time.monotonic() - t0)


def push(stack: Stack, *, clients: int, seconds: float, outcomes: Outcomes) -> None:
    """`clients` threads, each posting batches back to back for `seconds`."""
    until = time.monotonic() + seconds

    def client(_: int) -> None:
        while time.monotonic() < until:
            post_batch(stack, outcomes)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))


def archived_ids(stack: Stack) -> set[str]:
    settings = Settings.from_env(stack.env)
    s3 = boto3.client(
        "s3", endpoint_url=stack.endpoint, region_name=settings.region, aws_access_key_id="t", aws_secret_access_key="t"
    )
    ids: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.names.bucket, Prefix=RAW_EVENTS_PREFIX):
        for obj in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=settings.names.bucket, Key=obj["Key"])["Body"].read())
            ids.update(json.loads(line)["event_id"] for line in body.splitlines() if line)
    return ids


def wait_archived(stack: Stack, acked: set[str], timeout: float = 120.0) -> set[str]:
    """The acknowledged ids still missing from the raw archive once it stops growing (or at timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = acked - archived_ids(stack)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(3)


def wait_healthy(stack: Stack, timeout: float = RECOVERY_SECONDS) -> dict[str, str]:
    """{} once every service is healthy, else what was unhealthy at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        done = stack.cli("status", "--json", timeout=timeout)
        doc = json.loads(done.stdout) if done.stdout.strip() else {"services": []}
        sick = {s["name"]: s["detail"] for s in doc["services"] if not s["healthy"]}
        if done.returncode == 0 and not sick and doc["services"]:
            return {}
        if time.monotonic() > deadline:
            return sick or {"status": done.stderr[-300:]}
        time.sleep(1)


def supervised(stack: Stack, name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((stack.home / "supervisor" / f"{name}.json").read_text())
    return doc


def assert_answers_keep_the_promise(outcomes: Outcomes) -> None:
    unexpected = {k: v for k, v in outcomes.answers.items() if k not in ("200", "503+retry-after", "timeout")}
    assert not unexpected, f"answers other than 200, 503 + Retry-After or a client timeout: {outcomes.answers}"


def test_overload_loses_no_acknowledged_event_and_the_stack_recovers(stack: Stack) -> None:
    # GIVEN 16 clients pushing 500-event batches back to back, past what the stack takes
    outcomes = Outcomes()
    push(stack, clients=16, seconds=15, outcomes=outcomes)
    stopped = time.monotonic()

    # THEN every answer is a 200 or a 503 with Retry-After, well within the clients' timeout
    assert_answers_keep_the_promise(outcomes)
    assert outcomes.answers["200"] > 0 and outcomes.slowest < CLIENT_TIMEOUT, outcomes
    # AND the stack is responsive again within 30 s of the load stopping
    assert wait_healthy(stack) == {}
    assert time.monotonic() - stopped < RECOVERY_SECONDS + 15  # the status call itself may take a while
    # AND every acknowledged event reaches the raw archive
    assert wait_archived(stack, outcomes.acked) == set(), f"acknowledged but not archived ({outcomes.answers})"


@pytest.mark.parametrize("name", ["archiver", "consumer", "collector"])
def test_a_service_killed_with_sigkill_comes_back_and_nothing_acknowledged_is_lost(stack: Stack, name: str) -> None:
    assert wait_healthy(stack) == {}
    before = supervised(stack, name)
    # WHEN the service's process is killed outright, between two acknowledged batches
    outcomes = Outcomes()
    post_batch(stack, outcomes)
    os.kill(int(before["child_pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    # THEN its supervisor starts it again, counts it, and status shows why
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (now := supervised(stack, name))["child_pid"] in (None, before["child_pid"]):
        assert time.monotonic() < deadline, f"{name} was not restarted: {now}"
        time.sleep(0.2)
    assert now["restarts"] == int(before["restarts"]) + 1 and now["last_exit"] == "killed by SIGKILL"  # type: ignore[call-overload]
    assert wait_healthy(stack) == {}
    _, doc = stack.status()
    row = next(s for s in doc["services"] if s["name"] == name)
    assert row["restarts"] == now["restarts"] and "SIGKILL" in row["last_error"]
    post_batch(stack, outcomes)
    assert outcomes.answers["200"] == 2, outcomes.answers
    assert wait_archived(stack, outcomes.acked) == set()


def test_a_30_second_stall_of_the_aws_endpoint_is_ridden_out(stack: Stack) -> None:
    assert wait_healthy(stack) == {}
    aws = stack.pids()["aws"]
    outcomes = Outcomes()
    # GIVEN the AWS server frozen for 30 s while clients keep sending
    os.kill(aws, signal.SIGSTOP)
    try:
        push(stack, clients=4, seconds=8, outcomes=outcomes)
    finally:
        time.sleep(max(0.0, 30 - 8))
        os.kill(aws, signal.SIGCONT)
    # THEN the collector said "come back later" in bounded time instead of hanging
    assert_answers_keep_the_promise(outcomes)
    assert outcomes.answers["503+retry-after"] > 0 and outcomes.slowest < CLIENT_TIMEOUT, outcomes
    # AND once it answers again, every service is healthy and takes traffic without anyone's help
    assert wait_healthy(stack, timeout=60) == {}
    push(stack, clients=2, seconds=2, outcomes=outcomes)
    assert outcomes.answers["200"] > 0
    assert wait_archived(stack, outcomes.acked) == set()


def test_restart_state_lives_in_the_state_folder(stack: Stack) -> None:
    files = sorted(p.name for p in (stack.home / "supervisor").glob("*.json"))
    assert files == sorted(f"{n}.json" for n in SERVICES.split(","))
    assert all(isinstance(json.loads(Path(stack.home / "supervisor" / f).read_text())["restarts"], int) for f in files)

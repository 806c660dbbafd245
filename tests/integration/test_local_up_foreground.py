"""`clickstream local up --foreground --simulate` for real: live traffic until SIGINT, then a clean stop.

The command runs in a subprocess with its own state folder and free ports (never 4566, 8000,
8001 or 8080). Airflow is left out (`--services`): it takes a minute to start and adds nothing here.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psutil
import pytest
from support.local_stack import free_port, stack_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIVE = re.compile(r"events counted ([\d,]+)")
START_TIMEOUT = 120.0  # moto + provisioning + five services on a busy 2-core machine
STOP_TIMEOUT = 60.0


def _env(home: Path) -> dict[str, str]:
    return stack_env(home, free_port(), free_port())


def _records(home: Path) -> list[dict[str, Any]]:
    path = home / "state.json"
    return list(json.loads(path.read_text())["processes"]) if path.exists() else []


def _alive(record: dict[str, Any]) -> bool:
    """The recorded process (same pid and start time) still exists and is not a zombie."""
    try:
        proc = psutil.Process(record["pid"])
        return abs(proc.create_time() - record["create_time"]) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_members(pgid: int) -> list[int]:
    out = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return out


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The subprocess's output lines, read by a thread so waiting for one can time out."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _drain(lines: queue.Queue[str]) -> str:
    out = []
    while not lines.empty():
        out.append(lines.get())
    return "".join(out)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A state folder; whatever a test left recorded there is stopped (and killed if need be)."""
    home = tmp_path / ".clickstream"
    yield home
    left = _records(home)
    cmd = [sys.executable, "-m", "clickstream", "local", "down", "--purge"]
    subprocess.run(cmd, env=_env(home), capture_output=True, timeout=STOP_TIMEOUT)
    for record in left:
        if _alive(record):
            os.killpg(record["pid"], signal.SIGKILL)


def test_foreground_up_streams_live_traffic_and_sigint_stops_only_what_it_started(home: Path) -> None:
    env = _env(home)
    cli = [sys.executable, "-m", "clickstream", "local"]
    # GIVEN an AWS server already started in the background by an earlier `up`
    done = subprocess.run([*cli, "up", "--services", "aws"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    [aws_before] = _records(home)

    # WHEN the foreground stack with the simulator starts
    proc = subprocess.Popen(
        [*cli, "up", "--foreground", "--simulate", "40", "--services", "consumer,api,simulator", "--interval", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines, output, totals = _lines(proc.stdout), [], []  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        # THEN it prints live lines whose event count grows (the simulator's traffic got counted)
        while len(totals) < 2 or totals[-1] <= totals[0]:
            assert proc.poll() is None, "".join(output) + _drain(lines)
            assert time.monotonic() < deadline, "no growing live line in time:\n" + "".join(output)
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            output.append(line)
            if match := LIVE.search(line):
                totals.append(int(match.group(1).replace(",", "")))
        text = "".join(output)
        assert "dashboard" in text and "#key=" in text and "/docs" in text
        assert "services: 6/6 healthy" in text, text  # aws kafka collector consumer api simulator
        records = _records(home)
        assert {r["name"] for r in records} == {"aws", "kafka", "collector", "consumer", "api", "simulator"}
        started = [r for r in records if r["name"] != "aws"]
        assert all(_alive(r) for r in records)

        # WHEN it gets SIGINT (Ctrl-C)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=STOP_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)  # the reader thread's last lines
    text = "".join(output) + _drain(lines)
    # THEN it exits 0, having stopped every process it started, their children included ...
    assert code == 0, text
    assert "stopped 5 service(s)" in text, text
    for record in started:
        assert not _alive(record), f"{record['name']} (pid {record['pid']}) outlived the command"
        assert _group_members(record["pid"]) == [], f"{record['name']} left processes behind"
    # ... but not the AWS server that was running before, which stays recorded for `local down`
    assert _alive(aws_before)
    assert [r["name"] for r in _records(home)] == ["aws"]
    assert "left running (started before): aws" in text
    # AND the simulator ended cleanly on SIGTERM, saying what it sent
    simulator_log = (home / "logs" / "simulator.log").read_text()
    assert re.search(r"stopped: sent [1-9][\d,]* events", simulator_log), simulator_log

"""Process groups: `stop` ends exactly the group it started, never a process that reused the pid.

These start short-lived `sleep` processes (no servers), so they run with the unit tier.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import psutil
import pytest

from clickstream.local import processes


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _children_of(pid: int, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [p.pid for p in psutil.Process(pid).children()]
        if kids:
            return kids
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} started no child")


def test_stop_ends_the_whole_group_and_logs_go_to_the_file(tmp_path: Path) -> None:
    # GIVEN a shell that prints, then forks a grandchild, all in the session spawn() created
    log = tmp_path / "logs" / "svc.log"
    spawned = processes.spawn(["sh", "-c", "echo hello; sleep 60 & wait"], log=log, env=dict(os.environ))
    grandchild = _children_of(spawned.pid)[0]
    assert os.getpgid(grandchild) == spawned.pid
    assert processes.is_running(spawned.pid, spawned.create_time)
    # WHEN it is stopped
    how = processes.stop(spawned.pid, spawned.create_time, timeout=5)
    # THEN leader and grandchild are gone, and the output went to the log
    assert how in ("stopped", "killed")
    assert _gone(spawned.pid) and _gone(grandchild)
    assert not processes.is_running(spawned.pid, spawned.create_time)
    assert "hello" in processes.tail(log)


def test_a_term_ignoring_group_is_killed_after_the_timeout(tmp_path: Path) -> None:
    spawned = processes.spawn(["sh", "-c", "trap '' TERM; sleep 60"], log=tmp_path / "x.log", env=dict(os.environ))
    time.sleep(0.3)  # let the shell install its trap
    assert processes.stop(spawned.pid, spawned.create_time, timeout=0.5) == "killed"
    assert _gone(spawned.pid)


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    # GIVEN a live process whose recorded create time does not match (as after pid reuse)
    spawned = processes.spawn(["sleep", "60"], log=tmp_path / "x.log", env=dict(os.environ))
    try:
        stale = spawned.create_time - 1000
        assert not processes.is_running(spawned.pid, stale)
        # WHEN we are asked to stop "our" process with that pid
        assert processes.stop(spawned.pid, stale, timeout=0.5) == "gone"
        # THEN the stranger is untouched
        assert processes.is_running(spawned.pid, spawned.create_time)
    finally:
        processes.stop(spawned.pid, spawned.create_time, timeout=2)


def test_stopping_something_already_gone_is_fine(tmp_path: Path) -> None:
    spawned = processes.spawn(["true"], log=tmp_path / "x.log", env=dict(os.environ))
    spawned.popen.wait(timeout=5)
    assert not processes.is_running(spawned.pid, spawned.create_time)
    assert processes.stop(spawned.pid, spawned.create_time, timeout=0.5) == "gone"


def test_port_probes() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not processes.port_is_free("127.0.0.1", port)
        assert processes.can_connect("127.0.0.1", port)
    assert processes.port_is_free("127.0.0.1", port)
    assert not processes.can_connect("127.0.0.1", port, timeout=0.5)


@pytest.mark.parametrize(("lines", "expected"), [(2, ["c", "d"]), (10, ["a", "b", "c", "d"])])
def test_tail(tmp_path: Path, lines: int, expected: list[str]) -> None:
    (tmp_path / "f.log").write_text("a\nb\nc\nd\n")
    assert processes.tail(tmp_path / "f.log", lines) == expected
    assert processes.tail(tmp_path / "missing.log") == []

"""The stack's process supervisor: restarts a service that exits unexpectedly, with backoff and a
count; a stop signal stops it for good. The child processes here are real (`python -c ...`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from clickstream.local import supervisor
from clickstream.local.supervisor import backoff, describe_exit, read_state


@pytest.mark.parametrize(("failures", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (50, 30.0)])
def test_backoff_doubles_up_to_its_cap(failures: int, expected: float) -> None:
    assert backoff(failures, low=1.0, high=30.0) == expected


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"


def start(tmp_path: Path, child: str, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    state, log = tmp_path / "svc.json", tmp_path / "svc.log"
    argv = supervisor.command(sys.executable, "svc", state, [sys.executable, "-c", child], log=log)
    argv[argv.index("--") : argv.index("--")] = ["--min-backoff", "0.2", "--max-backoff", "0.4", *extra]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, state


def wait_for(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    pytest.fail(f"not within {timeout} s")


def test_a_crashing_child_is_restarted_with_its_count_and_last_error(tmp_path: Path) -> None:
    # GIVEN a service that logs an error and exits 3 at once
    proc, state = start(tmp_path, "import sys; print('boom: endpoint stalled', flush=True); sys.exit(3)")
    try:
        # THEN it is started again and again, each restart counted, with why it last stopped
        seen = wait_for(lambda: (s := read_state(state)) is not None and s.restarts >= 2 and s)
        assert seen.last_exit == "exit code 3" and seen.last_error == "boom: endpoint stalled"
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_a_killed_child_comes_back_and_sigterm_stops_both(tmp_path: Path) -> None:
    # GIVEN a long-running service
    proc, state = start(tmp_path, "import time; time.sleep(600)")
    first = wait_for(lambda: (s := read_state(state)) is not None and s.child_pid and s).child_pid
    # WHEN its process is killed outright
    os.kill(first, signal.SIGKILL)
    # THEN a new one runs, and the state says what happened
    again = wait_for(lambda: (s := read_state(state)) is not None and s.child_pid not in (None, first) and s)
    assert again.restarts == 1 and again.last_exit == "killed by SIGKILL"
    # WHEN the group is told to stop (as `clickstream local down` does), THEN both end, no restart
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) in (0, 128 + signal.SIGTERM, -signal.SIGTERM, 143)
    with pytest.raises(ProcessLookupError):
        os.kill(again.child_pid, 0)


def test_signalling_only_the_supervisor_passes_the_stop_on(tmp_path: Path) -> None:
    proc, state = start(tmp_path, "import time; time.sleep(600)")
    child = wait_for(lambda: (s := read_state(state)) is not None and s.child_pid and s).child_pid
    os.kill(proc.pid, signal.SIGTERM)  # not the group
    proc.wait(timeout=supervisor.FORWARD_AFTER + 10)
    wait_for(lambda: not _alive(child))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

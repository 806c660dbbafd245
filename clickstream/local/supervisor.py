"""Keep one of the stack's services running: restart it when it exits unexpectedly, with backoff.

`python -m clickstream.local.supervisor --name consumer --state FILE -- <command...>` runs the
command as its child, as a process supervisor (systemd's `Restart=on-failure`, supervisord)
would. When the child exits without being asked to, it is started again after a backoff that
doubles from `--min-backoff` up to `--max-backoff`, and starts over once a child has stayed up
for `--stable-after` seconds. SIGTERM or SIGINT is passed on to the child, and the supervisor
exits with the child's code once it has stopped, without restarting it.

The state file says how many times the service was restarted and why: `clickstream local status`
shows it. The child shares the supervisor's process group, so `clickstream local down` (which
signals the group) stops both, and a supervisor killed outright takes no child with it into
orphanhood: the group is still signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

LOG_PREFIX = "supervisor: "  # its own lines in the service's log (never taken for the service's error)
FORWARD_AFTER = 3.0  # seconds: see Supervisor._wait_child


@dataclass
class SupervisorState:
    name: str
    child_pid: int | None = None
    started_at: float | None = None  # when the current child started
    restarts: int = 0
    last_exit: str | None = None  # "exit code 1", "killed by SIGKILL"
    last_error: str | None = None  # the last line the child logged before it exited
    last_exit_at: float | None = None
    next_start_at: float | None = None  # set while waiting to restart

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def read_state(path: Path) -> SupervisorState | None:
    """What the supervisor last wrote, or None (no file, or a partial one)."""
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
        return SupervisorState(**doc)
    except (OSError, ValueError, TypeError):
        return None


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def backoff(failures: int, *, low: float, high: float) -> float:
    """Seconds before restart number `failures` (1, 2, ...): low, 2*low, 4*low, ... capped at high."""
    return float(min(high, low * 2 ** max(failures - 1, 0)))


def last_line(log: Path | None) -> str | None:
    """The last non-blank line of the child's log (its error, usually), at most 300 characters."""
    if log is None:
        return None
    try:
        with log.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16 * 1024))
            text = fh.read().decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(LOG_PREFIX)]
    except OSError:
        return None
    return lines[-1][:300] if lines else None


class Supervisor:
    def __init__(
        self,
        command: Sequence[str],
        *,
        state: SupervisorState,
        state_file: Path,
        log: Path | None,
        min_backoff: float,
        max_backoff: float,
        stable_after: float,
    ) -> None:
        self.command = list(command)
        self.state, self.state_file, self.log = state, state_file, log
        self.min_backoff, self.max_backoff, self.stable_after = min_backoff, max_backoff, stable_after
        self._stopping = False
        self._stop_signal: int = signal.SIGTERM
        self._stop_at = 0.0

    def stop(self, signum: int, frame: FrameType | None = None) -> None:
        if not self._stopping:
            self._stopping, self._stop_signal, self._stop_at = True, signum, time.monotonic()

    def _wait_child(self, child: subprocess.Popen[bytes]) -> int:
        """The child's exit code. A stop signal reaches it from the process group (`local down`
        signals the group); it is passed on only if the child is still running FORWARD_AFTER
        seconds later, i.e. when only the supervisor was signalled (a second SIGTERM would make
        uvicorn skip its graceful shutdown)."""
        forwarded = False
        while True:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return child.wait(timeout=0.1)
            if self._stopping and not forwarded and time.monotonic() - self._stop_at >= FORWARD_AFTER:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(self._stop_signal)
                forwarded = True

    def run(self) -> int:
        failures = 0
        while True:
            started = time.time()
            child = subprocess.Popen(self.command)  # inherits stdout/stderr: the service's log
            self._save(child_pid=child.pid, started_at=started, next_start_at=None)
            code = self._wait_child(child)
            if self._stopping:
                self._save(child_pid=None)
                return code if code >= 0 else 128 - code
            ran = time.time() - started
            failures = 1 if ran >= self.stable_after else failures + 1
            wait = backoff(failures, low=self.min_backoff, high=self.max_backoff)
            why, error = describe_exit(code), last_line(self.log)  # before our own line below
            print(
                f"{LOG_PREFIX}{self.state.name} ({why}) after {ran:.1f}s; restart {self.state.restarts + 1} in {wait:.1f}s",
                file=sys.stderr,
                flush=True,
            )
            self._save(
                child_pid=None,
                last_exit=why,
                last_error=error,
                last_exit_at=time.time(),
                next_start_at=time.time() + wait,
            )
            deadline = time.monotonic() + wait
            while not self._stopping and time.monotonic() < deadline:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
            if self._stopping:
                self._save(next_start_at=None)
                return 0
            self.state.restarts += 1

    def _save(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(self.state.to_json())
        tmp.replace(self.state_file)  # readers never see half a file


def command(
    python: str,
    name: str,
    state_file: Path,
    child: Sequence[str],
    *,
    log: Path | None = None,
) -> list[str]:
    """The argv that runs `child` under a supervisor."""
    argv = [python, "-m", "clickstream.local.supervisor", "--name", name, "--state", str(state_file)]
    if log is not None:
        argv += ["--log", str(log)]
    return [*argv, "--", *child]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m clickstream.local.supervisor",
        description="Run a command; restart it with backoff whenever it exits without being asked to.",
    )
    p.add_argument("--name", required=True, help="the service's name (for the log and the state file)")
    p.add_argument("--state", required=True, type=Path, help="JSON file: restarts, last exit and error")
    p.add_argument("--log", type=Path, help="the child's log file, read for the last error line")
    p.add_argument("--min-backoff", type=float, default=1.0, help="seconds before the first restart (default 1)")
    p.add_argument("--max-backoff", type=float, default=30.0, help="longest wait between restarts (default 30)")
    p.add_argument(
        "--stable-after", type=float, default=60.0, help="a child up this long resets the backoff (default 60)"
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    args = p.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        p.error("no command given (put it after --)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    previous = read_state(args.state)
    state = SupervisorState(name=args.name, restarts=previous.restarts if previous else 0)
    if previous is not None:
        state.last_exit, state.last_error, state.last_exit_at = (
            previous.last_exit,
            previous.last_error,
            previous.last_exit_at,
        )
    supervisor = Supervisor(
        args.command,
        state=state,
        state_file=args.state,
        log=args.log,
        min_backoff=args.min_backoff,
        max_backoff=args.max_backoff,
        stable_after=args.stable_after,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())

"""The processes of a run: start them, wait for them, sample their CPU, stop them.

Each process is started in a session of its own (its pid is its process-group id), so `stop`
signals exactly the group we started (uvicorn's worker processes included) and Ctrl-C in the
terminal reaches only the benchmark, whose `finally` stops the rest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never via a proxy
# Settings the developer's shell may carry that must not leak into the measured processes.
_SCRUB_PREFIXES = ("CLICKSTREAM_", "AWS_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now (never 4566 or 8000: the OS picks from its ephemeral range)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus clickstream/AWS/proxy settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(overrides)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path | None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start(name: str, command: Sequence[str], *, env: Mapping[str, str], log: Path | None, pipe: bool = False) -> Proc:
    """Start `command` in its own session; output to `log`, or stdout to a pipe when `pipe`."""
    sink = log.open("ab") if log is not None else None
    target = sink if sink is not None else subprocess.DEVNULL
    try:
        popen = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipe else target,
            stderr=target if pipe else subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    finally:
        if sink is not None:
            sink.close()  # the child holds its own descriptor
    return Proc(name, popen, log)


def stop(proc: Proc, timeout: float = 10.0) -> None:
    """SIGTERM the process group we started, SIGKILL it if it lingers; reap the leader."""
    pgid = proc.pid
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None and not _group_alive(pgid):
                return
            time.sleep(0.05)
    proc.popen.poll()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies keep the group "alive" to killpg; only live members count.
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def wait_http(url: str, proc: Proc, *, timeout: float = 30.0) -> None:
    """Return once GET `url` answers 2xx; raise RuntimeError (with the log tail) if `proc` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with _NO_PROXY.open(url, timeout=1.0) as resp:
                if 200 <= resp.status < 300:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f}s:\n{proc.tail()}")


def post(url: str, timeout: float = 10.0) -> None:
    """POST with an empty body (moto's /moto-api/reset)."""
    with _NO_PROXY.open(urllib.request.Request(url, data=b"", method="POST"), timeout=timeout) as resp:
        resp.read()


def tree_cpu(pid: int | None) -> float:
    """User + system CPU seconds of `pid` and all its live descendants (0 if it is gone)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def machine_busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy (all cores), since boot."""
    t = psutil.cpu_times()
    return float(
        t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0) + getattr(t, "steal", 0.0)
    )


def python() -> str:
    return sys.executable

"""Start, recognise and stop the stack's processes; probe local ports.

Every process is started as the leader of a new session (`start_new_session=True`), so its
pid is also its process-group id and `stop()` can signal the whole group: the children a
server forks go down with it, and nothing outside the group is ever touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

_SAME_START_TOLERANCE = 0.05  # seconds: create times come from /proc in clock ticks
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes via a proxy


@dataclass(frozen=True)
class Spawned:
    pid: int
    create_time: float
    popen: subprocess.Popen[bytes]


def spawn(command: Sequence[str], *, log: Path, env: Mapping[str, str]) -> Spawned:
    """Start `command` in its own session with stdout and stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
        out.flush()
        popen = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,  # own process group: `down` kills exactly it, Ctrl-C here does not
            close_fds=True,
        )
    created = create_time(popen.pid)
    return Spawned(pid=popen.pid, create_time=created if created is not None else time.time(), popen=popen)


def create_time(pid: int) -> float | None:
    """When `pid` started (zombies included), or None if there is no such process."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def is_running(pid: int, started: float) -> bool:
    """True when `pid` is alive (not a zombie) and is the process that started at `started`."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - started) > _SAME_START_TOLERANCE:
            return False  # the pid was reused by another process
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def stop(pid: int, started: float, *, timeout: float = 10.0) -> str:
    """Stop the process group led by `pid`: SIGTERM, wait, SIGKILL after `timeout`.

    Returns "stopped", "killed" or "gone". When `pid` now belongs to another process nothing is
    signalled: Linux never reuses a number still in use as a process-group id, so our group
    has no members left in that case.
    """
    current = create_time(pid)
    if current is not None and abs(current - started) > _SAME_START_TOLERANCE:
        return "gone"
    if not _signal_group(pid, signal.SIGTERM):
        return "gone"
    if _wait_group_gone(pid, timeout):
        return "stopped"
    _signal_group(pid, signal.SIGKILL)
    _wait_group_gone(pid, 5.0)
    return "killed"


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return True
        time.sleep(0.05)
    return not _group_alive(pgid)


def _group_alive(pgid: int) -> bool:
    """Any non-zombie member left in the group? (Zombies wait for a parent that may never reap.)"""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pgid, os.WNOHANG)  # reap it if it is our own child (the Python API case)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def port_is_free(host: str, port: int) -> bool:
    """Can a server bind `host:port` right now? (SO_REUSEADDR as servers use: TIME_WAIT is no conflict.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_holder(port: int) -> str:
    """'pid 123 (python)' of whatever listens on `port`, when the OS tells us."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.Error, OSError):
        pass
    return ""


def can_connect(host: str, port: int, *, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(url: str, *, timeout: float = 1.5) -> tuple[int, bytes] | None:
    """(status, body) of a GET, or None when nothing answers HTTP there in time."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as resp:
            return int(resp.status), resp.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(1 << 20)
    except (OSError, ValueError):  # refused, reset, timed out, not HTTP
        return None


def http_json(url: str, *, timeout: float = 1.5) -> Any:
    """The decoded JSON body of a 2xx GET, or None."""
    import json

    got = http_get(url, timeout=timeout)
    if got is None or not 200 <= got[0] < 300:
        return None
    try:
        return json.loads(got[1])
    except ValueError:
        return None


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last `lines` lines of a log file (empty when it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]

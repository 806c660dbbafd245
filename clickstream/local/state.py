"""The embedded stack's state folder: `state.json` (what `local up` started) and `logs/<name>.log`.

`state.json` is the only thing `local down` trusts: it stops exactly the processes recorded
there, so every field needed to recognise them again is kept, including the process create
time (a recorded pid that now belongs to another process is never signalled).
Writes are atomic (temp file + fsync + rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clickstream.errors import ConfigError

STATE_FILE = "state.json"
SUPERVISOR_DIR = "supervisor"
LOGS_DIR = "logs"
LOCK_FILE = ".lock"
STATE_VERSION = 1


@dataclass(frozen=True)
class ProcessRecord:
    """One process the stack started (the leader of its own session and process group)."""

    name: str
    pid: int
    command: tuple[str, ...]
    port: int | None
    url: str | None
    log: str
    started_at: float  # epoch seconds
    create_time: float  # the OS's start time of `pid`: tells our process from a reused pid
    env: Mapping[str, str] = field(default_factory=dict)  # the settings it was given (to spot changes)


@dataclass(frozen=True)
class ExternalService:
    """A server the stack uses but did not start (LocalStack, someone else's moto); never stopped."""

    name: str
    url: str
    kind: str  # "localstack" | "moto"


@dataclass
class StackState:
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    external: dict[str, ExternalService] = field(default_factory=dict)

    def forget(self, name: str) -> None:
        self.processes.pop(name, None)
        self.external.pop(name, None)

    @property
    def empty(self) -> bool:
        return not self.processes and not self.external


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def log_path(home: Path, name: str) -> Path:
    return home / LOGS_DIR / f"{name}.log"


def supervisor_path(home: Path, name: str) -> Path:
    """Where a supervised service's restarts and last error are kept (`clickstream.local.supervisor`)."""
    return home / SUPERVISOR_DIR / f"{name}.json"


def dumps(state: StackState) -> str:
    """Serialise to the `state.json` format (pure)."""
    doc = {
        "version": STATE_VERSION,
        "processes": [asdict(p) | {"command": list(p.command), "env": dict(p.env)} for p in state.processes.values()],
        "external": [asdict(e) for e in state.external.values()],
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def loads(text: str) -> StackState:
    """Parse `state.json` (pure); raises ConfigError on anything it cannot trust."""
    try:
        doc: dict[str, Any] = json.loads(text)
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
        procs = [_process(p) for p in doc.get("processes", [])]
        ext = [ExternalService(name=e["name"], url=e["url"], kind=e["kind"]) for e in doc.get("external", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"unreadable stack state: {exc}") from exc
    return StackState(processes={p.name: p for p in procs}, external={e.name: e for e in ext})


def _process(doc: dict[str, Any]) -> ProcessRecord:
    return ProcessRecord(
        name=str(doc["name"]),
        pid=int(doc["pid"]),
        command=tuple(str(a) for a in doc["command"]),
        port=None if doc.get("port") is None else int(doc["port"]),
        url=doc.get("url"),
        log=str(doc["log"]),
        started_at=float(doc["started_at"]),
        create_time=float(doc["create_time"]),
        env={str(k): str(v) for k, v in (doc.get("env") or {}).items()},
    )


def load_state(home: Path) -> StackState:
    """The recorded state; empty when nothing was ever started (or `down` cleaned it)."""
    path = state_path(home)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return StackState()
    try:
        return loads(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}; remove it (processes it lists may still be running)") from exc


def save_state(home: Path, state: StackState) -> None:
    """Write `state.json` atomically; an empty state removes the file."""
    path = state_path(home)
    if state.empty:
        path.unlink(missing_ok=True)
        return
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(dumps(state))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""The embedded stack's Python API: `LocalStack(settings).up() / .status() / .down()`.

`up` starts the declared services (`clickstream.local.services.SERVICES`) wave by wave in
dependency order, records each process in `state.json` as soon as it exists, waits for its
health check and, when one fails, prints its log tail and stops what this call started.
Services already running with the same command and settings are left alone. `down` stops
exactly the recorded processes. What `status` and `resources` report is worked out in
`clickstream.local.stack_status`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from clickstream.errors import ConfigError
from clickstream.local import processes, supervisor
from clickstream.local.services import (
    SERVICES,
    PortInUseError,
    StackError,
    is_loopback,
    kafka_bootstrap,
    port_in_use_message,
    process_env,
    resolve,
    settings_env,
    waves,
)
from clickstream.local.spec import Health, ServiceSpec
from clickstream.local.stack_status import ServiceStatus, aws_resources, service_statuses
from clickstream.local.state import (
    LOCK_FILE,
    ProcessRecord,
    StackState,
    load_state,
    log_path,
    save_state,
    supervisor_path,
)
from clickstream.settings import TRANSPORTS, Settings, Transport

LOG_TAIL_LINES = 25
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str  # "started" | "restarted" | "already running" | "external"
    pid: int | None
    url: str | None
    detail: str = ""


@dataclass(frozen=True)
class UpReport:
    services: tuple[Outcome, ...]
    provisioned: tuple[str, ...]  # what the after-healthy hooks did (provisioning)
    home: Path

    def url(self, name: str) -> str | None:
        return next((o.url for o in self.services if o.name == name), None)


@dataclass(frozen=True)
class DownReport:
    stopped: tuple[tuple[str, str], ...]  # (service, "stopped" | "killed" | "gone")
    left_running: tuple[str, ...]  # servers we used but did not start
    purged: bool


class LocalStack:
    """Start, inspect and stop the embedded stack described by `settings` (state in `settings.home`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        specs: Sequence[ServiceSpec] = SERVICES,
        python: str | None = None,
        notify: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = settings.home.resolve()
        self.settings = replace(settings, home=self.home)
        self.specs = tuple(specs)
        self._by_name = {s.name: s for s in self.specs}
        self._python = python or sys.executable
        self._notify = notify or (lambda message: None)
        self._base_env = dict(os.environ if env is None else env)
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return log_path(self.home, name)

    # --- up -------------------------------------------------------------------------------------

    def up(
        self, services: Iterable[str] | None = None, *, transport: str | None = None, timeout: float | None = None
    ) -> UpReport:
        """Start `services` (default: all) and what they depend on; a no-op for healthy ones."""
        selected = resolve(self.specs, services)
        if transport is not None and transport not in TRANSPORTS:
            raise ConfigError(f"transport {transport!r}: expected one of {', '.join(TRANSPORTS)}")
        settings = replace(self.settings, transport=cast(Transport, transport or self.settings.transport))
        outcomes: list[Outcome] = []
        hooks: list[str] = []
        started: list[str] = []
        with self._locked():
            state = load_state(self.home)
            self._preflight(selected, state, settings)
            try:
                for wave in waves(selected):
                    settings = self._with_kafka(settings, state)
                    outcomes += self._start_wave(wave, state, settings, timeout, started)
                    for spec in wave:
                        if spec.after_healthy is not None:
                            hooks.append(spec.after_healthy(self._with_kafka(settings, state)))
                            self._notify(hooks[-1])
            except BaseException:
                self._rollback(state, started)
                raise
        return UpReport(services=tuple(outcomes), provisioned=tuple(hooks), home=self.home)

    def _start_wave(
        self, wave: list[ServiceSpec], state: StackState, settings: Settings, timeout: float | None, started: list[str]
    ) -> list[Outcome]:
        """Start the wave's services together, then wait for each to be healthy."""
        outcomes, pending = [], []
        for spec in wave:
            outcome = self._ensure(spec, state, settings)
            save_state(self.home, state)  # recorded before we wait: `down` can always find it
            if outcome.action in ("started", "restarted"):
                started.append(spec.name)
                pending.append(outcome)
            else:
                outcomes.append(outcome)
                self._notify(_describe(outcome))
        for outcome in pending:
            spec, record = self._by_name[outcome.name], state.processes[outcome.name]
            self._await_healthy(spec, record, settings, timeout)
            # some addresses are only known once the service is up (the broker's random port)
            url = spec.url(self._with_kafka(settings, state))
            state.processes[spec.name] = replace(record, url=url)
            outcomes.append(replace(outcome, url=url))
            self._notify(_describe(outcomes[-1]))
        save_state(self.home, state)
        return outcomes

    def _preflight(self, selected: Sequence[ServiceSpec], state: StackState, settings: Settings) -> None:
        """Fail before starting anything when a port we will need is taken (and cannot be adopted)."""
        for spec in selected:
            bind, record = spec.bind(settings), state.processes.get(spec.name)
            if bind is None or spec.adopt is not None or not is_loopback(bind[0]):
                continue
            if record is not None and processes.is_running(record.pid, record.create_time):
                continue  # ours: `_ensure` decides whether it stays
            if not processes.port_is_free(*bind):
                raise PortInUseError(port_in_use_message(spec, bind[0], bind[1], processes.port_holder(bind[1])))

    def _ensure(self, spec: ServiceSpec, state: StackState, settings: Settings) -> Outcome:
        env = settings_env(settings, spec, transport=settings.transport, kafka_bootstrap=settings.kafka_bootstrap)
        command = spec.command(settings, self._python)
        if spec.supervised:
            command = supervisor.command(
                self._python,
                spec.name,
                supervisor_path(self.home, spec.name),
                command,
                log=log_path(self.home, spec.name),
            )
        action = "started"
        record = state.processes.get(spec.name)
        if record is not None:
            if processes.is_running(record.pid, record.create_time):
                changed = _changes(record, command, env)
                health = None if changed else self._health_within(spec, record, settings, spec.start_timeout)
                if health is not None and health.ok:
                    return Outcome(spec.name, "already running", record.pid, record.url)
                reason = (
                    f"configuration changed ({changed})"
                    if changed
                    else f"unhealthy ({health.detail if health else ''})"
                )
            else:
                reason = f"pid {record.pid} is not running"
            self._notify(f"{spec.name}: {reason}; restarting")
            processes.stop(record.pid, record.create_time, timeout=STOP_TIMEOUT)  # also ends orphans it left
            action = "restarted"
        state.forget(spec.name)
        bind = spec.bind(settings)
        if bind is not None and (not is_loopback(bind[0]) or not processes.port_is_free(*bind)):
            external = spec.adopt(settings) if spec.adopt else None
            if external is not None:
                state.external[spec.name] = external
                return Outcome(spec.name, "external", None, external.url, f"using the {external.kind} already there")
            if not is_loopback(bind[0]):
                raise StackError(f"{spec.name}: nothing usable answers at {spec.url(settings)} (set {spec.port_env})")
            raise PortInUseError(port_in_use_message(spec, bind[0], bind[1], processes.port_holder(bind[1])))
        log = log_path(self.home, spec.name)
        if spec.supervised:
            supervisor_path(self.home, spec.name).unlink(missing_ok=True)  # a new start counts from 0
        started_at = time.time()
        spawned = processes.spawn(command, log=log, env=process_env(self._base_env, env))
        self._children[spawned.pid] = spawned.popen
        state.processes[spec.name] = ProcessRecord(
            name=spec.name,
            pid=spawned.pid,
            command=tuple(command),
            port=bind[1] if bind else None,
            url=spec.url(settings),
            log=str(log),
            started_at=started_at,
            create_time=spawned.create_time,
            env=env,
        )
        return Outcome(spec.name, action, spawned.pid, spec.url(settings))

    def _await_healthy(
        self, spec: ServiceSpec, record: ProcessRecord, settings: Settings, timeout: float | None
    ) -> None:
        limit = timeout or spec.start_timeout
        deadline = time.monotonic() + limit
        while True:
            if not processes.is_running(record.pid, record.create_time):
                popen = self._children.get(record.pid)
                code = popen.poll() if popen else None
                raise StackError(_failure(f"{spec.name} exited while starting (exit code {code})", record))
            health = spec.health(settings, record, time.time())
            if health.ok:
                return
            if time.monotonic() > deadline:
                raise StackError(_failure(f"{spec.name} not healthy after {limit:.0f}s ({health.detail})", record))
            time.sleep(0.1)

    def _health_within(self, spec: ServiceSpec, record: ProcessRecord, settings: Settings, limit: float) -> Health:
        """Give a running service (maybe still starting, maybe busy) `limit` seconds to look healthy."""
        deadline = time.monotonic() + limit
        while True:
            health = spec.health(settings, record, time.time())
            if health.ok or time.monotonic() > deadline or not processes.is_running(record.pid, record.create_time):
                return health
            time.sleep(0.2)

    def _rollback(self, state: StackState, started: list[str]) -> None:
        for name in reversed(started):
            record = state.processes.get(name)
            if record is not None:
                processes.stop(record.pid, record.create_time, timeout=STOP_TIMEOUT)
                self._notify(f"{name}: stopped (pid {record.pid})")
            state.forget(name)
        save_state(self.home, state)

    def _with_kafka(self, settings: Settings, state: StackState) -> Settings:
        record = state.processes.get("kafka")
        bootstrap = kafka_bootstrap(settings, record.pid) if record else None
        return replace(settings, kafka_bootstrap=bootstrap) if bootstrap else settings

    # --- down -----------------------------------------------------------------------------------

    def down(self, purge: bool = False, *, only: Iterable[str] | None = None) -> DownReport:
        """Stop exactly the recorded processes (dependents first) and clean the state.

        With `only`, just those of the named services that are recorded (what one foreground
        `up` started); the rest keep running and stay recorded.
        """
        stopped: list[tuple[str, str]] = []
        wanted = None if only is None else set(only)
        with self._locked():
            state = load_state(self.home)
            names = [n for n in self._order(state.processes) if wanted is None or n in wanted]
            for name in reversed(names):
                record = state.processes[name]
                how = processes.stop(record.pid, record.create_time, timeout=STOP_TIMEOUT)
                stopped.append((name, how))
                self._notify(f"{name}: {how} (pid {record.pid})")
                for owned in self._by_name[name].files if name in self._by_name else ():
                    (self.home / owned).unlink(missing_ok=True)
                supervisor_path(self.home, name).unlink(missing_ok=True)
                state.forget(name)
                save_state(self.home, state)
            if only is not None:
                return DownReport(stopped=tuple(stopped), left_running=(), purged=False)
            left = tuple(f"{e.name}: {e.kind} at {e.url}" for e in state.external.values())
            for line in left:
                self._notify(f"{line} was not started by clickstream; left running")
            save_state(self.home, StackState())
            if purge:
                shutil.rmtree(self.home, ignore_errors=True)
        return DownReport(stopped=tuple(stopped), left_running=left, purged=purge)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> list[ServiceStatus]:
        """Every recorded service with its health; empty when nothing is recorded."""
        state = load_state(self.home)
        names = self._order([*state.processes, *state.external])
        return service_statuses(state, names, self._by_name, settings=self.settings, base_env=self._base_env)

    def resources(self, statuses: Sequence[ServiceStatus] | None = None) -> dict[str, Any] | None:
        """The platform's resources on the AWS server (None when it is not up)."""
        return aws_resources(statuses if statuses is not None else self.status(), self.settings)

    # --- helpers --------------------------------------------------------------------------------

    def _order(self, names: Iterable[str]) -> list[str]:
        names = list(dict.fromkeys(names))
        known = [s.name for s in resolve(self.specs, [n for n in names if n in self._by_name])]
        return [n for n in known if n in names] + [n for n in names if n not in self._by_name]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up`/`down` at a time per state folder."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / LOCK_FILE, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._notify(f"waiting for another `clickstream local` command using {self.home}")
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield


def _changes(record: ProcessRecord, command: Sequence[str], env: Mapping[str, str]) -> str:
    if tuple(command) != record.command:
        return "command"
    diff = sorted(k for k in set(env) | set(record.env) if env.get(k) != record.env.get(k))
    return ", ".join(diff)


def _describe(o: Outcome) -> str:
    where = f" at {o.url}" if o.url else ""
    if o.action == "external":
        return f"{o.name}: {o.detail}{where}"
    return f"{o.name}: {o.action} (pid {o.pid}){where}"


def _failure(headline: str, record: ProcessRecord) -> str:
    lines = processes.tail(Path(record.log), LOG_TAIL_LINES)
    body = "\n".join(f"  | {line}" for line in lines) or "  (the log is empty)"
    return f"{headline}\nlast {len(lines)} lines of {record.log}:\n{body}"

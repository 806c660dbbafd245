"""What the embedded stack is doing now: one `ServiceStatus` per recorded service, and the resources.

Read-only: reads the recorded state, checks each recorded process and probes its health with
the settings it was started with, and never starts, stops or records anything. A server the
stack adopted (a LocalStack or moto that already answered) is probed where it was found.
`LocalStack.status()` and `LocalStack.resources()` are the entry points.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from clickstream.adapters.inventory import resource_summary
from clickstream.errors import ConfigError
from clickstream.local import processes
from clickstream.local.services import endpoint_address
from clickstream.local.spec import Health, ServiceSpec
from clickstream.local.state import ExternalService, ProcessRecord, StackState, supervisor_path
from clickstream.local.supervisor import read_state as read_supervisor
from clickstream.settings import Settings


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int | None
    url: str | None
    running: bool
    healthy: bool
    uptime_seconds: float | None
    log: str | None
    external: str | None  # "localstack" | "moto" when the stack uses a server it did not start
    detail: str
    restarts: int | None = None  # times its supervisor restarted it since `up` (None: not supervised)
    last_error: str | None = None  # why it last exited, and the last line it logged

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def service_statuses(
    state: StackState,
    names: Sequence[str],
    specs: Mapping[str, ServiceSpec],
    *,
    settings: Settings,
    base_env: Mapping[str, str],
) -> list[ServiceStatus]:
    """The status of each of `names` (recorded in `state`), in that order."""
    now = time.time()
    out: list[ServiceStatus] = []
    for name in names:
        spec = specs.get(name)
        if name in state.external:
            out.append(_external_status(name, state.external[name], spec, settings, now))
        else:
            out.append(_process_status(name, state.processes[name], spec, base_env, now))
    return out


def aws_resources(statuses: Sequence[ServiceStatus], settings: Settings) -> dict[str, Any] | None:
    """The platform's resources on the AWS server (None when it is not up)."""
    aws = next((s for s in statuses if s.name == "aws"), None)
    if aws is None or not aws.healthy or not aws.url:
        return None
    return resource_summary(replace(settings, endpoint_url=aws.url))


def _external_status(
    name: str, ext: ExternalService, spec: ServiceSpec | None, settings: Settings, now: float
) -> ServiceStatus:
    # only the AWS server is ever adopted: probe the URL it was found at
    there = replace(settings, endpoint_url=ext.url)
    health = spec.health(there, None, now) if spec else Health(False, "unknown service")
    return ServiceStatus(
        name,
        None,
        _port(ext.url),
        ext.url,
        health.ok,
        health.ok,
        None,
        None,
        ext.kind,
        "not started by clickstream" if health.ok else health.detail,
    )


def _process_status(
    name: str, rec: ProcessRecord, spec: ServiceSpec | None, base_env: Mapping[str, str], now: float
) -> ServiceStatus:
    running = processes.is_running(rec.pid, rec.create_time)
    # Health is checked against the settings the process was given, not today's environment.
    settings = Settings.from_env({**base_env, **rec.env})
    if not running:
        health = Health(False, "not running")
    elif spec is None:
        health = Health(True, "running (no health check known)")
    else:
        health = spec.health(settings, rec, now)
    url = spec.url(settings) if spec and running else rec.url
    supervised = read_supervisor(supervisor_path(settings.home, name)) if spec and spec.supervised else None
    restarts = 0 if spec is not None and spec.supervised else None
    last_error, uptime = None, now - rec.started_at if running else None
    if supervised is not None:
        restarts = supervised.restarts
        if supervised.last_exit:
            last_error = supervised.last_exit + (f": {supervised.last_error}" if supervised.last_error else "")
        if supervised.child_pid is None and running:
            health = Health(False, f"restarting ({supervised.last_exit})")
        elif supervised.started_at is not None and running:
            uptime = now - supervised.started_at  # of the current child, not of its supervisor
    return ServiceStatus(
        name,
        rec.pid,
        rec.port,
        url,
        running,
        health.ok,
        uptime,
        rec.log,
        None,
        health.detail,
        restarts,
        last_error,
    )


def _port(url: str) -> int | None:
    try:
        return endpoint_address(url)[1]
    except ConfigError:
        return None

"""The shape of one embedded-stack service: `ServiceSpec`, and the `Health` its check returns.

`clickstream.local.services` declares the stack's services with it; `clickstream.local.airflow`
and `clickstream.local.prometheus` declare theirs, which `services` appends to `SERVICES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clickstream.local.state import ExternalService, ProcessRecord
from clickstream.settings import Settings


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    description: str
    command: Callable[[Settings, str], list[str]]  # (settings, python executable) -> argv
    health: Callable[[Settings, ProcessRecord | None, float], Health]  # (settings, record, now)
    depends_on: tuple[str, ...] = ()
    bind: Callable[[Settings], tuple[str, int] | None] = lambda s: None  # the address it listens on
    port_env: str | None = None  # the variable that moves it to another port
    url: Callable[[Settings], str | None] = lambda s: None
    app: bool = False  # app services get CLICKSTREAM_TRANSPORT
    adopt: Callable[[Settings], ExternalService | None] | None = None  # use a server already there
    after_healthy: Callable[[Settings], str] | None = None  # e.g. provisioning; returns what it did
    extra_env: Callable[[Settings], dict[str, str]] = lambda s: {}
    files: tuple[str, ...] = ()  # files in the state folder it owns (removed by `down`)
    start_timeout: float = 30.0
    default: bool = True  # False: started only when named (`--services`), e.g. the traffic simulator
    # Run under clickstream.local.supervisor: restarted with backoff when it exits unexpectedly.
    # Not the servers that hold the stack's data in memory (aws, kafka): a restart would empty them.
    supervised: bool = False

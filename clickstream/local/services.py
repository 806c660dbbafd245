"""What the embedded stack runs, declared in one list: `SERVICES`.

A later service (stream consumers, Airflow, the API, Prometheus) is one more `ServiceSpec` (`local.spec`)
appended to `SERVICES`: a name, how to build its command, the address it binds (if any),
a health check and what it depends on. The orchestration lives in `clickstream.local.stack`.
The helpers at the bottom (ordering, env, address parsing) are pure and unit-tested.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from clickstream import constants as c
from clickstream.errors import ClickstreamError, ConfigError
from clickstream.local import processes
from clickstream.local.airflow import airflow_services
from clickstream.local.prometheus import optional_services
from clickstream.local.spec import Health, ServiceSpec
from clickstream.local.state import ExternalService, ProcessRecord
from clickstream.settings import KAFKA_STATE_FILE, Settings

APP_HOST = "127.0.0.1"  # the app services never listen beyond loopback
MIN_ALIVE_SECONDS = 1.0  # a portless worker counts as started once it survived this long


class StackError(ClickstreamError):
    """A service could not be started, stopped or found; the message says which and why."""


class PortInUseError(ConfigError):
    """A port a service needs is taken by something the stack did not start."""


LOCAL_ARCHIVE_FLUSH_SECONDS = 10
# The simulator's rate when none is given: steady live traffic well within what the embedded
# speed layer (one consumer over moto) keeps up with.
DEFAULT_SIMULATE_RATE = c.DEFAULT_SIMULATE_RATE


# --- aws: moto server, or a LocalStack / moto that already answers on the endpoint -------------


def aws_endpoint(settings: Settings) -> str:
    if not settings.endpoint_url:
        raise ConfigError(f"the local stack needs {c.ENV_ENDPOINT} (stage {settings.stage!r} has none)")
    return settings.endpoint_url.rstrip("/")


def probe_aws(url: str, *, timeout: float = 1.5) -> str | None:
    """ "localstack", "moto", "other" (answers, but is neither) or None (no HTTP answer)."""
    got = processes.http_get(f"{url}/_localstack/health", timeout=timeout)
    if got is None:
        return None
    if 200 <= got[0] < 300:
        try:
            if isinstance(json.loads(got[1]).get("services"), dict):
                return "localstack"
        except (ValueError, AttributeError):
            pass
    config = processes.http_json(f"{url}/moto-api/config", timeout=timeout)
    return "moto" if isinstance(config, dict) and "lambda" in config else "other"


def _aws_health(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
    kind = probe_aws(aws_endpoint(settings))
    return Health(kind in ("moto", "localstack"), kind or "no answer")


def _aws_adopt(settings: Settings) -> ExternalService | None:
    url = aws_endpoint(settings)
    kind = probe_aws(url)
    return ExternalService(name="aws", url=url, kind=kind) if kind in ("moto", "localstack") else None


def _provision(settings: Settings) -> str:
    from clickstream.local.provision import provision

    report = provision(settings)
    glue = "created" if report.glue_database_created else "exists"
    return f"resources: CloudFormation stack {report.stack} {report.stack_action}, Glue database {glue}"


# --- kafka: librdkafka's mock cluster (random port, published in <home>/kafka.json) ------------


def kafka_bootstrap(settings: Settings, pid: int | None = None) -> str | None:
    """The running broker's address from its state file (only if written by `pid`, when given)."""
    try:
        doc = json.loads((settings.home / KAFKA_STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if pid is not None and doc.get("pid") != pid:
        return None  # a stale file from an earlier broker
    return str(doc["bootstrap"]) if doc.get("bootstrap") else None


def _kafka_health(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
    bootstrap = kafka_bootstrap(settings, record.pid if record else None)
    if bootstrap is None:
        return Health(False, f"no {KAFKA_STATE_FILE} yet")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    ok = processes.can_connect(host, int(port))
    return Health(ok, bootstrap if ok else f"{bootstrap} refuses connections")


# --- app services -------------------------------------------------------------------------------


def _collector_url(settings: Settings) -> str:
    return f"http://{APP_HOST}:{settings.collector_port}"


def _collector_health(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
    got = processes.http_get(f"{_collector_url(settings)}/healthz")
    return Health(got is not None and got[0] == 200, "GET /healthz " + (str(got[0]) if got else "no answer"))


def _alive_for_a_while(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
    # The stack has already checked the process is alive; a worker that crashes on bad
    # settings does so within its first second.
    up = now - record.started_at if record else 0.0
    return Health(up >= MIN_ALIVE_SECONDS, f"alive {up:.1f}s")


def _moto_command(settings: Settings, python: str) -> list[str]:
    host, port = endpoint_address(aws_endpoint(settings))
    # moto's own server without five per-request costs (clickstream/emulated/aws_server.py says which)
    return [python, "-m", "clickstream.emulated.aws_server", "-H", host, "-p", str(port)]


def _kafka_command(settings: Settings, python: str) -> list[str]:
    return [python, "-m", "clickstream.emulated.msk_broker", "--state-file", str(settings.home / KAFKA_STATE_FILE)]


def _api_url(settings: Settings) -> str:
    return f"http://{APP_HOST}:{settings.api_port}"


def _dashboard_url(settings: Settings) -> str:
    """The live dashboard, with the local read key in the fragment (never sent to the server)."""
    return f"{_api_url(settings)}/#key={settings.read_key}" if settings.is_local else _api_url(settings)


def _api_health(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
    got = processes.http_get(f"{_api_url(settings)}/healthz")
    return Health(got is not None and got[0] == 200, "GET /healthz " + (str(got[0]) if got else "no answer"))


def _collector_command(settings: Settings, python: str) -> list[str]:
    port = str(settings.collector_port)
    return [python, "-m", "clickstream", "collector", "serve", "--host", APP_HOST, "--port", port]


def simulator_command(rate: float) -> Callable[[Settings, str], list[str]]:
    """`clickstream simulate --forever` at `rate` events/s into the local collector."""

    def command(settings: Settings, python: str) -> list[str]:
        url = _collector_url(settings)
        return [python, "-m", "clickstream", "simulate", "--forever", "--rate", f"{rate:g}", "--url", url]

    return command


def with_simulate_rate(specs: Sequence[ServiceSpec], rate: float) -> tuple[ServiceSpec, ...]:
    """`specs` with the simulator sending `rate` events/s (a changed rate restarts a running one)."""
    if rate <= 0:
        raise ConfigError(f"simulate rate {rate:g}: expected events per second > 0")
    return tuple(replace(s, command=simulator_command(rate)) if s.name == "simulator" else s for s in specs)


def default_names(specs: Sequence[ServiceSpec]) -> tuple[str, ...]:
    """The services `up` starts when none are named."""
    return tuple(s.name for s in specs if s.default)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="aws",
        description="AWS-compatible server (moto): Kinesis, S3, DynamoDB, Glue, SQS, CloudFormation",
        command=_moto_command,
        health=_aws_health,
        bind=lambda s: endpoint_address(aws_endpoint(s)),
        port_env=c.ENV_ENDPOINT,
        url=aws_endpoint,
        adopt=_aws_adopt,
        after_healthy=_provision,
        # moto builds SQS queue URLs from MOTO_PORT; an inherited value would point elsewhere
        extra_env=lambda s: {"MOTO_PORT": str(endpoint_address(aws_endpoint(s))[1])},
    ),
    ServiceSpec(
        name="kafka",
        description="Kafka-protocol broker (librdkafka mock cluster, random port)",
        command=_kafka_command,
        health=_kafka_health,
        url=kafka_bootstrap,
        files=(KAFKA_STATE_FILE,),
    ),
    ServiceSpec(
        name="collector",
        description="HTTP collector: POST /v1/events, /v1/track; API docs at /docs",
        command=_collector_command,
        health=_collector_health,
        depends_on=("aws", "kafka"),
        bind=lambda s: (APP_HOST, s.collector_port),
        port_env=c.ENV_COLLECTOR_PORT,
        url=_collector_url,
        app=True,
        supervised=True,
    ),
    ServiceSpec(
        name="archiver",
        description="raw archive: stream -> S3 raw/events/ (NDJSON.gz)",
        # 10 s buffers instead of Firehose-like 60 s: on a laptop you want to see objects land
        # soon; the batch layer compacts the small files anyway.
        command=lambda s, py: [
            py,
            "-m",
            "clickstream",
            "archive",
            "run",
            "--flush-seconds",
            str(LOCAL_ARCHIVE_FLUSH_SECONDS),
        ],
        health=_alive_for_a_while,
        depends_on=("aws", "kafka"),
        app=True,
        supervised=True,
    ),
    ServiceSpec(
        name="consumer",
        description="speed layer: stream -> stream-processor handler -> DynamoDB realtime counters",
        # Batches of up to 10,000 (Lambda's maximum; its default is 100): idle, a batch is what
        # arrived since the last one; under load it grows instead of the lag, and the handler
        # writes one update per counter item per batch, so a bigger batch costs less per event.
        command=lambda s, py: [py, "-m", "clickstream", "consume", "--batch-size", "10000"],
        health=_alive_for_a_while,
        depends_on=("aws", "kafka"),
        app=True,
        supervised=True,
    ),
    ServiceSpec(
        name="api",
        description="query API + live dashboard (read key): /v1/stats, /v1/metrics, /graphql, /metrics; docs at /docs",
        command=lambda s, py: [py, "-m", "clickstream", "api", "serve", "--host", APP_HOST, "--port", str(s.api_port)],
        health=_api_health,
        depends_on=("aws",),
        bind=lambda s: (APP_HOST, s.api_port),
        port_env=c.ENV_API_PORT,
        url=_dashboard_url,
        supervised=True,
    ),
    ServiceSpec(
        name="simulator",
        description="live traffic: `clickstream simulate --forever` into the collector (opt-in: --simulate)",
        command=simulator_command(DEFAULT_SIMULATE_RATE),
        health=_alive_for_a_while,  # its log shows a progress line every 10 s
        depends_on=("collector",),
        default=False,  # traffic only on request: tests and `up` alone must get an idle stack
        supervised=True,
    ),
)


SERVICES += optional_services()  # run only when their program is installed (Debian's prometheus)


# --- pure helpers --------------------------------------------------------------------------------


def parse_services(text: str | None) -> tuple[str, ...] | None:
    """`"aws, kafka"` -> ("aws", "kafka"); None or blank -> None (every service)."""
    if text is None or not text.strip():
        return None
    return tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def resolve(specs: Sequence[ServiceSpec], selected: Iterable[str] | None = None) -> list[ServiceSpec]:
    """The selected services (None: the default ones) plus everything they depend on, dependencies first.

    Ties keep the declaration order, so the result is stable. Raises ConfigError for an
    unknown name, a missing dependency or a cycle.
    """
    by_name = {s.name: s for s in specs}
    wanted = list(default_names(specs)) if selected is None else list(selected)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise ConfigError(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        if name not in by_name:
            raise ConfigError(f"service depends on unknown service {name!r}")
        needed.add(name)
        stack.extend(by_name[name].depends_on)
    ordered: list[ServiceSpec] = []
    done: set[str] = set()
    while len(ordered) < len(needed):
        ready = [s for s in specs if s.name in needed - done and set(s.depends_on) <= done]
        if not ready:
            raise ConfigError(f"dependency cycle among: {', '.join(sorted(needed - done))}")
        ordered.extend(ready)
        done.update(s.name for s in ready)
    return ordered


def waves(ordered: Sequence[ServiceSpec]) -> list[list[ServiceSpec]]:
    """Group resolved services into waves that can start together (all deps in earlier waves)."""
    level: dict[str, int] = {}
    for spec in ordered:
        level[spec.name] = 1 + max((level.get(d, -1) for d in spec.depends_on), default=-1)
    out: list[list[ServiceSpec]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for spec in ordered:
        out[level[spec.name]].append(spec)
    return out


def endpoint_address(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; the scheme's default port when none is given."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{url!r}: bad port ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r}: expected http://host:port")
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    return host, port if port is not None else (443 if parts.scheme == "https" else 80)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_env(
    settings: Settings, spec: ServiceSpec, *, transport: str, kafka_bootstrap: str | None
) -> dict[str, str]:
    """The settings a service is given through its environment (recorded, to spot changes)."""
    env = {
        c.ENV_STAGE: settings.stage,
        c.ENV_HOME: str(settings.home.resolve()),
        c.ENV_REGION: settings.region,
        "AWS_DEFAULT_REGION": settings.region,
    }
    if settings.endpoint_url:
        env[c.ENV_ENDPOINT] = settings.endpoint_url
    if settings.is_local:
        env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    if spec.app:
        env |= {c.ENV_TRANSPORT: transport, c.ENV_COLLECTOR_PORT: str(settings.collector_port)}
    if "kafka" in spec.depends_on and kafka_bootstrap:
        env[c.ENV_KAFKA_BOOTSTRAP] = kafka_bootstrap
    return env | spec.extra_env(settings)


def process_env(base: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The full environment of a child: ours, the settings, unbuffered output, no proxy for loopback."""
    no_proxy = ",".join(filter(None, [base.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    return {**base, **overrides, "PYTHONUNBUFFERED": "1", "NO_PROXY": no_proxy, "no_proxy": no_proxy}


def port_in_use_message(spec: ServiceSpec, host: str, port: int, holder: str = "") -> str:
    """Which port, which service, what holds it and which variable moves the service elsewhere."""
    msg = f"port {port} on {host} (service {spec.name}) is already in use{f' by {holder}' if holder else ''}"
    if spec.port_env is None:
        return msg + "; stop whatever holds it"
    other = f"http://{host}:{port + 1}" if spec.port_env == c.ENV_ENDPOINT else str(port + 1)
    return f"{msg}; stop it, or choose another port: export {spec.port_env}={other}"


SERVICES += airflow_services()  # the batch layer's Airflow (api-server + scheduler + dag-processor)

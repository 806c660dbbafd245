"""One typed settings object that decides endpoints, names and limits.

`Settings.from_env()` is the only place that reads the environment. Resource names are
derived from the stage (`clickstream-<stage>-…`) unless overridden, and the CDK app builds
the same names from the same functions (see `clickstream.resources`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from clickstream import constants as c
from clickstream.errors import ConfigError

Transport = Literal["kinesis", "kafka"]
TRANSPORTS: tuple[Transport, ...] = ("kinesis", "kafka")
QueryEngineKind = Literal["local", "athena"]
QUERY_ENGINES: tuple[QueryEngineKind, ...] = ("local", "athena")
KAFKA_STATE_FILE = "kafka.json"  # written by the embedded broker, read by every command


@dataclass(frozen=True)
class ResourceNames:
    """Every physical name of the platform for one stage."""

    stage: str
    stream: str
    topic: str
    bucket: str
    realtime_table: str
    checkpoints_table: str
    dead_letter_queue: str
    glue_database: str
    batch_table: str  # the batch view (exact metrics of closed windows) and reconciliation drift
    athena_workgroup: str

    @classmethod
    def for_stage(cls, stage: str) -> ResourceNames:
        prefix = f"clickstream-{stage}"
        return cls(
            stage=stage,
            stream=f"{prefix}-events",
            topic=f"{prefix}-events",
            bucket=f"{prefix}-lake",
            realtime_table=f"{prefix}-realtime",
            checkpoints_table=f"{prefix}-checkpoints",
            dead_letter_queue=f"{prefix}-dlq",
            glue_database=f"clickstream_{stage}".replace("-", "_"),
            batch_table=f"{prefix}-batch",
            athena_workgroup=prefix,
        )


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int = c.MAX_EVENT_BYTES
    max_request_bytes: int = c.MAX_REQUEST_BYTES
    max_batch_events: int = c.MAX_BATCH_EVENTS
    max_properties_bytes: int = c.MAX_PROPERTIES_BYTES
    lateness_seconds: int = c.DEFAULT_LATENESS_SECONDS
    clock_skew_seconds: int = c.DEFAULT_CLOCK_SKEW_SECONDS


@dataclass(frozen=True)
class Settings:
    stage: str = c.DEFAULT_STAGE
    region: str = c.DEFAULT_REGION
    endpoint_url: str | None = f"http://{c.LOCAL_AWS_HOST}:{c.LOCAL_AWS_PORT}"
    transport: Transport = "kinesis"
    kafka_bootstrap: str | None = None
    write_key: str | None = c.LOCAL_WRITE_KEY
    read_key: str | None = c.LOCAL_READ_KEY
    query_engine: QueryEngineKind = "local"
    api_port: int = c.DEFAULT_API_PORT
    api_cache_ms: int = c.DEFAULT_API_CACHE_MS
    home: Path = field(default_factory=lambda: Path.cwd() / ".clickstream")
    shard_count: int = c.DEFAULT_SHARD_COUNT
    collector_port: int = c.DEFAULT_COLLECTOR_PORT
    names: ResourceNames = field(default_factory=lambda: ResourceNames.for_stage(c.DEFAULT_STAGE))
    limits: Limits = field(default_factory=Limits)

    @property
    def is_local(self) -> bool:
        return self.stage == c.DEFAULT_STAGE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (see docs/CONFIGURATION.md)."""
        env = os.environ if env is None else env
        if c.ENV_STAGE not in env:
            _refuse_local_defaults_on_aws(env)
        stage = env.get(c.ENV_STAGE, c.DEFAULT_STAGE)
        local = stage == c.DEFAULT_STAGE
        transport = env.get(c.ENV_TRANSPORT, "kinesis")
        if transport not in TRANSPORTS:
            raise ConfigError(f"{c.ENV_TRANSPORT}={transport!r}: expected one of {', '.join(TRANSPORTS)}")
        home = Path(env.get(c.ENV_HOME, str(Path.cwd() / ".clickstream")))
        endpoint = env.get(c.ENV_ENDPOINT) or (f"http://{c.LOCAL_AWS_HOST}:{c.LOCAL_AWS_PORT}" if local else None)
        write_key = env.get(c.ENV_WRITE_KEY) or (c.LOCAL_WRITE_KEY if local else None)
        read_key = env.get(c.ENV_READ_KEY) or (c.LOCAL_READ_KEY if local else None)
        engine = env.get(c.ENV_QUERY_ENGINE) or ("local" if local else "athena")
        if engine not in QUERY_ENGINES:
            raise ConfigError(f"{c.ENV_QUERY_ENGINE}={engine!r}: expected one of {', '.join(QUERY_ENGINES)}")
        names = ResourceNames.for_stage(stage)
        names = replace(
            names,
            bucket=env.get(c.ENV_BUCKET, names.bucket),
            stream=env.get(c.ENV_STREAM, names.stream),
            topic=env.get(c.ENV_TOPIC, names.topic),
            batch_table=env.get(c.ENV_BATCH_TABLE, names.batch_table),
        )
        limits = Limits(
            lateness_seconds=_int(env, c.ENV_LATENESS, c.DEFAULT_LATENESS_SECONDS),
            clock_skew_seconds=_int(env, c.ENV_CLOCK_SKEW, c.DEFAULT_CLOCK_SKEW_SECONDS),
        )
        return cls(
            stage=stage,
            region=env.get(c.ENV_REGION) or env.get("AWS_DEFAULT_REGION") or c.DEFAULT_REGION,
            endpoint_url=endpoint,
            transport=transport,  # type: ignore[arg-type]
            kafka_bootstrap=env.get(c.ENV_KAFKA_BOOTSTRAP) or _kafka_from_state(home),
            write_key=write_key,
            read_key=read_key,
            query_engine=engine,  # type: ignore[arg-type]
            api_port=_int(env, c.ENV_API_PORT, c.DEFAULT_API_PORT),
            api_cache_ms=_int(env, c.ENV_API_CACHE_MS, c.DEFAULT_API_CACHE_MS),
            home=home,
            shard_count=_int(env, c.ENV_SHARDS, c.DEFAULT_SHARD_COUNT),
            collector_port=_int(env, c.ENV_COLLECTOR_PORT, c.DEFAULT_COLLECTOR_PORT),
            names=names,
            limits=limits,
        )

    def require_kafka(self) -> str:
        """The Kafka bootstrap servers, or a ConfigError that says how to get them."""
        if not self.kafka_bootstrap:
            raise ConfigError(
                f"no Kafka broker known: start the embedded stack (`clickstream local up`) "
                f"or set {c.ENV_KAFKA_BOOTSTRAP}=host:port"
            )
        return self.kafka_bootstrap


# Variables an AWS runtime sets in every process it starts (MWAA also sets AWS_EXECUTION_ENV).
AWS_RUNTIME_MARKERS: dict[str, str] = {
    "AWS_LAMBDA_FUNCTION_NAME": "AWS Lambda",
    "MWAA_AIRFLOW_COMPONENT": "Amazon MWAA",
    "ECS_CONTAINER_METADATA_URI_V4": "Amazon ECS",
}


def aws_runtime(env: Mapping[str, str]) -> str | None:
    """The AWS runtime this process runs in ("AWS Lambda (AWS_LAMBDA_FUNCTION_NAME)"...), or None."""
    for variable, runtime in AWS_RUNTIME_MARKERS.items():
        if env.get(variable):
            return f"{runtime} ({variable} is set)"
    execution = env.get("AWS_EXECUTION_ENV")
    return f"AWS_EXECUTION_ENV={execution}" if execution else None


def _refuse_local_defaults_on_aws(env: Mapping[str, str]) -> None:
    """Without a stage the settings fall back to the laptop's (endpoint 127.0.0.1:4566, the `local`
    names, DuckDB): on AWS that would fail late and obscurely, or write where nobody reads."""
    runtime = aws_runtime(env)
    if runtime is None:
        return
    raise ConfigError(
        f"running on {runtime} without {c.ENV_STAGE}: the local defaults (AWS endpoint "
        f"http://{c.LOCAL_AWS_HOST}:{c.LOCAL_AWS_PORT}, the `{c.DEFAULT_STAGE}` resource names, the DuckDB "
        f"query engine) cannot work here. Set {c.ENV_STAGE} to the deployed stage (the CDK app sets it "
        f"on every function), or {c.ENV_STAGE}={c.DEFAULT_STAGE} to mean the laptop's on purpose"
    )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r}: expected an integer") from exc


def _kafka_from_state(home: Path) -> str | None:
    """The embedded broker's address, recorded by `clickstream local up` (random port each start)."""
    path = home / KAFKA_STATE_FILE
    try:
        return str(json.loads(path.read_text())["bootstrap"])
    except (OSError, ValueError, KeyError):
        return None

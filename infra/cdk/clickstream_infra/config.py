"""Deployment configuration from CDK context (`-c key=value`): the only input besides the code.

Names, keys, TTL attributes and stream settings are not configured here: they come from
`clickstream.resources.platform_resources(settings)`, the same definitions the embedded stack
provisions. Context values arrive as strings from the CLI and as Python values from tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clickstream import constants as c
from clickstream.deployment_defaults import COLLECTOR_API, SPEED
from clickstream.errors import ConfigError
from clickstream.resources import Resources, platform_resources
from clickstream.settings import ResourceNames, Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
WHEELHOUSE = REPO_ROOT / "infra" / "cdk" / ".wheelhouse"
_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # goes into bucket, table and function names
LOG_RETENTION_DAYS = (1, 3, 7, 14, 30, 90, 180, 365)  # values CloudWatch Logs offers (a subset)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$")  # leaves room for the "-logs" suffix

# Context keys, documented in infra/cdk/README.md.
CONTEXT_KEYS = (
    "stage",
    "bucket",
    "shards",
    "parallelization",
    "msk",
    "mwaa",
    "airflowVersion",
    "mwaaEnvironmentClass",
    "airflowPrincipal",
    "alarmEmail",
    "apiRateLimit",
    "apiBurstLimit",
    "logRetentionDays",
    "athenaScanLimitGb",
    "projectionStart",
    "endpoint",
    "bundle",
)


@dataclass(frozen=True)
class DeployConfig:
    stage: str
    settings: Settings
    resources: Resources
    shards: int | None  # provisioned with this many shards; None = on-demand
    parallelization_factor: int
    msk: bool
    mwaa: bool
    airflow_version: str | None  # None: MWAA's latest
    mwaa_environment_class: str
    airflow_principal: str | None  # who may assume the self-managed Airflow role (default: this account)
    alarm_email: str | None
    api_rate_limit: int
    api_burst_limit: int
    log_retention_days: int
    athena_scan_limit_gb: int
    projection_start: str
    endpoint_url: str | None  # LocalStack: AWS_ENDPOINT_URL for the Lambdas
    bundle: bool  # False: Lambda assets hold only our sources (tests; never deploy that)
    wheelhouse: Path = WHEELHOUSE

    @property
    def prefix(self) -> str:
        return f"clickstream-{self.stage}"

    @property
    def access_logs_bucket(self) -> str:
        return f"{self.resources.bucket.name}-logs"


def config_from_context(get: Callable[[str], Any]) -> DeployConfig:
    """Read and validate every context value (`get` is `node.try_get_context`)."""
    stage = str(get("stage") or "dev")
    if not _STAGE.match(stage):
        raise ConfigError(f"stage={stage!r}: lowercase letters, digits and '-', starting with a letter, <= 20 chars")
    names = ResourceNames.for_stage(stage)
    if get("bucket"):
        names = replace(names, bucket=str(get("bucket")))  # S3 names are global: deploys may need their own
    if not _BUCKET.match(names.bucket):
        raise ConfigError(f"bucket={names.bucket!r} is not a valid S3 bucket name of at most 58 characters")
    shards = _int(get, "shards", 0) or None
    settings = Settings(
        stage=stage,
        endpoint_url=None,
        write_key=None,
        names=names,
        shard_count=shards or Settings().shard_count,
    )
    retention = _int(get, "logRetentionDays", 30)
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(f"logRetentionDays={retention}: use one of {LOG_RETENTION_DAYS}")
    parallelization = _int(get, "parallelization", SPEED.parallelization_factor)
    if parallelization != 1:
        # The speed layer is exactly-once because each shard's batches are applied in order,
        # guarded by a per-shard position (docs/SPEED_LAYER.md); concurrent batches of one
        # shard would be skipped or double-counted. Scale with shards instead.
        raise ConfigError(
            f"parallelization={parallelization}: must be 1 (the speed layer applies each shard's batches "
            "in order to stay exactly-once); add shards (-c shards=N) for more throughput"
        )
    return DeployConfig(
        stage=stage,
        settings=settings,
        resources=platform_resources(settings),
        shards=shards,
        parallelization_factor=parallelization,
        msk=_flag(get, "msk", False),
        mwaa=_flag(get, "mwaa", False),
        airflow_version=_str(get, "airflowVersion"),
        mwaa_environment_class=_str(get, "mwaaEnvironmentClass") or "mw1.small",
        airflow_principal=_str(get, "airflowPrincipal"),
        alarm_email=_str(get, "alarmEmail"),
        api_rate_limit=_int(get, "apiRateLimit", COLLECTOR_API.rate_limit_rps),
        api_burst_limit=_int(get, "apiBurstLimit", COLLECTOR_API.burst_limit),
        log_retention_days=retention,
        athena_scan_limit_gb=_int(get, "athenaScanLimitGb", c.ATHENA_SCAN_CUTOFF_GB),
        projection_start=_str(get, "projectionStart") or "2025-01-01",
        endpoint_url=_str(get, "endpoint"),
        bundle=_flag(get, "bundle", True),
    )


def _str(get: Callable[[str], Any], key: str) -> str | None:
    value = get(key)
    return None if value in (None, "") else str(value)


def _int(get: Callable[[str], Any], key: str, default: int) -> int:
    value = get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"-c {key}={value!r}: expected an integer") from exc


def _flag(get: Callable[[str], Any], key: str, default: bool) -> bool:
    value = get(key)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"-c {key}={value!r}: expected true or false")

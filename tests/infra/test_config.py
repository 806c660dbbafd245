"""Context values (`-c key=value`) -> DeployConfig: strings from the CLI, Python values from tests."""

from __future__ import annotations

from typing import Any

import pytest
from clickstream_infra.config import CONTEXT_KEYS, config_from_context

from clickstream.deployment_defaults import COLLECTOR_API
from clickstream.errors import ConfigError


def _cfg(**context: Any) -> Any:
    return config_from_context(context.get)


def test_defaults_are_stage_dev_on_demand_and_every_option_off() -> None:
    cfg = _cfg()
    assert cfg.stage == "dev"
    assert cfg.resources.stream.name == "clickstream-dev-events"
    assert (cfg.shards, cfg.msk, cfg.mwaa, cfg.bundle, cfg.endpoint_url) == (None, False, False, True, None)
    assert cfg.parallelization_factor == 1
    assert cfg.access_logs_bucket == "clickstream-dev-lake-logs"
    # the throttle `clickstream capacity` checks the peak against is the one deployed
    assert (cfg.api_rate_limit, cfg.api_burst_limit) == (COLLECTOR_API.rate_limit_rps, COLLECTOR_API.burst_limit)


def test_cli_strings_are_parsed() -> None:
    cfg = _cfg(stage="prod", shards="8", msk="true", mwaa="False", bundle="0", apiRateLimit="50")
    assert (cfg.stage, cfg.shards, cfg.msk, cfg.mwaa, cfg.bundle, cfg.api_rate_limit) == (
        "prod",
        8,
        True,
        False,
        False,
        50,
    )
    assert cfg.resources.stream.shard_count == 8
    assert cfg.settings.names.realtime_table == "clickstream-prod-realtime"


def test_bucket_override_reaches_the_resources() -> None:
    cfg = _cfg(stage="prod", bucket="acme-clickstream-prod")
    assert cfg.resources.bucket.name == "acme-clickstream-prod"
    assert cfg.settings.names.bucket == "acme-clickstream-prod"


@pytest.mark.parametrize(
    "context",
    [
        {"stage": "Prod"},
        {"stage": "a" * 21},
        {"stage": "dev_1"},
        {"bucket": "Bad_Bucket"},
        {"bucket": "x" * 59},
        {"shards": "many"},
        {"msk": "perhaps"},
        {"parallelization": "11"},
        {"parallelization": "2"},  # exactly-once needs one batch per shard at a time
        {"logRetentionDays": "10"},
    ],
)
def test_invalid_context_is_a_config_error(context: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        _cfg(**context)


def test_every_documented_key_is_in_the_readme() -> None:
    from support.cdk import CDK_DIR

    readme = (CDK_DIR / "README.md").read_text()
    missing = [key for key in CONTEXT_KEYS if f"`{key}`" not in readme]
    assert not missing, f"context keys missing from infra/cdk/README.md: {missing}"


def test_every_allowed_log_retention_maps_to_cloudwatch() -> None:
    from clickstream_infra.components.functions import RETENTION_DAYS
    from clickstream_infra.config import LOG_RETENTION_DAYS

    assert tuple(RETENTION_DAYS) == LOG_RETENTION_DAYS

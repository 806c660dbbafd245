"""Settings, resource names and lake tables: the names every layer reads from one place."""

from __future__ import annotations

import pytest

from clickstream import catalog
from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.events.schema import EVENT_FIELDS
from clickstream.resources import platform_resources
from clickstream.settings import ResourceNames, Settings


def test_local_stage_gets_separate_read_and_write_keys() -> None:
    s = Settings.from_env({})
    assert s.write_key == c.LOCAL_WRITE_KEY
    assert s.read_key == c.LOCAL_READ_KEY
    assert s.read_key != s.write_key
    assert s.query_engine == "local"
    assert s.api_port == c.DEFAULT_API_PORT


def test_cloud_stage_has_no_default_keys_and_queries_athena() -> None:
    s = Settings.from_env({c.ENV_STAGE: "prod"})
    assert s.write_key is None and s.read_key is None
    assert s.query_engine == "athena"
    assert s.names.batch_table == "clickstream-prod-batch"
    assert s.names.athena_workgroup == "clickstream-prod"


def test_unknown_query_engine_says_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match="expected one of local, athena"):
        Settings.from_env({c.ENV_QUERY_ENGINE: "presto"})


def test_batch_table_is_provisioned_with_the_realtime_keys() -> None:
    s = Settings.from_env({c.ENV_BATCH_TABLE: "my-batch"})
    tables = {t.name: t for t in platform_resources(s).tables}
    assert (tables["my-batch"].partition_key, tables["my-batch"].sort_key) == ("pk", "sk")
    assert tables["my-batch"].ttl_attribute is None  # closed windows are kept


def test_curated_events_table_renames_only_the_reserved_timestamp() -> None:
    names = [col.name for col in catalog.EVENTS.columns]
    assert names == [("event_time" if f == "timestamp" else f) for f in EVENT_FIELDS]
    types = {col.name: col.type for col in catalog.EVENTS.columns}
    assert types["event_time"] == types["received_at"] == "timestamp"
    assert types["http_status"] == "smallint"
    raw = {col.name: col.type for col in catalog.RAW_EVENTS.columns}
    assert raw["timestamp"] == "string"  # NDJSON keeps RFC 3339 text


def test_partition_prefixes_and_metric_tables() -> None:
    assert catalog.EVENTS.partition_prefix({"dt": "2026-11-22", "hour": "07"}) == (
        "curated/events/dt=2026-11-22/hour=07/"
    )
    table = catalog.metric_table("engagement", (catalog.Column("sessions", "bigint"),))
    assert table.name == "metric_engagement"
    assert table.location(ResourceNames.for_stage("dev").bucket) == (
        "s3://clickstream-dev-lake/curated/metrics/engagement/"
    )
    assert table.partition_keys == ("dt",)


@pytest.mark.parametrize(
    ("marker", "runtime"),
    [
        ({"AWS_LAMBDA_FUNCTION_NAME": "clickstream-dev-collector"}, "AWS Lambda"),
        ({"MWAA_AIRFLOW_COMPONENT": "worker", "AWS_EXECUTION_ENV": "Amazon_MWAA_306"}, "Amazon MWAA"),
        ({"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}, "AWS_EXECUTION_ENV=AWS_ECS_FARGATE"),
    ],
)
def test_an_aws_runtime_without_a_stage_fails_fast_saying_what_to_set(marker: dict[str, str], runtime: str) -> None:
    with pytest.raises(ConfigError, match=f"running on {runtime}.* without {c.ENV_STAGE}") as caught:
        Settings.from_env(marker)
    assert "127.0.0.1:4566" in str(caught.value) and f"Set {c.ENV_STAGE} to the deployed stage" in str(caught.value)
    assert Settings.from_env({**marker, c.ENV_STAGE: "dev"}).names.stream.startswith("clickstream-dev")
    assert Settings.from_env({**marker, c.ENV_STAGE: c.DEFAULT_STAGE}).stage == c.DEFAULT_STAGE  # on purpose


def test_the_laptop_without_a_stage_gets_the_local_defaults() -> None:
    s = Settings.from_env({})
    assert s.stage == c.DEFAULT_STAGE and s.endpoint_url == f"http://{c.LOCAL_AWS_HOST}:{c.LOCAL_AWS_PORT}"

"""Batch job run records in the batch table: what the API's pipeline-health metrics read.

Item: pk = `run#<job>` (job = the DAG id, e.g. `compact_raw_events`), sk = `latest` (overwritten)
and sk = `<finished_at ISO>` (history, kept). Attributes are the job's summary: status
("success" | "failed"), finished_at, interval, and whatever numbers the job reports
(e.g. evaluated, failed, pass_rate for data quality); a failed run adds `error`.
The jobs write through `clickstream.jobs.run_record.recorded_run`, which decides the content.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb.tables import call, query_partition
from clickstream.settings import Settings

RUN_PK_PREFIX = "run"
LATEST = "latest"

_ser = TypeSerializer()
_de = TypeDeserializer()


def run_pk(job: str) -> str:
    return f"{RUN_PK_PREFIX}#{job}"


def record_run(settings: Settings, job: str, *, status: str, **summary: Any) -> dict[str, Any]:
    """Store one run's summary as the job's latest run and in its history; returns the item."""
    finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    item = {"status": status, "finished_at": finished, **{k: _plain(v) for k, v in summary.items()}}
    client = _clients.client("dynamodb", settings)
    table = settings.names.batch_table
    for sk in (LATEST, finished):
        attrs = {k: _ser.serialize(v) for k, v in item.items() if v is not None}
        attrs.update({"pk": {"S": run_pk(job)}, "sk": {"S": sk}})
        call(client, "put_item", what=f"table {table}", TableName=table, Item=attrs)
    return item


def latest_run(settings: Settings, job: str) -> dict[str, Any] | None:
    """The job's latest run summary, or None when it never ran."""
    client = _clients.client("dynamodb", settings)
    table = settings.names.batch_table
    got = call(
        client,
        "get_item",
        what=f"table {table}",
        TableName=table,
        Key={"pk": {"S": run_pk(job)}, "sk": {"S": LATEST}},
        ConsistentRead=True,
    )
    item = got.get("Item")
    if not item:
        return None
    return {k: _de.deserialize(v) for k, v in item.items() if k not in ("pk", "sk")}


def run_history(settings: Settings, job: str, *, since: str = "") -> list[dict[str, Any]]:
    """The job's recorded runs (not `latest`) that finished at or after `since` (ISO text), oldest first."""
    client = _clients.client("dynamodb", settings)
    table = settings.names.batch_table
    items = query_partition(client, table, run_pk(job), what=f"table {table}")
    runs = [{k: _de.deserialize(v) for k, v in item.items()} for item in items]
    return [
        {k: v for k, v in run.items() if k not in ("pk", "sk")}
        for run in runs
        if run["sk"] != LATEST and str(run["sk"]) >= since
    ]


def _plain(value: Any) -> Any:
    """DynamoDB has no float: numbers go in as Decimal (via str, so 0.1 stays 0.1)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value

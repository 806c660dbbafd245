"""What the platform's resources on the AWS server hold, for `clickstream local status`.

Read-only calls through the one client factory; a missing resource is reported as None
rather than failing the whole status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clickstream.settings import Settings

OBJECT_COUNT_CAP = 10_000  # status lists at most this many keys; beyond, it says "10000+"


def resource_summary(settings: Settings) -> dict[str, Any]:
    """Stream shards, bucket objects, table items, Glue tables, DLQ depth (None for a missing one)."""
    from botocore.exceptions import ClientError

    from clickstream.adapters import _clients
    from clickstream.resources import platform_resources

    res = platform_resources(settings)

    def ask(call: Callable[..., dict[str, Any]], *args: str) -> dict[str, Any] | None:
        try:
            return call(*args)
        except ClientError:  # missing resource: reported as None, status goes on
            return None

    def stream() -> dict[str, Any]:
        s = _clients.client("kinesis", settings).describe_stream_summary(StreamName=res.stream.name)
        s = s["StreamDescriptionSummary"]
        return {"name": res.stream.name, "shards": s["OpenShardCount"], "status": s["StreamStatus"]}

    def bucket() -> dict[str, Any]:
        pages = _clients.client("s3", settings).get_paginator("list_objects_v2").paginate(Bucket=res.bucket.name)
        count = 0
        for page in pages:
            count += page.get("KeyCount", 0)
            if count >= OBJECT_COUNT_CAP:
                return {"name": res.bucket.name, "objects": f"{OBJECT_COUNT_CAP}+"}
        return {"name": res.bucket.name, "objects": count}

    def table(name: str) -> dict[str, Any]:
        desc = _clients.client("dynamodb", settings).describe_table(TableName=name)["Table"]
        return {"name": name, "items": desc.get("ItemCount", 0)}

    def glue() -> dict[str, Any]:
        tables = _clients.client("glue", settings).get_tables(DatabaseName=res.glue_database)["TableList"]
        return {"name": res.glue_database, "tables": len(tables)}

    def queue(name: str) -> dict[str, Any]:
        sqs = _clients.client("sqs", settings)
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return {"name": name, "messages": int(attrs["Attributes"]["ApproximateNumberOfMessages"])}

    return {
        "stream": ask(stream),
        "bucket": ask(bucket),
        "tables": [ask(table, t.name) or {"name": t.name, "items": None} for t in res.tables],
        "glue_database": ask(glue),
        "queues": [ask(queue, q.name) or {"name": q.name, "messages": None} for q in res.queues],
    }

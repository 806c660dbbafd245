"""The event-time hours a simulated history filled, in the batch table: what reconciliation skips.

Item per day: pk = `history#hours`, sk = the day (YYYY-MM-DD), `hours` a string set of "HH". The
speed layer never saw those events (`clickstream.simulate.history`), so comparing its counters
with the batch layer's over those windows would report drift that is not there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb.tables import call
from clickstream.settings import Settings

HISTORY_PK = "history#hours"


def record_history_hours(settings: Settings, hours: Iterable[str]) -> int:
    """Add event-time hours ("YYYY-MM-DDTHH") to the record; returns the days touched."""
    by_day: dict[str, set[str]] = defaultdict(set)
    for hour in hours:
        by_day[hour[:10]].add(hour[11:13])
    client = _clients.client("dynamodb", settings)
    table = settings.names.batch_table
    for day, hh in sorted(by_day.items()):
        call(
            client,
            "update_item",
            what=f"table {table}",
            TableName=table,
            Key={"pk": {"S": HISTORY_PK}, "sk": {"S": day}},
            UpdateExpression="ADD #h :h",
            ExpressionAttributeNames={"#h": "hours"},
            ExpressionAttributeValues={":h": {"SS": sorted(hh)}},
        )
    return len(by_day)


def history_hours(settings: Settings, days: Iterable[str]) -> set[str]:
    """The recorded hours ("YYYY-MM-DDTHH") of `days` (YYYY-MM-DD)."""
    client = _clients.client("dynamodb", settings)
    table = settings.names.batch_table
    out: set[str] = set()
    for day in sorted(set(days)):
        got = call(
            client,
            "get_item",
            what=f"table {table}",
            TableName=table,
            Key={"pk": {"S": HISTORY_PK}, "sk": {"S": day}},
            ConsistentRead=True,
        )
        out |= {f"{day}T{hh}" for hh in got.get("Item", {}).get("hours", {}).get("SS", [])}
    return out


def any_history(settings: Settings) -> bool:
    """Whether any simulated history was recorded."""
    client = _clients.client("dynamodb", settings)
    table = settings.names.batch_table
    got = call(
        client,
        "query",
        what=f"table {table}",
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": HISTORY_PK}},
        Limit=1,
        ConsistentRead=True,
    )
    return bool(got.get("Items"))

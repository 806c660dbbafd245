"""The batch view in the DynamoDB batch table: exact metrics of the windows the batch layer closed.

Items (written by `clickstream.jobs.batch_metrics`, read by the serving API):

- counters: the realtime table's keys for hour and day windows (pk `all`, `type#…`, `url#…`,
  `status#…`, `product#…`; sk `h#…`/`d#…`) with the same attribute names (`definitions.COUNTER_FIELDS`:
  events, errors, revenue, orders, duration_ms, timed_events). Zero counters are left out, as
  the speed layer's ADD leaves them absent. Every hour and day of a computed interval has an
  `all` item (even with zero events), so "an `all` item exists" means "this window is CLOSED":
  serving shows batch values there and speed values after.
- uniques: pk `uniq#users` / `uniq#sessions`, attribute `count` (exact distinct count).
- engagement: pk `engagement#all`, attributes sessions, bounces, session_duration_ms,
  page_views, clicks, converted_sessions, cart_sessions, abandoned_sessions, funnel_* (day and
  hour windows; a session belongs to the window of its first event).
- drift: pk `drift#<metric>` (reconciliation), sk the window's sk: speed, batch, drift, ….
- job runs: pk `run#<job>` (`clickstream.adapters.dynamodb.runs`).
- manifests: pk `view#manifest`, sk `<day>#<part>`: the keys the job wrote for a day (`replace_days`).

Numbers come back as `Decimal` (as `CountersTable.query` returns them); `revenue` is exact.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from clickstream.adapters import _clients
from clickstream.adapters.dynamodb.tables import call
from clickstream.errors import RetryableError
from clickstream.settings import Settings

BATCH_WRITE_MAX: Final = 25  # DynamoDB: at most 25 put/delete requests per BatchWriteItem
BATCH_GET_MAX: Final = 100  # DynamoDB: at most 100 keys per BatchGetItem
MAX_ROUNDS: Final = 8  # rounds of UnprocessedItems before giving up (throttled)
ENGAGEMENT_PK: Final = "engagement#all"
UNIQUE_COUNT: Final = "count"
DRIFT_PREFIX: Final = "drift"
MANIFEST_PK: Final = "view#manifest"  # which keys the batch job wrote per day (see `replace_days`)
MANIFEST_KEYS: Final = "keys"
# Uncompressed key text per manifest item: gzip never grows it by more than a few bytes, so a
# part stays below DynamoDB's 400 KB item limit whatever the URLs look like.
MANIFEST_PART_BYTES: Final = 300_000

Key = tuple[str, str]

_ser = TypeSerializer()
_de = TypeDeserializer()


def drift_pk(metric: str) -> str:
    return f"{DRIFT_PREFIX}#{metric}"


class BatchView:
    """Reads and writes items of the batch table (`settings.names.batch_table`)."""

    def __init__(self, settings: Settings, *, client: Any | None = None, sleep: Any = time.sleep) -> None:
        self.name = settings.names.batch_table
        self._client = client or _clients.client("dynamodb", settings)
        self._sleep = sleep

    # --- reads ----------------------------------------------------------------------------

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One item (strongly consistent), or None."""
        got = call(
            self._client,
            "get_item",
            what=f"table {self.name}",
            TableName=self.name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=True,
        )
        raw = got.get("Item")
        return _item(raw) if raw else None

    def query(self, pk: str, sk_from: str | None = None, sk_to: str | None = None) -> list[dict[str, Any]]:
        """Items of `pk` with `sk_from <= sk <= sk_to` (either bound optional), in sk order.

        E.g. `query("all", "h#2026-11-22T00:00:00Z", "h#2026-11-22T23:00:00Z")`: a day's hours.
        """
        condition = "pk = :p"
        values: dict[str, Any] = {":p": {"S": pk}}
        if sk_from is not None and sk_to is not None:
            condition += " AND sk BETWEEN :a AND :b"
            values.update({":a": {"S": sk_from}, ":b": {"S": sk_to}})
        elif sk_from is not None:
            condition += " AND sk >= :a"
            values[":a"] = {"S": sk_from}
        elif sk_to is not None:
            condition += " AND sk <= :b"
            values[":b"] = {"S": sk_to}
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        out: list[dict[str, Any]] = []
        while True:
            page = call(self._client, "query", what=f"table {self.name}", **kwargs)
            out.extend(_item(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_items(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """Items by key (BatchGetItem, 100 keys a call); missing items are absent."""
        wanted = list(dict.fromkeys(keys))
        out: dict[Key, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            request: dict[str, Any] = {
                self.name: {
                    "Keys": [{"pk": {"S": p}, "sk": {"S": s}} for p, s in wanted[start : start + BATCH_GET_MAX]]
                }
            }
            for attempt in range(MAX_ROUNDS):
                page = call(self._client, "batch_get_item", what=f"table {self.name}", RequestItems=request)
                for raw in page.get("Responses", {}).get(self.name, []):
                    item = _item(raw)
                    out[(item["pk"], item["sk"])] = item
                request = page.get("UnprocessedKeys") or {}
                if not request:
                    break
                self._sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise RetryableError(f"{self.name}: BatchGetItem kept returning unprocessed keys; retry later")
        return out

    def is_closed(self, sk: str) -> bool:
        """True when the batch layer has computed window `sk` (its `all` item exists)."""
        return self.get("all", sk) is not None

    # --- writes ---------------------------------------------------------------------------

    def put_items(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Write (overwrite) items, each with `pk` and `sk`; BatchWriteItem, 25 a call, unprocessed
        items resent with backoff. Overwriting makes a re-run of the job idempotent."""
        requests = [{"PutRequest": {"Item": _serialize(item)}} for item in _unique_keys(items)]
        return self._batch_write(requests)

    def delete_items(self, keys: Iterable[Key]) -> int:
        """Delete items by key (missing ones are fine); returns how many keys were sent."""
        wanted = list(dict.fromkeys(keys))
        return self._batch_write([{"DeleteRequest": {"Key": {"pk": {"S": p}, "sk": {"S": s}}}} for p, s in wanted])

    def replace_days(self, days: Sequence[str], items: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """Make the batch view of the days `days` (YYYY-MM-DD) exactly `items`: put them, then delete
        the items an earlier run wrote for those days that `items` no longer has (a URL whose events
        were quarantined on a re-compaction). Returns (written, deleted).

        Which keys a run wrote is kept in manifest items (pk `view#manifest`, sk `<day>#<part>`):
        the manifest is widened to old + new before writing and narrowed to new after deleting, so a
        run that dies half-way still leaves every key it may have written listed for the next run.
        """
        new_by_day: dict[str, set[Key]] = {day: set() for day in days}
        for item in items:
            day = _day_of(item["sk"])
            if day not in new_by_day:
                raise ValueError(f"item {item['pk']} {item['sk']} is outside the days {days[0]}..{days[-1]}")
            new_by_day[day].add((item["pk"], item["sk"]))
        old_by_day = {day: self._manifest(day) for day in days}
        for day in days:
            self._write_manifest(day, old_by_day[day] | new_by_day[day])
        written = self.put_items(items)
        stale = [key for day in days for key in sorted(old_by_day[day] - new_by_day[day])]
        deleted = self.delete_items(stale)
        for day in days:
            self._write_manifest(day, new_by_day[day])
        return written, deleted

    def _manifest(self, day: str) -> set[Key]:
        keys: set[Key] = set()
        for item in self.query(MANIFEST_PK, f"{day}#", f"{day}#~"):
            keys.update(_decode_keys(bytes(item[MANIFEST_KEYS])))
        return keys

    def _write_manifest(self, day: str, keys: set[Key]) -> None:
        parts = _parts(sorted(f"{pk}\t{sk}" for pk, sk in keys))
        self.put_items(
            [
                {"pk": MANIFEST_PK, "sk": f"{day}#{n:04d}", MANIFEST_KEYS: _encode_keys(part)}
                for n, part in enumerate(parts)
            ]
        )
        extra = [(MANIFEST_PK, item["sk"]) for item in self.query(MANIFEST_PK, f"{day}#{len(parts):04d}", f"{day}#~")]
        self.delete_items(extra)

    def _batch_write(self, requests: list[dict[str, Any]]) -> int:
        for start in range(0, len(requests), BATCH_WRITE_MAX):
            pending: dict[str, Any] = {self.name: requests[start : start + BATCH_WRITE_MAX]}
            for attempt in range(MAX_ROUNDS):
                page = call(self._client, "batch_write_item", what=f"table {self.name}", RequestItems=pending)
                pending = page.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise RetryableError(f"{self.name}: BatchWriteItem kept returning unprocessed items; rerun the job")
        return len(requests)


def _day_of(sk: str) -> str:
    """`h#2026-11-22T14:00:00Z` → `2026-11-22`."""
    return sk[2:12]


def _parts(lines: Sequence[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if size + len(line.encode()) + 1 > MANIFEST_PART_BYTES and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += len(line.encode()) + 1
    return parts


def _encode_keys(lines: Sequence[str]) -> bytes:
    return gzip.compress("\n".join(lines).encode(), mtime=0)


def _decode_keys(blob: bytes) -> set[Key]:
    text = gzip.decompress(blob).decode()
    return {(pk, sk) for pk, sk in (line.split("\t", 1) for line in text.split("\n") if line)}


def _unique_keys(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # BatchWriteItem rejects a request holding the same key twice: the last one wins.
    by_key = {(item["pk"], item["sk"]): item for item in items}
    return list(by_key.values())


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(_number(v)) for k, v in item.items() if v is not None}


def _number(value: Any) -> Any:
    """DynamoDB has no float: via repr, so 0.1 stays 0.1."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _item(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in raw.items()}

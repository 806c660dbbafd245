"""DynamoDB adapter for the realtime table: exactly-once counter updates, sketches, order claims, reads.

Exactly once per shard
----------------------
Every item written for a batch carries, per shard, the position (sequence number or offset) of
the last record applied to it: a top-level attribute `wm#<shard>`, a zero-padded string so text
order is number order (Kinesis sequence numbers have 56 digits, beyond a DynamoDB number's 38).
A batch covers the contiguous positions [first, last] of one shard, and one item gets ONE
`UpdateItem` per batch: `ADD` of the batch's deltas and `SET wm#<shard> = last`, conditional on
`attribute_not_exists(wm#<shard>) OR wm#<shard> < first`. So per item:

- no record of the batch applied yet → applied (the common case: one request per item);
- stored ≥ last → a retry or replay of what the item already has → ConditionalCheckFailed, skipped;
- first ≤ stored < last → an earlier, *different* batch (a retry that re-read more records, a
  bisected batch) applied the records up to `stored`: the item gets the deltas of the records
  after `stored` only, conditional on `wm#<shard> = stored`.

The stored position comes back with the ConditionalCheckFailed (ReturnValuesOnConditionCheckFailure
= ALL_OLD), so the skip costs no read. Invariant: an item holds exactly the contributions of its
shard's records up to its `wm#<shard>`, each once, whatever the retries, replays and batch
boundaries, provided a shard is processed by one writer at a time, in order (Lambda's
ParallelizationFactor = 1; one Kafka consumer per partition).

Why flat `wm#<shard>` attributes and not a map `wm` with `SET wm.#s`: a nested path fails
(ValidationException) until the map exists, which costs a second request for every new item
(a two-step update) or a failed first one; and most items of a minute window are new in their
first batch. Measured in docs/SPEED_LAYER.md; the flat attribute always takes one request.

Sketch items (uniques, top items) are read-modify-write with optimistic concurrency on a
`version` attribute and the same per-shard watermark; order claims are conditional puts.

The calls themselves (throttling retries, the bounded thread pool, request counts) and the
reads are `PooledTable`'s, in `dynamodb_pool`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.adapters.dynamodb.pool import PooledTable
from clickstream.errors import RetryableError
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import Cell, Counters, Key
from clickstream.metrics.windows import expires_at
from clickstream.resources import TTL_ATTRIBUTE

POSITION_DIGITS: Final = 56  # Kinesis sequence numbers today; Kafka offsets (int64) fit too
WATERMARK_PREFIX: Final = "wm#"
SKETCH: Final = "sketch"
VERSION: Final = "version"
CLAIM: Final = "claim"
MAX_ROUNDS: Final = 8  # conditional-write conflicts (another writer) before giving up
CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def encode_position(position: int) -> str:
    """A stream position as fixed-width text (text order = number order)."""
    text = f"{position:0{POSITION_DIGITS}d}"
    if len(text) != POSITION_DIGITS or position < 0:
        raise ValueError(f"position {position} does not fit {POSITION_DIGITS} digits")
    return text


def watermark_attribute(shard: str) -> str:
    return f"{WATERMARK_PREFIX}{shard}"


class Claim(Protocol):
    """A claim to count order `order_id` in window `sk`, made by the record at `position`."""

    @property
    def order_id(self) -> str: ...
    @property
    def sk(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def expires_at(self) -> int: ...


@dataclass(frozen=True)
class SketchUpdate:
    """A read-modify-write of one sketch item: `merge(stored bytes, stored position)` → new bytes or None."""

    key: Key
    merge: Callable[[bytes | None, int | None], bytes | None]


@dataclass
class WriteStats:
    applied: int = 0  # items updated with the whole batch
    skipped: int = 0  # items that already had the batch
    partial: int = 0  # items that had part of it and got the rest


class CountersTable(PooledTable):
    """The realtime table. Thread-safe; the client is injected (`_clients.client("dynamodb", settings)`)."""

    _thread_name_prefix = "counters"

    # --- counters ---------------------------------------------------------------------------

    def add_counters(
        self, counters_after: Callable[[int | None], Counters], *, shard: str, first: int, last: int
    ) -> WriteStats:
        """Apply one batch's counter deltas exactly once per item (see the module docstring).

        `counters_after(None)` gives the whole batch's deltas; `counters_after(p)` those of its
        records after position p. Raises RetryableError when DynamoDB stays throttled; items
        already written keep their update (a retry skips them).
        """
        stats = WriteStats()
        first_s, last_s = encode_position(first), encode_position(last)
        whole = counters_after(None)
        jobs: list[tuple[Key, Cell, str | None]] = [(key, cell, None) for key, cell in whole.items()]
        after: dict[int, Counters] = {}
        for round_ in range(MAX_ROUNDS):
            results = self._map(lambda job: self._update_counter(job, shard, first_s, last_s), jobs)
            jobs = []
            for key, outcome, stored in results:
                if outcome == "applied":
                    stats.applied += round_ == 0
                elif outcome == "skipped":
                    stats.skipped += 1
                elif stored is None:  # the item vanished meanwhile (TTL): apply the whole batch again
                    jobs.append((key, whole[key], None))
                else:
                    stats.partial += round_ == 0
                    position = int(stored)
                    if position not in after:
                        after[position] = counters_after(position)
                    rest = after[position].get(key)
                    if rest is not None and any(rest):
                        jobs.append((key, rest, stored))
            if not jobs:
                return stats
        raise RetryableError(f"{self.name}: {len(jobs)} counter items kept changing under shard {shard}")

    def _update_counter(
        self, job: tuple[Key, Cell, str | None], shard: str, first_s: str, last_s: str
    ) -> tuple[Key, str, str | None]:
        (pk, sk), cell, expected = job
        names = {"#w": watermark_attribute(shard)}
        values: dict[str, Any] = {":last": {"S": last_s}}
        adds = []
        for i, (field, value) in enumerate(zip(d.COUNTER_FIELDS, cell, strict=True)):
            if value:
                names[f"#a{i}"] = field
                values[f":a{i}"] = {"N": _number(value)}
                adds.append(f"#a{i} :a{i}")
        if not adds:  # nothing to add (callers drop empty cells; stay total anyway)
            return (pk, sk), "applied", None
        sets = ["#w = :last"]
        ttl = expires_at(sk)
        if ttl is not None:
            names["#x"] = TTL_ATTRIBUTE
            values[":ttl"] = {"N": str(ttl)}
            sets.append("#x = :ttl")
        if expected is None:
            condition = "attribute_not_exists(#w) OR #w < :first"
            values[":first"] = {"S": first_s}
        else:
            condition = "#w = :expected"
            values[":expected"] = {"S": expected}
        try:
            self._call(
                "update_item",
                TableName=self.name,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                UpdateExpression=f"ADD {', '.join(adds)} SET {', '.join(sets)}",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            stored = self._stored_position(exc, (pk, sk), names["#w"])
            if stored is not None and stored >= last_s:
                return (pk, sk), "skipped", stored
            return (pk, sk), "partial", stored
        return (pk, sk), "applied", None

    def _stored_position(self, exc: ClientError, key: Key, attribute: str) -> str | None:
        item = exc.response.get("Item")
        if item is None:  # a server without ReturnValuesOnConditionCheckFailure: read it
            item = self._get(key, consistent=True) or {}
        value = item.get(attribute)
        return value["S"] if value else None

    # --- order claims -----------------------------------------------------------------------

    def claim_orders(self, claims: Sequence[Claim], *, shard: str) -> set[tuple[str, str]]:
        """The (order_id, sk) claims this shard holds: new ones, and ones it made before at the
        same position (a retry or replay of the claiming record)."""

        def claim(c: Claim) -> tuple[str, str] | None:
            token = f"{shard}#{encode_position(c.position)}"
            try:
                self._call(
                    "put_item",
                    TableName=self.name,
                    Item={
                        "pk": {"S": d.order_pk(c.order_id)},
                        "sk": {"S": c.sk},
                        CLAIM: {"S": token},
                        TTL_ATTRIBUTE: {"N": str(c.expires_at)},
                    },
                    ConditionExpression="attribute_not_exists(#c) OR #c = :c",
                    ExpressionAttributeNames={"#c": CLAIM},
                    ExpressionAttributeValues={":c": {"S": token}},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                return None  # another record (an earlier line of the order, a duplicate) has it
            return c.order_id, c.sk

        return {won for won in self._map(claim, claims) if won is not None}

    # --- sketches ---------------------------------------------------------------------------

    def merge_sketches(self, updates: Sequence[SketchUpdate], *, shard: str, last: int) -> int:
        """Read-modify-write each sketch item (optimistic concurrency on `version`), at most once
        per shard and batch: an item whose `wm#<shard>` ≥ last is left alone. Returns items written."""
        last_s = encode_position(last)
        return sum(self._map(lambda u: self._merge_sketch(u, shard, last_s), updates))

    def _merge_sketch(self, update: SketchUpdate, shard: str, last_s: str) -> bool:
        pk, sk = update.key
        wm = watermark_attribute(shard)
        for round_ in range(MAX_ROUNDS):
            item = self._get(update.key, consistent=True) or {}
            stored_wm = item.get(wm, {}).get("S")
            if stored_wm is not None and stored_wm >= last_s:
                return False
            blob = item.get(SKETCH, {}).get("B")
            merged = update.merge(blob, None if stored_wm is None else int(stored_wm))
            if merged is None:
                return False
            names = {"#s": SKETCH, "#v": VERSION, "#w": wm}
            values: dict[str, Any] = {":b": {"B": merged}, ":last": {"S": last_s}, ":one": {"N": "1"}}
            sets = ["#s = :b", "#w = :last"]
            ttl = expires_at(sk)
            if ttl is not None:
                names["#x"] = TTL_ATTRIBUTE
                values[":ttl"] = {"N": str(ttl)}
                sets.append("#x = :ttl")
            if VERSION in item:
                condition = "#v = :v"
                values[":v"] = item[VERSION]
            else:
                condition = "attribute_not_exists(#v)"
            try:
                self._call(
                    "update_item",
                    TableName=self.name,
                    Key={"pk": {"S": pk}, "sk": {"S": sk}},
                    UpdateExpression=f"SET {', '.join(sets)} ADD #v :one",
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise
                self._sleep(random.uniform(0, self._base_delay * 2**round_))  # another shard won: reread
                continue
            return True
        raise RetryableError(f"{self.name}: sketch {pk} {sk} kept changing (optimistic concurrency)")

    # --- freshness --------------------------------------------------------------------------

    def set_latest(self, *, shard: str, last: int, newest_event: str | None, newest_arrival_ms: int) -> None:
        """Raise the shard's newest event time and newest arrival time seen (freshness, lag) in the
        freshness item. Each only ever grows (a conditional SET: DynamoDB has no MAX), so
        retries, replays and re-cut batches leave the same values."""
        updates: list[tuple[str, dict[str, str]]] = [(f"{d.FRESHNESS_ARRIVAL}{shard}", {"N": str(newest_arrival_ms)})]
        if newest_event is not None:
            updates.insert(0, (f"{d.FRESHNESS_EVENT}{shard}", {"S": newest_event}))
        for attribute, value in updates:
            try:
                self._call(
                    "update_item",
                    TableName=self.name,
                    Key={"pk": {"S": d.FRESHNESS_PK}, "sk": {"S": d.FRESHNESS_SK}},
                    UpdateExpression="SET #v = :v",
                    ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                    ExpressionAttributeNames={"#v": attribute},
                    ExpressionAttributeValues={":v": value},
                )
            except ClientError as exc:
                if error_code(exc) != CONDITION_FAILED:
                    raise


class NullCounters:
    """Computes every write but sends none: the benchmark's way to measure the CPU side alone."""

    def __init__(self) -> None:
        self.items = 0
        self.sketches = 0
        self.bytes = 0

    def add_counters(
        self, counters_after: Callable[[int | None], Counters], *, shard: str, first: int, last: int
    ) -> WriteStats:
        cells = counters_after(None)
        self.items += len(cells)
        self.bytes += sum(len(_number(value)) for cell in cells.values() for value in cell if value)  # encoding cost
        return WriteStats(applied=len(cells))

    def claim_orders(self, claims: Sequence[Claim], *, shard: str) -> set[tuple[str, str]]:
        return {(c.order_id, c.sk) for c in claims}

    def merge_sketches(self, updates: Sequence[SketchUpdate], *, shard: str, last: int) -> int:
        for update in updates:
            update.merge(None, None)
        self.sketches += len(updates)
        return len(updates)

    def set_latest(self, *, shard: str, last: int, newest_event: str | None, newest_arrival_ms: int) -> None:
        pass


def _number(value: int | Decimal) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def as_counts(item: Mapping[str, Any]) -> dict[str, Any]:
    """The counter fields of a read item (missing = 0)."""
    return {field: item.get(field, 0) for field in d.COUNTER_FIELDS}

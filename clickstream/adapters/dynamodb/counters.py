"""DynamoDB adapter for the realtime table: exactly-once counter updates, sketches, order claims, reads.

Counters: one item per (window, shard), every cell packed inside
-----------------------------------------------------------------
A shard's batch touches a few windows (a minute, its hour and day, and the windows of late
events). Each gets ONE write per batch: the shard's item of that window (`packed`: pk
`win#<resolution>#<group>`, sk `<window>@<shard>`) holds every counter cell the shard contributed
to the window, and `wm`, the position of the last record applied to it (56-digit text, so text order is
number order: Kinesis sequence numbers have 56 digits, beyond a DynamoDB number's 38). A batch
covers the contiguous positions [first, last] of one shard. Per window item:

- no record of the batch applied yet (no item, or `wm` < first) → stored cells + the batch's
  deltas, written with a PutItem conditional on the `wm` read (or on no item): the common case;
- `wm` ≥ last → a retry or replay of what the item already has → skipped, no write;
- first ≤ `wm` < last → an earlier, *different* batch (a retry that re-read more records, a
  bisected batch) applied the records up to `wm`: the item gets the deltas of the records after
  `wm` only.

The item has one writer, its shard (Lambda's ParallelizationFactor = 1; one Kafka consumer per
partition), so the process remembers what it last wrote and the next batch writes without
reading first; a condition failure (another process took the shard over, TTL removed the item)
drops that memory and reads the item again. Invariant: an item holds exactly the contributions
of its shard's records up to its `wm`, each once, whatever the retries, replays and batch
boundaries. Readers sum a window's items over shards (`get_items`, `query`: the same logical
(pk, sk) items as before). Why this layout and its limits: docs/adr/0010-packed-window-counters.md.

Sketches (uniques, top items) follow the same rule: each shard keeps its own sub-item of a
window's sketch (sk `<window>@<shard>`, a `wm` and a `version`), read-modify-written once per
batch, and readers merge the sub-items. Order claims are conditional puts.

The calls themselves (throttling retries, the bounded thread pool, request counts) and the
plain reads are `PooledTable`'s, in `dynamodb_pool`.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from botocore.exceptions import ClientError

from clickstream.adapters.aws_errors import error_code
from clickstream.adapters.dynamodb import packed
from clickstream.adapters.dynamodb.pool import PooledTable
from clickstream.errors import RetryableError
from clickstream.metrics import definitions as d
from clickstream.metrics.aggregate import Counters, Key
from clickstream.metrics.windows import TTL_SECONDS, expires_at
from clickstream.resources import TTL_ATTRIBUTE

POSITION_DIGITS: Final = 56  # Kinesis sequence numbers today; Kafka offsets (int64) fit too
SKETCH: Final = packed.SKETCH
VERSION: Final = "version"
CLAIM: Final = "claim"
MAX_ROUNDS: Final = 8  # conditional-write conflicts (another writer) before giving up
CONDITION_FAILED: Final = "ConditionalCheckFailedException"
WRITTEN_CACHE_ITEMS: Final = 4096  # window items whose last write a process remembers


def encode_position(position: int) -> str:
    """A stream position as fixed-width text (text order = number order)."""
    text = f"{position:0{POSITION_DIGITS}d}"
    if len(text) != POSITION_DIGITS or position < 0:
        raise ValueError(f"position {position} does not fit {POSITION_DIGITS} digits")
    return text


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

    def __init__(self, name: str, *, client: Any, **kwargs: Any) -> None:
        super().__init__(name, client=client, **kwargs)
        # What this process last wrote to each window item: (wm, cells). One writer per shard,
        # so the next batch of the shard can write without reading first; a stale entry (another
        # process took the shard over) fails its condition and is read again.
        self._written: OrderedDict[Key, tuple[str, packed.Cells]] = OrderedDict()
        self._sketches_written: OrderedDict[Key, dict[str, Any]] = OrderedDict()  # the same, for sketch sub-items

    def add_counters(
        self, counters_after: Callable[[int | None], Counters], *, shard: str, first: int, last: int
    ) -> WriteStats:
        """Apply one batch's counter deltas exactly once per window item (see the module docstring).

        `counters_after(None)` gives the whole batch's deltas; `counters_after(p)` those of its
        records after position p. Each window the batch touches gets one conditional PutItem of
        its shard's item (`packed`): the stored cells plus the deltas the item has not applied,
        conditional on the stored watermark. Raises RetryableError when DynamoDB stays
        throttled; items already written keep their update (a retry skips them).
        """
        stats = WriteStats()
        first_s, last_s = encode_position(first), encode_position(last)
        windows = sorted(packed.by_window(counters_after(None)))
        after: dict[int | None, dict[str, packed.Cells]] = {}
        lock = threading.Lock()

        def deltas(position: int | None, window: str) -> packed.Cells:
            with lock:
                if position not in after:
                    after[position] = packed.by_window(counters_after(position))
                return after[position].get(window, {})

        outcomes = self._map(lambda w: self._apply_window(w, shard, first_s, last_s, deltas), windows)
        for outcome in outcomes:
            setattr(stats, outcome, getattr(stats, outcome) + 1)
        return stats

    def _apply_window(
        self, window: str, shard: str, first_s: str, last_s: str, deltas: Callable[[int | None, str], packed.Cells]
    ) -> str:
        key = packed.physical_key(window, shard)
        for round_ in range(MAX_ROUNDS):
            stored = self._cached(key) if round_ == 0 else None
            if stored is None:
                stored = self._read_window(key)
            wm, cells = stored if stored is not None else (None, {})
            if wm is not None and wm >= last_s:
                return "skipped"
            partial = wm is not None and wm >= first_s
            todo = deltas(int(wm), window) if partial and wm is not None else deltas(None, window)
            if not any(any(cell) for cell in todo.values()):
                return "partial"  # the records after the stored position add nothing here
            merged = packed.added(cells, todo)
            if self._put_window(key, window, merged, last_s, expected=wm):
                with self._lock:
                    self._written[key] = (last_s, merged)
                    self._written.move_to_end(key)
                    while len(self._written) > WRITTEN_CACHE_ITEMS:
                        self._written.popitem(last=False)
                return "partial" if partial else "applied"
        raise RetryableError(f"{self.name}: window item {key} kept changing under shard {shard}")

    def _cached(self, key: Key) -> tuple[str, packed.Cells] | None:
        with self._lock:
            return self._written.get(key)

    def _read_window(self, key: Key) -> tuple[str, packed.Cells] | None:
        item = self._get(key, consistent=True)
        if not item or packed.WATERMARK not in item:
            return None
        return item[packed.WATERMARK]["S"], packed.decode_cells(item.get(packed.CELLS, {}).get("B"))

    def _put_window(self, key: Key, window: str, cells: packed.Cells, last_s: str, *, expected: str | None) -> bool:
        """One conditional PutItem of a window item; False when its watermark moved (reread)."""
        blob = packed.encode_cells(cells)
        item: dict[str, Any] = {
            "pk": {"S": key[0]},
            "sk": {"S": key[1]},
            packed.WATERMARK: {"S": last_s},
            packed.CELLS: {"B": blob},
        }
        size = sum(len(name) for name in item) + len(key[0]) + len(key[1]) + len(last_s) + len(blob)
        if size > packed.MAX_ITEM_BYTES:
            raise ValueError(
                f"{self.name}: window item {key} would hold {size:,} bytes, over DynamoDB's 400 KB item "
                "limit (docs/adr/0010-packed-window-counters.md, Limits)"
            )
        ttl = expires_at(window)
        if ttl is not None:
            item[TTL_ATTRIBUTE] = {"N": str(ttl)}
        if expected is None:
            condition, values = "attribute_not_exists(#w)", None
        else:
            condition, values = "#w = :expected", {":expected": {"S": expected}}
        try:
            self._call(
                "put_item",
                TableName=self.name,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#w": packed.WATERMARK},
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            with self._lock:
                self._written.pop(key, None)
            return False
        return True

    # --- reads: logical counter items from the window items ---------------------------------

    def get_items(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """Items by key, counter keys (`definitions.is_counter_pk`) summed from their window's
        items over shards; missing items are absent from the result."""
        wanted = list(dict.fromkeys(keys))
        counter_keys = [k for k in wanted if d.is_counter_pk(k[0])]
        sketch_keys = [k for k in wanted if packed.is_sketch_pk(k[0])]
        out = super().get_items(k for k in wanted if not d.is_counter_pk(k[0]) and not packed.is_sketch_pk(k[0]))
        sub_items = self._map(lambda key: self._window_items(key[0], key[1] + packed.SHARD_SEPARATOR), sketch_keys)
        out.update(packed.merged_sketches(item for items in sub_items for item in items))
        windows = sorted({sk for _, sk in counter_keys})
        groups = self._groups() if windows else []
        jobs = [(packed.window_pk(w[0], g), w + packed.SHARD_SEPARATOR) for w in windows for g in groups]
        found = packed.summed(item for items in self._map(lambda job: self._window_items(*job), jobs) for item in items)
        for pk, sk in counter_keys:
            cell = found.get((pk, sk))
            if cell is not None and any(cell):
                out[(pk, sk)] = packed.logical_item(pk, sk, cell)
        return out

    def query(self, pk: str, sk_prefix: str = "") -> list[dict[str, Any]]:
        """Every item of `pk` whose sk starts with `sk_prefix`, in sk order (counter pks: summed
        from the window items of every shard)."""
        if packed.is_sketch_pk(pk):
            return [item for _, item in sorted(packed.merged_sketches(super().query(pk, sk_prefix)).items())]
        if not d.is_counter_pk(pk):
            return super().query(pk, sk_prefix)
        resolutions = [sk_prefix[0]] if sk_prefix else sorted(TTL_SECONDS)
        jobs = [(packed.window_pk(res, g), sk_prefix) for res in resolutions for g in self._groups()]
        found = packed.summed(item for items in self._map(lambda job: self._window_items(*job), jobs) for item in items)
        return [packed.logical_item(p, sk, cell) for (p, sk), cell in sorted(found.items()) if p == pk and any(cell)]

    def _groups(self) -> list[int]:
        """The key groups of the shards that ever wrote (the freshness item names each one)."""
        item = self._get((d.FRESHNESS_PK, d.FRESHNESS_SK), consistent=True) or {}
        shards = [name[len(d.FRESHNESS_ARRIVAL) :] for name in item if name.startswith(d.FRESHNESS_ARRIVAL)]
        return sorted({packed.group_of(shard) for shard in shards})

    def _window_items(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        return super().query(pk, sk_prefix)

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
        """Read-modify-write the shard's sub-item of each sketch (pk, `<window>@<shard>`), at most
        once per batch: a sub-item whose `wm` ≥ last is left alone (conditional on `version`, which
        only a takeover of the shard can move meanwhile). As for window items, the process
        remembers what it last wrote and reads only when that memory fails the condition.
        Returns items written."""
        last_s = encode_position(last)
        return sum(self._map(lambda u: self._merge_sketch(u, shard, last_s), updates))

    def _merge_sketch(self, update: SketchUpdate, shard: str, last_s: str) -> bool:
        pk, window = update.key
        sk = packed.shard_sk(window, shard)  # the shard's own sub-item: one writer, no contention
        wm = packed.WATERMARK
        for round_ in range(MAX_ROUNDS):
            with self._lock:
                cached = self._sketches_written.get((pk, sk)) if round_ == 0 else None
            item = cached if cached is not None else self._get((pk, sk), consistent=True) or {}
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
            ttl = expires_at(window)
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
                with self._lock:
                    self._sketches_written.pop((pk, sk), None)
                self._sleep(random.uniform(0, self._base_delay * 2**round_))  # another process wrote: reread
                continue
            version = int(item[VERSION]["N"]) + 1 if VERSION in item else 1
            with self._lock:
                self._sketches_written[(pk, sk)] = {
                    wm: {"S": last_s},
                    SKETCH: {"B": merged},
                    VERSION: {"N": str(version)},
                }
                self._sketches_written.move_to_end((pk, sk))
                while len(self._sketches_written) > WRITTEN_CACHE_ITEMS:
                    self._sketches_written.popitem(last=False)
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
        windows = packed.by_window(counters_after(None))
        self.items += len(windows)
        self.bytes += sum(len(packed.encode_cells(cells)) for cells in windows.values())  # encoding cost
        return WriteStats(applied=len(windows))

    def claim_orders(self, claims: Sequence[Claim], *, shard: str) -> set[tuple[str, str]]:
        return {(c.order_id, c.sk) for c in claims}

    def merge_sketches(self, updates: Sequence[SketchUpdate], *, shard: str, last: int) -> int:
        for update in updates:
            update.merge(None, None)
        self.sketches += len(updates)
        return len(updates)

    def set_latest(self, *, shard: str, last: int, newest_event: str | None, newest_arrival_ms: int) -> None:
        pass

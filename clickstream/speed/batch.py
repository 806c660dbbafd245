"""One shard's batch of stream records → what the speed layer writes. Pure: no I/O, no clock.

`prepare_batch` decodes every record as a stored event (`events.stored`: the collector's
canonical form, typed and checked, not validated a second time), applies the lateness bound,
drops producer duplicates, and returns a `PreparedBatch` from which every write is derived: counters (per
item, optionally only from records after a given position: see `counters`), the order claims,
the uniques and top-items inputs, the bad rows.

Everything depends on the records alone, never on when they are processed: "now" is each
record's arrival time on the stream (Kinesis ApproximateArrivalTimestamp, the Kafka record
timestamp), which a retry or a replay reads back unchanged. So every attempt at a batch computes
the same deltas, which is what lets the writer skip, item by item, what an earlier attempt
already applied.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import msgspec
import orjson

from clickstream.events.badrow import bad_row
from clickstream.events.fields import FieldError
from clickstream.events.schema import INVALID_VALUE, OUT_OF_RANGE, TOO_LATE
from clickstream.events.stored import StoredEventError, decode_stored
from clickstream.events.timestamps import format_timestamp
from clickstream.metrics import aggregate as agg
from clickstream.metrics import definitions as d
from clickstream.metrics.windows import window_end, window_sks
from clickstream.settings import Limits
from clickstream.speed.dedupe import FirstSeen

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOTHING: dict[str, int] = {}
ORDER_CLAIM_MARGIN_SECONDS = 86_400  # claims outlive the last possible late event by a day


@dataclass(frozen=True, slots=True)
class InRecord:
    """One stream record: its position in the shard, its arrival time, its bytes."""

    position: int  # Kinesis sequence number or Kafka offset; strictly increasing within a shard
    arrival_ms: int  # epoch milliseconds when the stream accepted it
    data: bytes


class OrderClaim(NamedTuple):
    """Claim to count order `order_id` in window `sk`, by the record at `position`."""

    order_id: str
    sk: str
    position: int
    expires_at: int


@dataclass
class PreparedBatch:
    shard: str
    source: str  # "kinesis" or "kafka": names the bad-rows objects
    first: int  # position of the batch's first record (kept or not)
    last: int
    kept: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (position, event), in order
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (position, pk, arrival text)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    bad_rows_received_at: datetime | None = None
    order_claims: list[OrderClaim] = field(default_factory=list)
    duplicates: int = 0
    too_late: int = 0
    newest_event: str | None = None
    newest_arrival_ms: int = 0
    _uniques: dict[tuple[str, int | None], dict[str, list[str]]] = field(default_factory=dict, repr=False)

    @property
    def kept_ids(self) -> list[tuple[str, int]]:
        """(event_id, position) of the kept records (what `RecentIds.commit` takes)."""
        return [(event["event_id"], position) for position, event in self.kept]

    def counters(self, won: Collection[tuple[str, str]] = (), after: int | None = None) -> agg.Counters:
        """Counter deltas of the records after position `after` (all when None).

        `won`: the (order_id, sk) claims this batch holds; each adds one order to `all` at sk.
        """
        events = (e for p, e in self.kept if after is None or p > after)
        counters = agg.aggregate(events)
        for position, pk, arrived in self.rejects:
            if after is None or position > after:
                agg.count_at(counters, pk, arrived)
        orders = [
            c.sk for c in self.order_claims if (c.order_id, c.sk) in won and (after is None or c.position > after)
        ]
        return agg.add_orders(counters, orders)

    def unique_values(self, kind: str, after: int | None = None) -> dict[str, list[str]]:
        """sk → values of `definitions.UNIQUE_FIELDS[kind]` of kept events after position `after`
        (all when None), per uniques window."""
        cached = self._uniques.get((kind, after))
        if cached is not None:
            return cached
        name = d.UNIQUE_FIELDS[kind]
        out: dict[str, list[str]] = {}
        for position, event in self.kept:
            value = event[name]
            if value is None or (after is not None and position <= after):
                continue
            sks = window_sks(event["timestamp"])
            for resolution in d.UNIQUE_RESOLUTIONS:
                out.setdefault(sks[_INDEX[resolution]], []).append(value)
        self._uniques[(kind, after)] = out  # one per sketch item otherwise; a race only recomputes
        return out


_INDEX = {"m": 0, "h": 1, "d": 2}


class _Arrival(NamedTuple):
    received_at: datetime  # the bad rows' received_at: one object per second
    text: str
    cutoff: str  # events with an earlier timestamp are too late


def prepare_batch(
    shard: str,
    records: Sequence[InRecord],
    *,
    limits: Limits,
    seen: FirstSeen = _NOTHING,
    source: str = "kinesis",
) -> PreparedBatch:
    """Decode, check, bound lateness and deduplicate one shard's batch (records in stream order).

    - bytes that are not JSON, and records that are not a stored event of this schema version
      (`events.stored.decode_stored`: shape, types, version, event type, times, ranges): bad
      rows, with reasons;
    - a valid event older than its record's arrival - `limits.lateness_seconds`: a bad row
      with reason `too_late`;
    - a revenue beyond what the counters hold (`definitions.MAX_EVENT_REVENUE`): out_of_range;
    - an event_id first carried by a record at another position (earlier in this batch, or in
      `seen`: recent committed batches): a producer duplicate, dropped.
    Each reject is counted under `bad#<reason>` (duplicates under `dup#event_id`) in the windows
    of its arrival time. The collector's rules that depend on its clock (the in-future bound)
    were applied when it accepted the event; they are not applied again here.
    """
    batch = PreparedBatch(shard, source, records[0].position if records else 0, records[-1].position if records else 0)
    arrivals: dict[int, _Arrival] = {}
    ids: dict[str, int] = {}  # event_id -> position of its first carrier in this batch
    claimed: set[tuple[str, str]] = set()
    lateness = timedelta(seconds=limits.lateness_seconds)
    label = f"stream:{source}:{shard}"
    for record in records:
        second = -(-record.arrival_ms // 1000)
        arrival = arrivals.get(second)
        if arrival is None:
            received = _EPOCH + timedelta(seconds=second)
            arrival = arrivals[second] = _Arrival(
                received, format_timestamp(received), format_timestamp(received - lateness)
            )
        batch.newest_arrival_ms = max(batch.newest_arrival_ms, record.arrival_ms)
        event, raw, errors = _decode(record.data)
        if event is not None:
            raw = event
            if event["timestamp"] < arrival.cutoff:
                batch.too_late += 1
                errors = [FieldError("timestamp", TOO_LATE, _too_late(event["timestamp"], arrival, limits))]
            elif d.revenue_of(event) is None:
                errors = [FieldError("price", OUT_OF_RANGE, _REVENUE_MESSAGE)]
            elif _first_carrier(event["event_id"], ids, seen, record.position) != record.position:
                batch.duplicates += 1
                batch.rejects.append((record.position, d.DUPLICATES_PK, arrival.text))
                continue
            else:
                _keep(batch, record.position, event, ids, claimed, limits)
                continue
        batch.rejects.append((record.position, d.bad_pk(errors[0].reason), arrival.text))
        batch.bad_rows.append(bad_row(raw, errors, received_at=arrival.received_at, source=label))
        if batch.bad_rows_received_at is None:
            batch.bad_rows_received_at = arrival.received_at
    return batch


_REVENUE_MESSAGE = f"price * quantity exceeds {d.MAX_EVENT_REVENUE:,} (what the realtime counters hold)"


def _too_late(timestamp: str, arrival: _Arrival, limits: Limits) -> str:
    return (
        f"{timestamp} is older than the record's arrival time ({arrival.text}) "
        f"minus the lateness bound ({limits.lateness_seconds} s)"
    )


def _decode(data: bytes) -> tuple[dict[str, Any] | None, object, list[FieldError]]:
    """(the stored event, None, []) or (None, what arrived, why it is not one)."""
    try:
        return decode_stored(data), None, []
    except msgspec.DecodeError as exc:
        text = data.decode("utf-8", "backslashreplace")
        return None, text, [FieldError("", INVALID_VALUE, f"record is not JSON ({exc})")]
    except StoredEventError as exc:
        return None, orjson.loads(data), [FieldError(exc.field, exc.reason, exc.message)]


def _first_carrier(event_id: str, ids: dict[str, int], seen: FirstSeen, position: int) -> int:
    first = ids.get(event_id)
    if first is None:
        first = seen.get(event_id)
    return position if first is None else first


def _keep(
    batch: PreparedBatch,
    position: int,
    event: dict[str, Any],
    ids: dict[str, int],
    claimed: set[tuple[str, str]],
    limits: Limits,
) -> None:
    ids.setdefault(event["event_id"], position)
    batch.kept.append((position, event))
    timestamp = event["timestamp"]
    if batch.newest_event is None or timestamp > batch.newest_event:
        batch.newest_event = timestamp
    order_id = event["order_id"]
    if order_id is not None and event["event_type"] == d.PURCHASE:
        for sk in window_sks(timestamp):
            if (order_id, sk) not in claimed:  # the first line of an order in this batch claims it
                claimed.add((order_id, sk))
                expires = window_end(sk) + limits.lateness_seconds + ORDER_CLAIM_MARGIN_SECONDS
                batch.order_claims.append(OrderClaim(order_id, sk, position, expires))

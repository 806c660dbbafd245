"""The live feed's lists (pure): newest received first, each event once, bounded; and the
processor keeps one per shard without ever failing a batch over it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from clickstream.adapters.dynamodb import NullCounters
from clickstream.events.schema import EVENT_FIELDS
from clickstream.metrics import recent
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import SpeedProcessor


def ev(n: int, received: str = "2026-11-22T10:00:00.000Z", **extra: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": "click", "received_at": received, "timestamp": received,
            "ip_address": "10.0.0.x", "user_agent": "UA", **extra}  # fmt: skip


T1, T2, T3 = "2026-11-22T10:00:05.000Z", "2026-11-22T10:00:06.000Z", "2026-11-22T10:00:07.000Z"


def test_merge_puts_the_batch_ahead_newest_received_first_and_keeps_stream_order_on_ties() -> None:
    previous = recent.merge([], [ev(1), ev(2)], applied_at=T1)
    assert [e["event_id"] for e in previous] == ["e2", "e1"]  # same time: later in the stream first
    batch = [ev(3, "2026-11-22T10:00:02.000Z"), ev(4, "2026-11-22T10:00:01.000Z")]
    merged = recent.merge(previous, batch, applied_at=T2)
    assert [e["event_id"] for e in merged] == ["e3", "e4", "e2", "e1"]
    assert [e["applied_at"] for e in merged] == [T2, T2, T1, T1]


def test_merge_shows_only_the_feed_fields_once_each_and_at_most_the_limit() -> None:
    merged = recent.merge([recent.project(ev(1))], [ev(1), *[ev(n) for n in range(2, 80)]], applied_at=T1, limit=50)
    assert len(merged) == 50 and len({e["event_id"] for e in merged}) == 50
    assert set(merged[0]) == {*recent.FIELDS, "applied_at"}
    assert "ip_address" not in merged[0] and "user_agent" not in merged[0]


def test_newest_merges_shards_by_received_time_within_one_application() -> None:
    a = recent.merge([], [ev(1, "2026-11-22T10:00:01Z"), ev(2, "2026-11-22T10:00:03Z")], applied_at=T1)
    b = recent.merge([], [ev(3, "2026-11-22T10:00:02Z"), ev(2, "2026-11-22T10:00:03Z")], applied_at=T1)
    assert [e["event_id"] for e in recent.newest([a, b], 10)] == ["e2", "e3", "e1"]
    assert [e["event_id"] for e in recent.newest([a, b], 2)] == ["e2", "e3"]


def test_an_event_of_a_lagging_shard_ranks_first_when_its_batch_is_applied() -> None:
    # shard b is ahead (its events received later were applied at T2); shard a lags and applies
    # an event received earlier at T3: a reader of the 2 newest must see it, or it is never shown
    a = recent.merge([], [ev(1, "2026-11-22T10:00:01Z")], applied_at=T3)
    b = recent.merge([], [ev(2, "2026-11-22T10:00:02Z"), ev(3, "2026-11-22T10:00:03Z")], applied_at=T2)
    assert [e["event_id"] for e in recent.newest([a, b], 2)] == ["e1", "e3"]


class MemoryFeed:
    """The feed store's contract (a later position wins) in memory."""

    def __init__(self, fail: bool = False) -> None:
        self.items: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self.loads = 0
        self.fail = fail

    def load(self, shard: str) -> list[dict[str, Any]]:
        self.loads += 1
        return list(self.items.get(shard, (0, []))[1])

    def store(self, shard: str, *, last: int, events: Sequence[Mapping[str, Any]]) -> bool:
        if self.fail:
            raise RuntimeError("DynamoDB is down")
        if shard in self.items and self.items[shard][0] >= last:
            return False
        self.items[shard] = (last, [dict(e) for e in events])
        return True


class ListSink:
    def put(self, rows: Any, *, received_at: Any, source: str) -> str | None:
        return None


ARRIVAL_MS = int(datetime(2026, 11, 22, 10, 0, 1, tzinfo=UTC).timestamp() * 1000)
A, B, C = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))


def records(first: int, events: list[dict[str, Any]]) -> list[InRecord]:
    base = {"user_id": "u1", "session_id": "s1", "url": "/", "http_status": 200}
    now = "2026-11-22T10:00:00.000Z"
    out = []
    for i, e in enumerate(events):
        # the stored form the collector writes: every field, schema_version set
        event = {f: None for f in EVENT_FIELDS} | base | e | {"timestamp": now, "received_at": now, "schema_version": 1}
        out.append(InRecord(first + i, ARRIVAL_MS, orjson.dumps(event)))
    return out


def test_processor_keeps_each_shards_feed_and_a_new_process_continues_the_stored_list() -> None:
    feed = MemoryFeed()
    processor = SpeedProcessor(NullCounters(), ListSink(), feed=feed)
    processor.process("s-1", records(10, [{"event_id": A, "event_type": "page_view"}]))
    processor.process("s-1", records(11, [{"event_id": B, "event_type": "click"}]))
    assert [e["event_id"] for e in feed.items["s-1"][1]] == [B, A] and feed.loads == 1

    restarted = SpeedProcessor(NullCounters(), ListSink(), feed=feed)
    restarted.process("s-1", records(12, [{"event_id": C, "event_type": "click"}]))
    assert [e["event_id"] for e in feed.items["s-1"][1]] == [C, B, A]

    # a replayed older batch does not roll the list back
    processor.process("s-1", records(11, [{"event_id": B, "event_type": "click"}]))
    assert feed.items["s-1"][0] == 12


def test_a_failing_feed_never_fails_the_batch() -> None:
    counters = NullCounters()
    processor = SpeedProcessor(counters, ListSink(), feed=MemoryFeed(fail=True))
    result = processor.process("s-1", records(1, [{"event_id": A, "event_type": "page_view"}]))
    assert result.kept == 1 and counters.items > 0

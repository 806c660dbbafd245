"""Best-effort producer-duplicate detection: the event ids of recent batches, per shard. In memory.

A producer retry sends the same event (same event_id) again, usually seconds later and, with
user_id as the partition key, on the same shard. Each shard keeps its last ~`per_shard` ids,
each with the position of the record that carried it first, in two generations of dicts (when
the young one is full it becomes the old one and the previous old one is dropped), so memory is
bounded and a lookup is two dict probes.

A record is a duplicate when its id was first carried by a record at *another* position; the
record itself, delivered again (a retry, a replay), is not. Ids are added only after their batch
is fully applied (`commit`). So a retry sees the same state as its first attempt, a replay from
the stream's start rebuilds the same state as it goes, and each record gets the same verdict
every time: every counter item receives the same deltas from every attempt. What stays for the batch layer: duplicates further
apart than the window, across shards (a reshard between the two sends), or across a cold start
(a new Lambda environment starts empty). See docs/SPEED_LAYER.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final, Protocol

DEFAULT_PER_SHARD: Final = 100_000
DEFAULT_MAX_SHARDS: Final = 64  # shards remembered; the least recently used is forgotten


class FirstSeen(Protocol):
    def get(self, event_id: str, /) -> int | None: ...


class _Generations:
    __slots__ = ("half", "old", "young")

    def __init__(self, half: int) -> None:
        self.half = half
        self.young: dict[str, int] = {}
        self.old: dict[str, int] = {}

    def get(self, event_id: str, /) -> int | None:
        position = self.young.get(event_id)
        return self.old.get(event_id) if position is None else position

    def add_all(self, ids: Iterable[tuple[str, int]]) -> None:
        for event_id, position in ids:
            if self.get(event_id) is not None:
                continue  # keep the first carrier's position
            self.young[event_id] = position
            if len(self.young) >= self.half:
                self.old, self.young = self.young, {}


_NOTHING: dict[str, int] = {}


class RecentIds:
    """Recent event ids per shard; thread-safe across shards (one batch of a shard at a time)."""

    def __init__(self, per_shard: int = DEFAULT_PER_SHARD, max_shards: int = DEFAULT_MAX_SHARDS) -> None:
        if per_shard < 2 or max_shards < 1:
            raise ValueError("per_shard must be >= 2 and max_shards >= 1")
        self._half = per_shard // 2
        self._max_shards = max_shards
        self._shards: OrderedDict[str, _Generations] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, shard: str) -> FirstSeen:
        """`.get(event_id)` → the position of the record that first carried it (committed batches of `shard`)."""
        with self._lock:
            generations = self._shards.get(shard)
            if generations is None:
                return _NOTHING
            self._shards.move_to_end(shard)
            return generations

    def commit(self, shard: str, ids: Iterable[tuple[str, int]]) -> None:
        """Remember the (event_id, position) of the kept records of a batch of `shard` applied in full."""
        with self._lock:
            generations = self._shards.get(shard)
            if generations is None:
                generations = self._shards[shard] = _Generations(self._half)
                if len(self._shards) > self._max_shards:
                    self._shards.popitem(last=False)
            self._shards.move_to_end(shard)
            generations.add_all(ids)

    def forget(self, shard: str) -> None:
        """Drop a shard's ids (e.g. its lease moved to another consumer)."""
        with self._lock:
            self._shards.pop(shard, None)

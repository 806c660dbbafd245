"""Cutting one shard's records into Lambda batches, and keeping a batch's boundaries. Pure.

Like an event source mapping: a batch is invoked when it holds `batch_size` records or the
payload limit's worth, or when the batching window has passed since its first record was read
(window 0: as soon as anything is there), or when a closed shard has been read to its end.

Once cut, a batch keeps its boundaries until it succeeds or goes to the dead-letter queue: a
retry invokes the same records (after a partial failure, the same records from the lowest
failed one on). And a batch recovered from a lease (`replay(last)`) is cut at exactly that
sequence number, whatever the size and window say. This is what makes the handler's per-item
watermarks exact: a batch applied before a crash but never checkpointed comes back with the
same first and last record, so every item it touched skips it, and no new batch ever
straddles an applied one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clickstream.emulated.event_source_mapping.events import LAMBDA_PAYLOAD_MAX_BYTES, KinesisRecord


class ShardBatches:
    def __init__(
        self,
        *,
        batch_size: int,
        window: float,
        record_bytes: Callable[[KinesisRecord], int],
        max_bytes: int = LAMBDA_PAYLOAD_MAX_BYTES,
    ) -> None:
        if batch_size < 1 or window < 0:
            raise ValueError(f"batch_size must be >= 1 and window >= 0, got {batch_size}, {window}")
        self.batch_size, self.window, self.max_bytes = batch_size, window, max_bytes
        self._size = record_bytes
        self._buffer: list[KinesisRecord] = []
        self._sizes: list[int] = []
        self._bytes = 0
        self._since: float | None = None
        self._replay_last: int | None = None
        self.batch: list[KinesisRecord] | None = None  # cut and not yet done with

    def __len__(self) -> int:
        return len(self._buffer) + len(self.batch or ())

    def add(self, records: Sequence[KinesisRecord], now: float) -> None:
        """Append records read at `now` (sequence numbers continue the buffer's)."""
        if not records:
            return
        if self._since is None:
            self._since = now
        sizes = [self._size(r) for r in records]
        self._buffer.extend(records)
        self._sizes.extend(sizes)
        self._bytes += sum(sizes)

    def wants_more(self) -> bool:
        """Whether reading more is useful (bounded: one full batch buffered is enough)."""
        return len(self._buffer) < self.batch_size and self._bytes < self.max_bytes

    def replay(self, last: int) -> None:
        """The next batch ends exactly at `last` (a batch recovered from the lease)."""
        self._replay_last = last

    def next_batch(self, now: float, *, drained: bool = False, shard_end: bool = False) -> list[KinesisRecord] | None:
        """The batch to invoke now, if any. `drained`: the shard has nothing more to read now."""
        if self.batch is not None:
            return self.batch
        if not self._buffer:
            return None
        if self._replay_last is not None:
            if self._buffer[-1].sequence < self._replay_last and not (drained or shard_end):
                return None  # the recovered batch is not all read yet
            last, self._replay_last = self._replay_last, None
            n = sum(1 for r in self._buffer if r.sequence <= last)
            if n:
                return self._cut(n)
        full = len(self._buffer) >= self.batch_size or self._bytes >= self.max_bytes
        aged = self._since is not None and now - self._since >= self.window
        if not (full or aged or shard_end):
            return None
        n, size = 0, 0
        while n < len(self._buffer) and n < self.batch_size:
            if n and size + self._sizes[n] > self.max_bytes:
                break
            size += self._sizes[n]
            n += 1
        return self._cut(n, now=now)

    def succeeded(self) -> int:
        """The batch is done (success, or sent to the dead-letter queue): its last sequence number."""
        assert self.batch is not None, "no batch in flight"
        last = self.batch[-1].sequence
        self.batch = None
        return last

    def partially_failed(self, first_failed: int) -> int | None:
        """Keep the batch from `first_failed` on; returns the sequence number before it (None: nothing succeeded)."""
        assert self.batch is not None, "no batch in flight"
        i = next(i for i, r in enumerate(self.batch) if r.sequence == first_failed)
        done = self.batch[i - 1].sequence if i else None
        self.batch = self.batch[i:]
        return done

    def clear(self) -> None:
        """Forget everything (the lease is gone: the next holder starts from the checkpoint)."""
        self._buffer, self._sizes, self._bytes, self._since = [], [], 0, None
        self._replay_last, self.batch = None, None

    def _cut(self, n: int, *, now: float | None = None) -> list[KinesisRecord]:
        self.batch = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self._bytes -= sum(self._sizes[:n])
        self._sizes = self._sizes[n:]
        # The window of what is left starts now: those records were not due before this cut.
        self._since = None if not self._buffer else (now if now is not None else self._since)
        return self.batch

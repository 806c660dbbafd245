"""The Kafka consumer loop: a self-managed Kafka event source mapping around a Lambda handler.

Poll the group, buffer per partition, cut a batch (batch size, or the batching window since the
oldest buffered message), and invoke the handler with the self-managed Kafka event. Offsets are
committed only after the handler returned; a partial batch response is honoured per partition
(commit up to the lowest failed offset, retry from there); bounded retries with backoff, then
the batch's description goes to the dead-letter queue and its offsets are committed.

Before each invocation the batch's range is committed as the metadata of each partition's
current offset (`batch:<last offset>`): a member that takes the partition over after a crash
replays exactly that range first, so the handler's per-partition watermarks skip what was
applied (the same argument as `event_source_mapping.batches`), and the group's generation
fences a member that lost the partition (its commit is refused, it drops the batch).

Rebalance-safe: nothing is ever in flight during `poll()` (one thread: every invocation is
committed before the next poll), and on revoke (inside `poll()`, before the partitions move)
the messages already buffered for them are invoked and committed too, so the next owner starts
where this one stopped. A broker may refuse commits once a rebalance has begun (the librdkafka
mock broker does, even in the revoke callback): then the batch is dropped un-invoked, or, if
it was invoked, the new owner replays exactly the range noted in the last accepted commit, and
the handler's watermarks skip what was applied. The group I/O is injected
(`clickstream.emulated.event_source_mapping.kafka_group.KafkaGroup`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickstream.emulated.event_source_mapping.events import KafkaMessage, kafka_event
from clickstream.emulated.event_source_mapping.failures import kafka_failure
from clickstream.emulated.event_source_mapping.invoke import Handler, invoke
from clickstream.emulated.event_source_mapping.options import CONSUMER, ConsumerOptions
from clickstream.emulated.event_source_mapping.responses import kafka_verdict
from clickstream.lambda_context import DEFAULT_ACCOUNT, lambda_context
from clickstream.settings import Settings

log = logging.getLogger(__name__)

INTENT_PREFIX = "batch:"
POLL_TIMEOUT_MS = 100
REGION = "us-east-1"  # only names the function in the context: a Kafka event carries no region

GroupFactory = Callable[[Callable[[list[str]], None], Callable[[list[str]], None]], Any]


@dataclass
class KafkaStats:
    records: int = 0
    batches: int = 0
    failed_invocations: int = 0
    dead_lettered: int = 0
    rebalances: int = 0
    lost_commits: int = 0


class KafkaConsumerLoop:
    def __init__(
        self,
        handler: Handler,
        *,
        connect: GroupFactory,  # (on_revoked, on_assigned) -> KafkaGroup
        dlq: Any,
        bootstrap: str,
        options: ConsumerOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.options = options or ConsumerOptions()
        self.stats = KafkaStats()
        self._handler, self._dlq, self._bootstrap = handler, dlq, bootstrap
        self._clock, self._wall, self._jitter = clock, wall, jitter
        self._buffers: dict[str, list[KafkaMessage]] = {}
        self._expected: dict[str, int] = {}  # next offset per partition: older fetches are stale
        self._replay: dict[str, int] = {}  # a recovered batch's last offset per partition
        self._since: float | None = None
        self._rebalancing = False  # between a revocation and the assignment that ends it
        self._stop = threading.Event()
        self._group = connect(self._on_revoked, self._on_assigned)

    def run(self, stop: threading.Event, *, until_idle: float | None = None) -> KafkaStats:
        """Consume until `stop` is set (or, with `until_idle`, the assignment is drained and quiet that long)."""
        self._stop = stop
        started = last_work = self._clock()
        next_progress = started + self.options.progress_seconds
        try:
            while not stop.is_set():
                got = self._group.poll(POLL_TIMEOUT_MS, self.options.batch_size)
                self._add(got)
                batch = self._cut(self._clock())
                if batch:
                    self._invoke(batch)
                now = self._clock()
                if got or batch:
                    last_work = now
                elif until_idle is not None and now - last_work >= until_idle and self._drained():
                    log.info("assignment drained and idle for %.1f s: stopping", now - last_work)
                    break
                if now >= next_progress:
                    self._log_progress(now - started)
                    next_progress = now + self.options.progress_seconds
        finally:
            self._group.close()  # leaves the group: the others rebalance at once
        self._log_progress(self._clock() - started)
        return self.stats

    # --- rebalances (called inside poll) -----------------------------------------------------

    def _on_revoked(self, pids: list[str]) -> None:
        self.stats.rebalances += 1
        self._rebalancing = True
        log.info("revoked %s", ", ".join(pids) or "nothing")
        batch = self._cut(self._clock(), only=set(pids))
        if batch and not self._stop.is_set():
            log.info("partitions %s revoked: invoking their %d buffered records first", pids, _count(batch))
            self._invoke(batch)
        for pid in pids:
            self._buffers.pop(pid, None)
            self._expected.pop(pid, None)
            self._replay.pop(pid, None)
        self._since = self._since if any(self._buffers.values()) else None

    def _on_assigned(self, pids: list[str]) -> None:
        for pid in pids:
            committed = self._group.committed(pid)
            self._buffers.setdefault(pid, [])
            if committed is None:
                continue
            offset, meta = committed
            self._expected[pid] = offset
            if meta.startswith(INTENT_PREFIX) and int(meta[len(INTENT_PREFIX) :]) >= offset:
                self._replay[pid] = int(meta[len(INTENT_PREFIX) :])
                log.info("partition %s: replaying the batch %d..%s first", pid, offset, self._replay[pid])
        self._rebalancing = False
        log.info("assigned %s", ", ".join(pids) or "nothing")

    # --- batching ----------------------------------------------------------------------------

    def _add(self, messages: list[KafkaMessage]) -> None:
        now = self._clock()
        for m in messages:
            pid = m.partition_id
            if pid not in self._buffers or m.offset < self._expected.get(pid, 0):
                continue  # revoked meanwhile, or fetched before a reset: not ours to invoke
            self._buffers[pid].append(m)
            self._expected[pid] = m.offset + 1
            if self._since is None:
                self._since = now

    def _cut(self, now: float, *, only: set[str] | None = None) -> dict[str, list[KafkaMessage]]:
        """The batch to invoke now (partition -> messages), or {} when none is due."""
        forced = only is not None
        pids = sorted(p for p in self._buffers if self._buffers[p] and (only is None or p in only))
        ready = [p for p in pids if p in self._replay and (forced or self._buffers[p][-1].offset >= self._replay[p])]
        free = [p for p in pids if p not in self._replay]
        total = sum(len(self._buffers[p]) for p in free)
        aged = self._since is not None and now - self._since >= self.options.batch_window
        if not (forced or ready or aged or total >= self.options.batch_size):
            return {}
        batch: dict[str, list[KafkaMessage]] = {}
        for p in ready:  # a recovered range goes whole, whatever the batch size says
            last = self._replay.pop(p)
            batch[p] = [m for m in self._buffers[p] if m.offset <= last]
        room = max(self.options.batch_size - _count(batch), 0) if not forced else None
        for p in free:
            take = self._buffers[p] if room is None else self._buffers[p][:room]
            if take:
                batch[p] = take
                room = None if room is None else room - len(take)
        for p, msgs in batch.items():
            self._buffers[p] = self._buffers[p][len(msgs) :]
        batch = {p: msgs for p, msgs in batch.items() if msgs}
        self._since = now if any(self._buffers.values()) else None
        return batch

    def _drained(self) -> bool:
        """Nothing left to do: partitions assigned, none behind, nothing buffered, and no rebalance
        under way (a member that left mid-rebalance would never get the partitions it was to take)."""
        pids = self._group.assignment()
        if self._rebalancing or not pids or any(self._buffers.values()):
            return False
        return all(self._group.records_behind(p) == 0 for p in pids)

    # --- invoking ----------------------------------------------------------------------------

    def _invoke(self, batch: dict[str, list[KafkaMessage]]) -> None:
        """Invoke until every partition of the batch succeeded or went to the DLQ (or we lost it)."""
        pending, failures, reason = dict(batch), 0, ""
        while pending:
            intents = {p: (msgs[0].offset, f"{INTENT_PREFIX}{msgs[-1].offset}") for p, msgs in pending.items()}
            if not self._commit(intents, pending):
                return
            messages = [m for msgs in pending.values() for m in msgs]
            context = lambda_context(
                self.options.function_name,
                region=REGION,
                account=DEFAULT_ACCOUNT,
                request_id=str(uuid.uuid4()),
                clock=self._clock,
                timeout=self.options.function_timeout,
            )
            result = invoke(self._handler, kafka_event(messages, bootstrap=self._bootstrap), context)
            offsets = {p: [m.offset for m in msgs] for p, msgs in pending.items()}
            verdict = kafka_verdict(result.response, offsets) if result.error is None else None
            failed = verdict.first_failed if verdict is not None and verdict.whole is None else None
            done: dict[str, tuple[int, str]] = {}
            retry: dict[str, list[KafkaMessage]] = {}
            for p, msgs in pending.items():
                first = None if failed is None else failed.get(p)
                if failed is not None and first is None:
                    done[p] = (msgs[-1].offset + 1, "")
                    self.stats.records += len(msgs)
                    continue
                rest = msgs if first is None else [m for m in msgs if m.offset >= first]
                retry[p] = rest
                if len(rest) < len(msgs):  # commit the part before the failure, keep the range
                    done[p] = (rest[0].offset, f"{INTENT_PREFIX}{rest[-1].offset}")
                    self.stats.records += len(msgs) - len(rest)
            if not self._commit(done, pending):
                return
            if not retry:
                self.stats.batches += 1
                return
            self.stats.failed_invocations += 1
            failures += 1
            reason = result.reason if verdict is None else (verdict.reason or "partial batch failure")
            log.warning(
                "batch of %d records failed (attempt %d of %d): %s",
                _count(retry),
                failures,
                self.options.retry.max_retries + 1,
                reason,
            )
            if self.options.retry.exhausted(failures):
                self._dead_letter(retry, failures, reason)
                return
            delay = self.options.retry.delay(failures, jitter=self._jitter(), retry_after=result.retry_after)
            if self._stop.wait(delay):
                return  # stopping: the committed range is replayed by the next owner
            pending = retry

    def _commit(self, offsets: dict[str, tuple[int, str]], batch: dict[str, list[KafkaMessage]]) -> bool:
        if self._group.commit(offsets):
            return True
        self.stats.lost_commits += 1
        for pid in batch:  # no longer ours: the new owner replays from the group's offset
            self._buffers.pop(pid, None)
            self._replay.pop(pid, None)
        return False

    def _dead_letter(self, retry: dict[str, list[KafkaMessage]], attempts: int, reason: str) -> None:
        messages = [m for msgs in retry.values() for m in msgs]
        self._dlq.send(
            kafka_failure(
                messages=messages,
                bootstrap=self._bootstrap,
                function_arn=f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT}:function:{self.options.function_name}",
                attempts=attempts,
                reason=reason,
                request_id=str(uuid.uuid4()),
                now=datetime.fromtimestamp(self._wall(), UTC),
            )
        )
        log.error("%d records of %s sent to the dead-letter queue: %s", len(messages), sorted(retry), reason)
        self.stats.dead_lettered += 1
        self._commit({p: (msgs[-1].offset + 1, "") for p, msgs in retry.items()}, retry)

    def _log_progress(self, elapsed: float) -> None:
        s = self.stats
        lag = ", ".join(f"{p}={self._group.records_behind(p)}" for p in self._group.assignment()) or "none assigned"
        log.info(
            "processed %d records in %d batches (%.0f rec/s), %d failed invocations, %d dead-lettered, "
            "%d rebalances; records behind: %s",
            s.records,
            s.batches,
            s.records / elapsed if elapsed > 0 else 0.0,
            s.failed_invocations,
            s.dead_lettered,
            s.rebalances,
            lag,
        )


def _count(batch: dict[str, list[KafkaMessage]]) -> int:
    return sum(len(msgs) for msgs in batch.values())


def build_kafka_consumer(
    settings: Settings,
    handler: Handler,
    *,
    options: ConsumerOptions | None = None,
    group_id: str = CONSUMER,
) -> KafkaConsumerLoop:
    """A member of `group_id` on `settings.names.topic`, with the DLQ; joins the group at its first poll."""
    from clickstream.adapters import _clients
    from clickstream.emulated.event_source_mapping.dlq import DeadLetterQueue
    from clickstream.emulated.event_source_mapping.kafka_group import KafkaGroup, PartitionsCallback

    options = options or ConsumerOptions()
    bootstrap, topic = settings.require_kafka(), settings.names.topic

    def connect(on_revoked: PartitionsCallback, on_assigned: PartitionsCallback) -> KafkaGroup:
        return KafkaGroup(
            bootstrap,
            topic,
            group_id=group_id,
            on_revoked=on_revoked,
            on_assigned=on_assigned,
            max_poll_records=options.batch_size,
        )

    return KafkaConsumerLoop(
        handler,
        connect=connect,
        dlq=DeadLetterQueue(settings.names.dead_letter_queue, client=_clients.client("sqs", settings)),
        bootstrap=bootstrap,
        options=options,
    )

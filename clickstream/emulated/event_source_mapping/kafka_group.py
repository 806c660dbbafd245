"""The event-source-mapping stand-in's Kafka reads: one kafka-python consumer-group member.

- `enable_auto_commit=False`: offsets are committed by the consumer loop, after the handler
  succeeded; each commit may carry metadata (the loop writes a batch's range there before
  invoking it, see `event_source_mapping.kafka`). A commit refused because the group moved on
  (CommitFailedError, RebalanceInProgressError) returns False: the partition is no longer ours.
- Rebalance callbacks run inside `poll()` on the caller's thread; they are handed to the loop
  as partition ids (`<topic>-<n>`, the names the Lambda event uses).
- Joining: the librdkafka mock broker answers two members joining the same group at the same
  instant with InvalidRequestError (42) for one of them (docs/ENVIRONMENT.md "Kafka mock broker
  (librdkafka)"), and when the loser rejoins at once it races the others' rejoin again, rebalance
  after rebalance. `poll()` backs off ~3 s with jitter (what staggering the joins by hand does) and
  gives up only after JOIN_ATTEMPTS failures in a row without an assignment. The same error from
  SyncGroup (a follower that synced after the leader) is avoided by the leader's delay in
  `stream_reading.open_group_consumer`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    InvalidRequestError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

from clickstream.emulated.event_source_mapping.events import KafkaMessage, partition_id
from clickstream.emulated.stream_reading import open_group_consumer
from clickstream.errors import StreamUnavailableError

log = logging.getLogger(__name__)

# A SIGKILLed member holds its partitions until its session expires; 6 s is the broker's minimum.
JOIN_ATTEMPTS = 10
JOIN_BACKOFF_SECONDS = 3.0  # the stagger that avoids the mock broker's join race
CLOSE_TIMEOUT_MS = 5_000
_LOST = (CommitFailedError, RebalanceInProgressError, IllegalGenerationError, UnknownMemberIdError)
_TIMESTAMP_TYPES = {0: "CREATE_TIME", 1: "LOG_APPEND_TIME"}

PartitionsCallback = Callable[[list[str]], None]


class KafkaGroup:
    """One member of `group_id` subscribed to `topic`."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        group_id: str,
        on_revoked: PartitionsCallback,
        on_assigned: PartitionsCallback,
        max_poll_records: int = 500,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self._sleep, self._jitter = sleep, jitter
        self.join_failures = 0  # in a row, since the last assignment
        self._consumer = open_group_consumer(bootstrap, group_id, max_poll_records=max_poll_records)
        self._consumer.subscribe([topic], listener=_Listener(self, on_revoked, on_assigned))

    def poll(self, timeout_ms: int, max_records: int) -> list[KafkaMessage]:
        """Messages of one poll, partition by partition in offset order (joins the group if needed)."""
        while True:
            try:
                fetched = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
                break
            except InvalidRequestError as exc:  # the mock broker's simultaneous-join race
                self.join_failures += 1
                if self.join_failures >= JOIN_ATTEMPTS:
                    raise StreamUnavailableError(f"could not join the group on {self.bootstrap}: {exc}") from exc
                delay = JOIN_BACKOFF_SECONDS * (1 + self._jitter())
                log.warning("group join failed (%s); retry %d in %.1f s", exc, self.join_failures, delay)
                self._sleep(delay)
        out: list[KafkaMessage] = []
        for tp in sorted(fetched):
            out.extend(_message(m) for m in fetched[tp])
        return out

    def commit(self, offsets: dict[str, tuple[int, str]]) -> bool:
        """Commit `{partition id: (next offset, metadata)}`; False when the group has moved on."""
        if not offsets:
            return True
        try:
            self._consumer.commit({self._tp(pid): OffsetAndMetadata(o, meta, -1) for pid, (o, meta) in offsets.items()})
        except _LOST as exc:
            log.warning("commit refused (%s): the partitions were reassigned", type(exc).__name__)
            return False
        except KafkaError as exc:
            raise StreamUnavailableError(f"offset commit failed: {exc}") from exc
        return True

    def committed(self, pid: str) -> tuple[int, str] | None:
        """The group's committed (offset, metadata) of a partition, or None."""
        got = self._consumer.committed(self._tp(pid), metadata=True)
        return None if got is None else (int(got.offset), str(got.metadata or ""))

    def records_behind(self, pid: str) -> int | None:
        """High watermark minus the next offset to fetch (None before the first fetch)."""
        tp = self._tp(pid)
        highwater = self._consumer.highwater(tp)
        if highwater is None:
            return None
        return max(int(highwater) - int(self._consumer.position(tp)), 0)

    def seek(self, pid: str, offset: int) -> None:
        self._consumer.seek(self._tp(pid), offset)

    def assignment(self) -> list[str]:
        return sorted(partition_id(tp.topic, tp.partition) for tp in self._consumer.assignment())

    def close(self) -> None:
        self._consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)

    def _tp(self, pid: str) -> Any:
        topic, _, n = pid.rpartition("-")
        return TopicPartition(topic, int(n))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group: KafkaGroup, revoked: PartitionsCallback, assigned: PartitionsCallback) -> None:
        self._group, self._revoked, self._assigned = group, revoked, assigned

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._revoked(sorted(partition_id(tp.topic, tp.partition) for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._group.join_failures = 0
        self._assigned(sorted(partition_id(tp.topic, tp.partition) for tp in assigned))


def _message(m: Any) -> KafkaMessage:
    return KafkaMessage(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        timestamp=max(int(m.timestamp), 0),
        timestamp_type=_TIMESTAMP_TYPES.get(m.timestamp_type, "CREATE_TIME"),
        key=m.key,
        value=m.value,
        headers=tuple((k, v or b"") for k, v in (m.headers or ())),
    )

"""The Firehose stand-in's Kafka source: `KafkaReader`, every partition of one topic in a consumer group.

- Group `clickstream-raw-archiver`, `enable_auto_commit=False`, `auto_offset_reset="earliest"`,
  subscribed to the topic (the librdkafka mock broker has no admin API and auto-creates the
  topic with 4 partitions on subscribe; docs/ENVIRONMENT.md "Kafka mock broker (librdkafka)").
- Progress lives in two places, written in this order after the objects: the DynamoDB checkpoint
  (the archiver's), then the group's committed offset (`archived()` commits last + 1). On every
  assignment the reader resumes from whichever is further: the committed offset or the
  checkpoint + 1, so Kafka and Kinesis behave the same, and a lost commit costs nothing.
  Records that a poll returns for a partition in the same call that assigned it are dropped
  and re-fetched after that seek (they may come from the older position).
- A revoked partition is reported in `Poll.revoked`: the archiver drops its buffer and the new
  owner re-reads from the checkpoint (same keys, overwritten: see `firehose.batching`).
- The arrival time is the message timestamp (CreateTime unless the topic uses LogAppendTime).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, RebalanceInProgressError

from clickstream.emulated.checkpoints import Checkpoint
from clickstream.emulated.firehose.batching import KAFKA_OFFSET_DIGITS, RawRecord
from clickstream.emulated.firehose.reading import Poll, ShardBatch
from clickstream.emulated.stream_reading import open_group_consumer

log = logging.getLogger(__name__)

GROUP_ID = "clickstream-raw-archiver"


class CheckpointSource(Protocol):
    def load(self) -> dict[str, Checkpoint]: ...


class KafkaReader:
    key_digits = KAFKA_OFFSET_DIGITS

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        checkpoints: CheckpointSource,
        group_id: str = GROUP_ID,
        poll_timeout_ms: int = 200,
        max_poll_records: int = 5_000,
    ) -> None:
        self.source = topic
        self._checkpoints = checkpoints
        self._poll_timeout_ms, self._max_poll_records = poll_timeout_ms, max_poll_records
        self._assigned: set[Any] = set()  # TopicPartitions assigned and not yet resumed
        self._revoked: list[str] = []
        self._consumer = open_group_consumer(bootstrap, group_id, max_poll_records=max_poll_records)
        self._consumer.subscribe([topic], listener=_Listener(self))

    def poll(self) -> Poll:
        """One consumer poll (waits up to poll_timeout_ms for records)."""
        fetched = self._consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=self._max_poll_records)
        revoked, self._revoked = self._revoked, []
        resumed = self._resume() if self._assigned else set()
        batches = []
        for tp, messages in fetched.items():
            if tp in resumed or not messages:
                continue
            records = [RawRecord(m.offset, max(m.timestamp, 0), m.value) for m in messages]
            highwater = self._consumer.highwater(tp)
            behind = None if highwater is None else max(highwater - messages[-1].offset - 1, 0)
            batches.append(ShardBatch(str(tp.partition), records, records_behind=behind))
        return Poll(batches=batches, revoked=revoked)

    def archived(self, positions: dict[str, int]) -> None:
        """Commit last archived offset + 1 for each partition (after the DynamoDB checkpoint)."""
        offsets = {
            TopicPartition(self.source, int(shard)): OffsetAndMetadata(pos + 1, "", -1)
            for shard, pos in positions.items()
        }
        try:
            self._consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError) as exc:
            # The DynamoDB checkpoint is already written and wins when it is ahead.
            log.warning("offset commit failed during a rebalance (%s); the checkpoint stands", exc)

    def finished(self, shard: str) -> None:
        """Kafka partitions never close."""

    def caught_up(self) -> bool:
        assignment = self._consumer.assignment()
        if self._assigned or not assignment:
            return False
        ends = self._consumer.end_offsets(list(assignment))
        return all(self._consumer.position(tp) >= ends[tp] for tp in assignment)

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def _resume(self) -> set[Any]:
        """Seek newly assigned partitions to max(committed offset, checkpoint + 1)."""
        tps, self._assigned = self._assigned, set()
        checkpoints = self._checkpoints.load()
        for tp in sorted(tps):
            checkpoint = checkpoints.get(str(tp.partition))
            after_checkpoint = checkpoint.position + 1 if checkpoint and checkpoint.position is not None else 0
            committed = self._consumer.committed(tp) or 0
            self._consumer.seek(tp, max(committed, after_checkpoint))
            log.info(
                "partition %s: resume at %d (committed %d)", tp.partition, max(committed, after_checkpoint), committed
            )
        return tps


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rebalance callbacks (run inside `poll()` on the caller's thread): note, act after the poll."""

    def __init__(self, reader: KafkaReader) -> None:
        self._reader = reader

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._reader._revoked.extend(str(tp.partition) for tp in revoked)
        self._reader._assigned -= set(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._reader._assigned |= set(assigned)

"""Reading the stream as AWS's own readers do, for both stand-ins (the Firehose-like archiver and
the event-source-mapping consumers): the Kinesis shard lineage and read limits, and a Kafka
consumer-group member that commits by hand.

After a reshard a child shard is read only once each parent still listed has been read to its
end, so a user's events stay in order; a parent gone past retention no longer blocks its children.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clickstream.errors import StreamUnavailableError

if TYPE_CHECKING:
    from kafka import KafkaConsumer

GET_RECORDS_MAX = 10_000  # Kinesis: up to 10,000 records (10 MiB) per GetRecords call
GET_RECORDS_PER_SHARD_PER_SECOND = 5  # Kinesis: 5 GetRecords calls per second per shard
# GetRecords over a shard's read limits: that shard waits, the others go on (reported, not raised).
GET_RECORDS_THROTTLED = frozenset({"ProvisionedThroughputExceededException", "LimitExceededException"})
# A SIGKILLed member holds its partitions until its session expires; 6 s is the broker's minimum.
SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 1_000


@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    parents: tuple[str, ...] = ()
    ending_sequence: int | None = None  # set once the shard is closed (split or merged)


def list_shards(list_page: Callable[..., Any], stream: str) -> list[ShardInfo]:
    """Every shard the stream lists (open and closed), with its parents and ending sequence number.

    `list_page(**kwargs)` is the caller's ListShards call, with its own error handling.
    """
    out: list[ShardInfo] = []
    kwargs: dict[str, Any] = {"StreamName": stream}
    while True:
        page = list_page(**kwargs)
        for s in page.get("Shards", []):
            parents = tuple(p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p)
            ending = s.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
            out.append(ShardInfo(s["ShardId"], parents, int(ending) if ending is not None else None))
        token = page.get("NextToken")
        if not token:
            return out
        kwargs = {"NextToken": token}


def readable_shards(shards: Sequence[ShardInfo], finished: Collection[str]) -> list[str]:
    """Shards to read now: not finished, and every parent still listed is finished."""
    listed = {s.shard_id for s in shards}
    return sorted(
        s.shard_id
        for s in shards
        if s.shard_id not in finished and all(p in finished or p not in listed for p in s.parents)
    )


def open_group_consumer(bootstrap: str, group_id: str, *, max_poll_records: int) -> KafkaConsumer:
    """A kafka-python group member that commits by hand and starts from the earliest offset.

    Shared by the raw archiver and the speed-layer consumer; a broker that cannot be reached
    is a StreamUnavailableError.
    """
    from kafka import KafkaConsumer  # kafka-python: only the Kafka transport's readers need it
    from kafka.errors import NoBrokersAvailable

    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            client_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            max_poll_records=max_poll_records,
        )
    except NoBrokersAvailable as exc:
        raise StreamUnavailableError(f"no Kafka broker at {bootstrap}") from exc

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
# How long a group leader holds its SyncGroup back so the followers' reach the mock broker first
# (see `_followers_first_assignor`).
LEADER_SYNC_DELAY_SECONDS = 1.0


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
            partition_assignment_strategy=(_followers_first_assignor(),),
        )
    except NoBrokersAvailable as exc:
        raise StreamUnavailableError(f"no Kafka broker at {bootstrap}") from exc


def _followers_first_assignor() -> type:
    """kafka-python's range assignor, whose leader waits LEADER_SYNC_DELAY_SECONDS when the group
    has other members, so that their SyncGroup requests reach the broker before the leader's.

    librdkafka's mock broker (the embedded stack's Kafka) completes a generation as soon as every
    member has an assignment, which the leader's SyncGroup alone provides; it answers only the
    members already waiting, clears the assignments and goes to Up. A follower whose SyncGroup
    arrives after that gets InvalidRequestError (42) and must rejoin, and the leader, answered
    first, usually wins again. Measured with an idle leader, the joining member lost 7 races of 10
    with kafka-python's default assignors, and 0 of 30 with this one on a saturated CPU.
    A real Kafka coordinator keeps the assignment for late followers; MSK needs none of this.
    Same protocol name ("range"), so members built without it still agree on the protocol.
    """
    import time

    from kafka.coordinator.assignors.range import RangePartitionAssignor

    class FollowersFirstRangeAssignor(RangePartitionAssignor):  # type: ignore[misc]
        @classmethod
        def assign(cls, cluster: Any, group_subscriptions: dict[str, Any]) -> Any:
            if len(group_subscriptions) > 1:
                time.sleep(LEADER_SYNC_DELAY_SECONDS)
            return super().assign(cluster, group_subscriptions)

    return FollowersFirstRangeAssignor

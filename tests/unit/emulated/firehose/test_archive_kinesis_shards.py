"""Which Kinesis shards the archiver may read: parents to their end before children."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from clickstream.emulated.checkpoints import position_key
from clickstream.emulated.firehose.kinesis_reader import _arrival_ms
from clickstream.emulated.stream_reading import ShardInfo, list_shards, readable_shards


def test_without_a_reshard_every_shard_is_readable() -> None:
    shards = [ShardInfo("shardId-000000000001"), ShardInfo("shardId-000000000000")]
    assert readable_shards(shards, finished=set()) == ["shardId-000000000000", "shardId-000000000001"]


def test_children_of_a_split_wait_for_their_parent() -> None:
    shards = [ShardInfo("p", ending_sequence=10), ShardInfo("c1", ("p",)), ShardInfo("c2", ("p",))]
    assert readable_shards(shards, finished=set()) == ["p"]
    assert readable_shards(shards, finished={"p"}) == ["c1", "c2"]


def test_a_merged_child_waits_for_both_parents() -> None:
    shards = [ShardInfo("a", ending_sequence=5), ShardInfo("b", ending_sequence=7), ShardInfo("m", ("a", "b"))]
    assert readable_shards(shards, finished={"a"}) == ["b"]
    assert readable_shards(shards, finished={"a", "b"}) == ["m"]


def test_a_parent_gone_past_retention_does_not_block_its_children() -> None:
    assert readable_shards([ShardInfo("c", ("expired",))], finished=set()) == ["c"]


def test_arrival_time_is_floored_to_the_millisecond_in_any_timezone() -> None:
    ts = datetime(2026, 11, 22, 12, 59, 59, 999_999, tzinfo=UTC)
    assert _arrival_ms(ts) == int(datetime(2026, 11, 22, 12, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)
    assert _arrival_ms(ts.astimezone(timezone(timedelta(hours=5)))) == _arrival_ms(ts)


def test_checkpoint_position_keys_order_like_numbers() -> None:
    seqs = [49590338271490256608559692538361571095921575989136588898, 7, 10, 0]
    assert sorted(seqs, key=position_key) == sorted(seqs)
    with pytest.raises(ValueError):
        position_key(-1)


def test_list_shards_walks_every_page_and_reads_parents_and_ends() -> None:
    pages = {
        None: {
            "Shards": [{"ShardId": "p", "SequenceNumberRange": {"EndingSequenceNumber": "99"}}],
            "NextToken": "t1",
        },
        "t1": {"Shards": [{"ShardId": "c", "ParentShardId": "p", "AdjacentParentShardId": "q"}]},
    }
    calls: list[dict[str, str]] = []

    def list_page(**kwargs: str) -> dict:
        calls.append(kwargs)
        return pages[kwargs.get("NextToken")]

    assert list_shards(list_page, "clicks") == [ShardInfo("p", (), 99), ShardInfo("c", ("p", "q"), None)]
    assert calls == [{"StreamName": "clicks"}, {"NextToken": "t1"}], "the token alone after the first page"

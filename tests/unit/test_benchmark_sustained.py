"""The sustained-load benchmark's log reading, at toy size, so `python -m benchmarks.sustained` cannot rot. No timing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from benchmarks.sustained.__main__ import _find, iterator_ages

LINE = (
    "{t} INFO clickstream.emulated.event_source_mapping.kinesis: processed 10 records in 1 batches (2 rec/s), "
    "0 failed invocations, 0 dead-lettered; holding 2 shards [a, b]; lag: shardId-000000000000 0ms behind, "
    "iterator age {a}ms; shardId-000000000001 0ms behind, iterator age {b}ms"
)


def test_iterator_ages_take_the_oldest_shard_of_each_progress_line_after_the_start(tmp_path: Path) -> None:
    log = tmp_path / "consumer.log"
    log.write_text(
        "\n".join(
            [
                LINE.format(t="2026-12-06 23:00:00,000", a=9000, b=1),  # before the run: ignored
                "2026-12-06 23:00:06,000 INFO something else",
                LINE.format(t="2026-12-06 23:00:10,500", a=300, b=700),
                LINE.format(t="2026-12-06 23:00:15,500", a=1100, b=20),
            ]
        )
    )
    assert iterator_ages(log, datetime(2026, 12, 6, 23, 0, 5)) == [("23:00:10", 700), ("23:00:15", 1100)]


def test_find_reads_a_key_wherever_the_demo_put_it() -> None:
    doc = {"speed": {"freshness": {"p99_s": 1.2}, "counters_match_raw_archive": True}, "ok": True}
    assert _find(doc, "freshness") == {"p99_s": 1.2}
    assert _find(doc, "counters_match_raw_archive") is True
    assert _find(doc, "missing") is None

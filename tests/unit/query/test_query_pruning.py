"""Partition pruning keeps exactly the partitions a WHERE clause can match, and every partition otherwise."""

from __future__ import annotations

import pytest
import sqlglot

from clickstream.adapters.query.pruning import partition_filters

KEYS = {"raw_events": ("dt", "hour"), "events": ("dt", "hour")}
PARTS = [{"dt": d, "hour": h} for d in ("2026-11-20", "2026-11-21", "2026-11-22") for h in ("00", "07", "23")]


def _kept(sql: str, table: str = "raw_events") -> list[tuple[str, str]] | None:
    filters = partition_filters(sqlglot.parse_one(sql, read="athena"), KEYS)
    keep = filters.get(table)
    return None if keep is None else [(p["dt"], p["hour"]) for p in PARTS if keep(p)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("dt = '2026-11-21'", [("2026-11-21", h) for h in ("00", "07", "23")]),
        ("'2026-11-21' = dt AND hour = '07'", [("2026-11-21", "07")]),
        ("dt >= '2026-11-21' AND hour < '07'", [("2026-11-21", "00"), ("2026-11-22", "00")]),
        ("dt BETWEEN '2026-11-20' AND '2026-11-20' AND (hour > '07')", [("2026-11-20", "23")]),
        ("dt IN ('2026-11-22') AND event_type = 'click'", [("2026-11-22", h) for h in ("00", "07", "23")]),
        ("r.dt = '2026-11-22' AND r.hour = '23'", [("2026-11-22", "23")]),
    ],
)
def test_conjunctive_partition_predicates_prune(where: str, expected: list[tuple[str, str]]) -> None:
    assert _kept(f"SELECT * FROM raw_events AS r WHERE {where}") == expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM raw_events",
        "SELECT * FROM raw_events WHERE dt = '2026-11-21' OR hour = '07'",
        "SELECT * FROM raw_events WHERE dt > date_format(current_date, '%Y-%m-%d')",
        "SELECT * FROM raw_events WHERE dt IN (SELECT dt FROM events)",
        # one reference restricted, one not: every partition stays
        "SELECT * FROM raw_events WHERE dt = '2026-11-21' UNION ALL SELECT * FROM raw_events",
    ],
)
def test_anything_else_keeps_every_partition(sql: str) -> None:
    assert _kept(sql) is None


def test_joins_attribute_predicates_to_their_table() -> None:
    sql = (
        "SELECT * FROM raw_events r JOIN events e ON r.event_id = e.event_id "
        "WHERE r.dt = '2026-11-22' AND e.hour = '07'"
    )
    assert _kept(sql) == [("2026-11-22", h) for h in ("00", "07", "23")]
    assert _kept(sql, "events") == [(d, "07") for d in ("2026-11-20", "2026-11-21", "2026-11-22")]


def test_two_restricted_references_keep_the_union() -> None:
    sql = (
        "SELECT * FROM raw_events WHERE dt = '2026-11-20' AND hour = '00' "
        "UNION ALL SELECT * FROM raw_events WHERE dt = '2026-11-22' AND hour = '23'"
    )
    assert _kept(sql) == [("2026-11-20", "00"), ("2026-11-22", "23")]

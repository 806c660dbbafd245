"""`make demo`'s printed summary stays readable in an 80-column terminal: no row wraps past two lines.

The figures are those a `make demo` printed on 2026-12-07 (a clean clone's `.ci/run`), where the
old layout wrapped one row into nine lines at 80 columns; the history's, and the second day, from a
`make demo` with a week of history the same day."""

from __future__ import annotations

import io

from rich.console import Console

from clickstream.commands.demo import SUMMARY_WIDTH, headline_day, summary_table

RESULT = {
    "seed": 382297249,
    "elapsed_s": 88.5,
    "collector": {
        "sent": 9000,
        "accepted": 9000,
        "rejected": 0,
        "duplicates": 97,
        "late": 158,
        "errors": 179,
        "rate": 297.8,
    },
    "legacy_and_invalid": {
        "requests": 3,
        "accepted": 3,
        "rejected": 3,
        "errors_by_reason": {"invalid_value": 1, "missing": 1, "out_of_range": 1, "unknown_event_type": 1},
    },
    "kafka": {"sent": 1000, "accepted": 1000},
    "raw_kinesis": {"objects": 6, "events": 9003, "distinct_event_ids": 8906},
    "raw_kafka": {"objects": 4, "events": 1000, "distinct_event_ids": 1000},
    "bad_rows": {"objects": 1, "rows": 3, "by_reason": {"missing": 1, "out_of_range": 1, "unknown_event_type": 1}},
    "speed": {
        "realtime": {
            "hour": "2026-12-07T01:00:00Z",
            "events": 9906,
            "errors": 189,
            "events_by_type": {
                "page_view": 5019,
                "scroll": 2570,
                "click": 1560,
                "add_to_cart": 363,
                "search": 309,
                "checkout": 61,
                "purchase": 16,
                "remove_from_cart": 8,
            },
            "events_by_status": {"200": 9717, "404": 157, "500": 32},
            "revenue": 874.81,
            "orders": 16,
            "users_estimate": 252,
        },
        "freshness": {"samples": 55, "p50_s": 0.42, "p99_s": 0.82},
    },
    "history": {
        "history": {
            "start": "2026-11-30T04:00:00+00:00",
            "end": "2026-12-07T04:00:00+00:00",
            "events": 67200,
            "distinct": 66509,
            "users": 2685,
            "sessions": 6946,
            "objects": 1867,
            "arrival_hours": 168,
        },
        "backfill": {
            "backfills": [
                {"dag_id": "compact_raw_events_daily", "id": 1, "runs": 7},
                {"dag_id": "compact_raw_events", "id": 2, "runs": 4},
            ],
            "seconds": 137.7,
        },
        "seconds": 177.2,
    },
    "batch": {
        "airflow": {"first_hour_seconds": 13.31, "hours": ["2026-12-07T01"]},
        "quality": {"raw_rows": 10003, "valid": 10003, "quarantined": 0, "duplicates": 97},
        "curated": {"events": 9906, "ids": 9906},
        "metrics": {
            "engagement": [
                {
                    "dt": "2026-12-06",
                    "sessions": 980,
                    "bounce_rate": 0.351,
                    "avg_session_duration_ms": 101100,
                    "pages_per_session": 4.11,
                    "ctr": 0.43,
                },
                {
                    "dt": "2026-12-07",
                    "sessions": 4428,
                    "bounce_rate": 0.494,
                    "avg_session_duration_ms": 5800,
                    "pages_per_session": 1.13,
                    "ctr": 0.311,
                },
            ],
            "commerce": [
                {
                    "dt": "2026-12-06",
                    "conversion_rate": 0.043,
                    "cart_abandonment_rate": 0.759,
                    "revenue": "3635.33",
                    "orders": 43,
                    "aov": "84.54",
                },
                {
                    "dt": "2026-12-07",
                    "conversion_rate": 0.004,
                    "cart_abandonment_rate": 0.956,
                    "revenue": "874.81",
                    "orders": 16,
                    "aov": "54.68",
                },
            ],
        },
        "reconciliation": {
            "windows": 20,
            "history_windows": 5,
            "compared": 6624,
            "mismatches": 0,
            "max_abs_drift": 0.0,
            "max_unique_drift_pct": 0.0179,
        },
    },
}


def rows_as_printed(width: int) -> list[list[str]]:
    """The summary rendered at `width` columns, split into its rows' printed lines."""
    table = summary_table(RESULT)
    table.show_lines = True  # a rule between rows, so each row's lines can be told apart
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(table)
    rows: list[list[str]] = [[]]
    for line in out.getvalue().splitlines()[3:-1]:  # after the title and header, before the bottom rule
        if line.startswith(("├", "┡")):
            rows.append([])
        else:
            rows[-1].append(line)
    return [r for r in rows if r]


def test_no_row_of_the_summary_wraps_past_two_lines_at_80_columns() -> None:
    rows = rows_as_printed(SUMMARY_WIDTH)
    assert len(rows) > 40, "every figure is its own row"
    assert all(len(line) <= SUMMARY_WIDTH for row in rows for line in row)
    wrapped = ["\n".join(r) for r in rows if len(r) > 2]
    assert not wrapped, "\n\n".join(wrapped)


def test_the_figures_are_all_printed() -> None:
    text = "\n".join(line for row in rows_as_printed(SUMMARY_WIDTH) for line in row)
    for figure in ("9,000", "5,019", "0.42 s / 0.82 s", "6,624 / 0", "0.0 / 0.0179"):
        assert figure in text, figure
    # the history, and the figures of its last whole day (the live day is only a trend row)
    for figure in ("67,200 / 66,509", "2,685 / 6,946", "7 daily + 4 hourly", "138 s / 177 s"):
        assert figure in text, figure
    assert "2026-12-06: sessions" in text and "35.1 %" in text and "84.54" in text and "75.9 %" in text
    assert "2026-12-07: sessions" not in text and "49.4 %" not in text
    assert "980 / 43" in text and "4,428 / 16" in text  # per day: sessions / orders
    assert "windows left out: history only" in text


def test_the_headline_day_is_the_last_whole_day_before_the_live_one() -> None:
    assert headline_day([]) is None
    assert headline_day(["2026-12-07"]) == "2026-12-07"  # no history: the live day
    assert headline_day(["2026-12-05", "2026-12-06", "2026-12-07"]) == "2026-12-06"

"""The dashboard summary's arithmetic (`clickstream.api.dashboard_summary`) and its read cache
(`clickstream.api.dashboard_reads.CachedWindows`), on in-memory items: the serving rule per
window, the layer labels, sessions and conversion across closed and open hours, the funnel basis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from clickstream.api import dashboard_summary as ds
from clickstream.api.dashboard_reads import FULL_READ_S, CachedWindows
from clickstream.api.errors import ApiError
from clickstream.api.reader import ServingReader, Windows
from clickstream.metrics.sketch import merge_top, merge_uniques, uniques_sketch

NOW = datetime(2026, 11, 22, 14, 3, 30, tzinfo=UTC)
ENG = "engagement#all"


def hour(h: int, day: int = 22) -> str:
    return f"h#2026-11-{day:02d}T{h:02d}:00:00Z"


def sessions_sketch(ids: list[str]) -> bytes:
    return merge_uniques(None, uniques_sketch(ids))


# --- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "res", "windows", "start", "hours"),
    [
        ("15m", "m", 16, "2026-11-22T13:48:00Z", 2),
        ("1h", "m", 61, "2026-11-22T13:03:00Z", 2),
        ("24h", "h", 25, "2026-11-21T14:00:00Z", 25),
        ("7d", "h", 169, "2026-11-15T14:00:00Z", 169),
    ],
)
def test_a_range_is_the_windows_overlapping_it_up_to_now(
    name: str, res: str, windows: int, start: str, hours: int
) -> None:
    span = ds.span_of(name, NOW)
    assert (span.res, len(span.sks), len(span.hours)) == (res, windows, hours)
    assert span.start.strftime("%Y-%m-%dT%H:%M:%SZ") == start
    assert span.sks[-1].startswith(f"{res}#2026-11-22T14:")
    assert span.hours[-1] == hour(14)


def test_an_unknown_range_is_a_400_that_names_the_choices() -> None:
    with pytest.raises(ApiError) as err:
        ds.span_of("5y", NOW)
    assert err.value.status == 400 and "15m, 1h, 24h, 7d" in err.value.message


# --- the serving rule ----------------------------------------------------------------------------


def mixed_day() -> tuple[ds.Span, Windows]:
    """24 h: hours up to 12:00 closed by the batch layer, 13:00 and 14:00 open (speed)."""
    span = ds.span_of("24h", NOW)
    closed = {sk for sk in span.sks if sk < hour(13)}
    batch: dict[tuple[str, str], dict[str, Any]] = {}
    speed: dict[tuple[str, str], dict[str, Any]] = {}
    for sk in span.sks:
        if sk in closed:
            batch[("all", sk)] = {"events": 10, "errors": 1, "revenue": Decimal("2.5"), "orders": 1}
            batch[("type#page_view", sk)] = {"events": 6}
            batch[(ENG, sk)] = {"sessions": 3, "converted_sessions": 1, "funnel_page_view": 3, "funnel_purchase": 1}
        # the speed layer has counted every hour too; in closed hours its values must not show
        speed[("all", sk)] = {"events": 99 if sk in closed else 20, "errors": 0 if sk in closed else 4, "orders": 2}
    speed[("uniq#sessions", hour(13))] = {"sketch": sessions_sketch([f"s{i}" for i in range(5)])}
    speed[("uniq#sessions", hour(14))] = {"sketch": sessions_sketch([f"s{i}" for i in range(3, 9)])}  # s3, s4 again
    speed[("status#404", hour(14))] = {"events": 4}
    return span, Windows(speed, batch, closed)


def test_closed_hours_show_batch_values_and_open_hours_speed_values() -> None:
    span, win = mixed_day()
    out = ds.summarize(span, win, win, urls=[], products=[], statuses=[404, 500])
    cards = out["cards"]
    assert cards["events"] == {"value": 23 * 10 + 2 * 20, "layer": "batch+speed"}
    assert cards["error_rate"]["value"] == round((23 * 1 + 2 * 4) / 270, 6)
    assert cards["revenue"]["value"] == 23 * 2.5
    assert cards["page_views"]["value"] == 23 * 6  # open hours have no page_view item: 0
    assert out["layers"]["batch_windows"] == 23
    assert out["layers"]["batch_until"] == "2026-11-22T13:00:00Z"


def test_sessions_add_exact_closed_hours_to_a_sketch_union_of_open_hours() -> None:
    span, win = mixed_day()
    out = ds.summarize(span, win, win, urls=[], products=[], statuses=[])
    sessions = out["cards"]["sessions"]
    assert sessions["value"] == 23 * 3 + 9  # s0..s8 once, though s3 and s4 were in both open hours
    assert sessions["approximate"] is True and sessions["layer"] == "batch+speed"
    conversion = out["cards"]["conversion"]
    assert conversion["value"] == round((23 * 1 + 2 * 2) / (23 * 3 + 9), 6)  # converted + open hours' orders
    assert conversion["note"] == "≈ orders ÷ sessions"


def test_the_funnel_counts_sessions_only_when_the_batch_layer_closed_every_hour() -> None:
    span, win = mixed_day()
    assert ds.summarize(span, win, win, urls=[], products=[], statuses=[])["funnel"]["basis"] == "events"

    all_closed = Windows(win.speed, win.batch, set(span.sks))
    out = ds.summarize(span, all_closed, all_closed, urls=[], products=[], statuses=[])
    assert out["funnel"]["basis"] == "sessions" and out["funnel"]["layer"] == "batch"
    assert [s["value"] for s in out["funnel"]["steps"]] == [23 * 3, 0, 0, 23]
    assert out["cards"]["sessions"]["approximate"] is False
    assert out["cards"]["conversion"]["note"] == "sessions with a purchase"


def test_error_series_per_window_with_statuses_ranked_and_silent_ones_dropped() -> None:
    span, win = mixed_day()
    errors = ds.summarize(span, win, win, urls=[], products=[], statuses=[500, 404])["errors"]
    assert errors["granularity"] == "hour" and len(errors["times"]) == len(errors["events"]) == 25
    assert [s["status"] for s in errors["statuses"]] == ["404"]  # 500 has no errors in the range
    assert errors["statuses"][0]["errors"][-1] == 4 and errors["events"][-1] == 20


def test_top_rows_are_ranked_by_events_and_empty_ones_left_out() -> None:
    span = ds.span_of("15m", NOW)
    sk = span.sks[-1]
    speed = {
        ("url#/a", sk): {"events": 2, "errors": 1},
        ("url#/b", sk): {"events": 5},
        ("product#p1", sk): {"events": 1, "revenue": Decimal("9.99")},
    }
    win = Windows(speed, {}, set())
    out = ds.summarize(span, win, win, urls=["/a", "/b", "/gone"], products=["p1", "p2"], statuses=[])
    assert out["top_urls"] == [{"url": "/b", "events": 5, "errors": 0}, {"url": "/a", "events": 2, "errors": 1}]
    assert out["top_products"] == [{"product": "p1", "events": 1, "revenue": 9.99}]
    assert out["cards"]["events"]["layer"] == "speed" and out["cards"]["error_rate"]["value"] is None


def test_candidates_merge_hourly_sketches_and_statuses_keep_errors_only() -> None:
    blobs = [merge_top(None, {"/a": 5, "/b": 1}), None, merge_top(None, {"/b": 7, "/c": 2})]
    assert ds.candidates(blobs) == ["/b", "/a", "/c"]
    assert ds.error_statuses(["200", "404", "500", "404", "x"]) == [404, 500]


# --- the read cache ------------------------------------------------------------------------------


class Table:
    """An in-memory realtime or batch table with the readers' query methods; counts calls."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls = {"query": 0, "get_items": 0}

    def query(self, pk: str, sk_from: str = "", sk_to: str | None = None) -> list[dict[str, Any]]:
        self.calls["query"] += 1
        if sk_to is not None:  # the batch view's (from, to) form
            return [
                dict(v, pk=p, sk=s) for (p, s), v in sorted(self.items.items()) if p == pk and sk_from <= s <= sk_to
            ]
        return [dict(v, pk=p, sk=s) for (p, s), v in sorted(self.items.items()) if p == pk and s.startswith(sk_from)]

    def get_items(self, keys: Any) -> dict[tuple[str, str], dict[str, Any]]:
        self.calls["get_items"] += 1
        return {k: dict(self.items[k], pk=k[0], sk=k[1]) for k in keys if k in self.items}


def test_older_windows_are_reread_only_every_full_read_period() -> None:
    speed, batch = Table(), Table()
    span = ds.span_of("1h", NOW)
    for sk in span.sks:
        speed.items[("all", sk)] = {"events": 1}
    clock = [0.0]
    deps = SimpleNamespace(reader=ServingReader(speed, batch), realtime=speed)
    cache = CachedWindows(deps, clock=lambda: clock[0])  # type: ignore[arg-type]

    def events() -> int:
        win = cache.windows(["all"], span.res, span.sks)
        return sum(int(win.speed[("all", sk)]["events"]) for sk in span.sks if ("all", sk) in win.speed)

    assert events() == 61
    queries = speed.calls["query"]
    # the newest window moves: seen at once, with a key lookup, no query
    speed.items[("all", span.sks[-1])]["events"] = 5
    # a late event lands in an old window: seen at the next full read
    speed.items[("all", span.sks[0])]["events"] = 3
    clock[0] = 1.0
    assert events() == 61 + 4
    assert speed.calls["query"] == queries and speed.calls["get_items"] == 1
    clock[0] = FULL_READ_S + 1
    assert events() == 61 + 4 + 2
    assert speed.calls["query"] > queries


def test_a_new_window_or_a_wider_range_triggers_a_full_read_of_what_is_missing() -> None:
    speed, batch = Table(), Table()
    deps = SimpleNamespace(reader=ServingReader(speed, batch), realtime=speed)
    cache = CachedWindows(deps, clock=lambda: 0.0)  # type: ignore[arg-type]
    short = ds.span_of("1h", NOW)
    cache.windows(["all"], short.res, short.sks)
    queries = speed.calls["query"]
    later = ds.span_of("1h", NOW + timedelta(minutes=1))  # one new window: recent, no full read
    cache.windows(["all"], later.res, later.sks)
    assert speed.calls["query"] == queries
    wider = ds.span_of("15m", NOW - timedelta(hours=3))  # windows never read
    cache.windows(["all"], wider.res, wider.sks)
    assert speed.calls["query"] > queries

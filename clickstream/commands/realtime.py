"""`clickstream realtime`: the speed layer's counters, live in the terminal (or once, as JSON)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import RenderableType


@click.command(name="realtime")
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: the snapshot as JSON (for scripts).")
@click.option("--top", type=click.IntRange(1, 50), default=10, show_default=True, help="URLs to list.")
@click.option(
    "--refresh", type=click.FloatRange(min=0.2), default=1.0, show_default=True, help="Seconds between refreshes."
)
def realtime(once: bool, as_json: bool, top: int, refresh: float) -> None:
    """Events per minute by type, error rate by status, top URLs, revenue, uniques and freshness.

    Reads the realtime DynamoDB table the speed layer writes (current minute and hour, UTC).
    """
    import orjson

    from clickstream.adapters import _clients
    from clickstream.adapters.dynamodb import CountersTable
    from clickstream.errors import ClickstreamError
    from clickstream.settings import Settings
    from clickstream.speed.snapshot import read_snapshot

    if as_json and not once:
        raise click.UsageError("--json needs --once")
    try:
        settings = Settings.from_env()
        table = CountersTable(settings.names.realtime_table, client=_clients.client("dynamodb", settings))
        if once:
            snapshot = read_snapshot(table, datetime.now(UTC), top=top)
            if as_json:
                click.echo(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2).decode())
            else:
                from rich.console import Console

                Console().print(render(snapshot))
            return
        from rich.live import Live

        with Live(render(read_snapshot(table, datetime.now(UTC), top=top)), refresh_per_second=4) as live:
            while True:
                time.sleep(refresh)
                live.update(render(read_snapshot(table, datetime.now(UTC), top=top)))
    except KeyboardInterrupt:
        return
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc


def render(s: dict[str, Any]) -> RenderableType:
    """The snapshot as rich tables."""
    from rich.columns import Columns
    from rich.console import Group
    from rich.table import Table

    totals = s["totals"]
    head = Table(title=f"clickstream realtime · {s['now']}", title_justify="left", show_edge=False)
    for column in ("", "events", "errors", "error rate", "revenue", "orders", "AOV"):
        head.add_column(column, justify="right" if column else "left")
    for name in ("minute", "previous_minute", "hour", "day"):
        t = totals[name]
        head.add_row(
            f"{name.replace('_', ' ')} {s['windows'][name][11:16] if name != 'day' else s['windows'][name][:10]}",
            f"{t['events']:,}",
            f"{t['errors']:,}",
            _pct(t["error_rate"]),
            f"{t['revenue']:,.2f}",
            f"{t['orders']:,}",
            "-" if t["aov"] is None else f"{t['aov']:,.2f}",
        )
    types = Table(title="events by type", title_justify="left", show_edge=False)
    for column in ("type", "this min", "last min", "hour"):
        types.add_column(column, justify="left" if column == "type" else "right")
    for event_type, hour in sorted(s["events_by_type"]["hour"].items(), key=lambda kv: -kv[1]):
        this, last = s["events_by_type"]["minute"][event_type], s["events_by_type"]["previous_minute"][event_type]
        types.add_row(event_type, f"{this:,}", f"{last:,}", f"{hour:,}")
    statuses = Table(title="HTTP status (hour)", title_justify="left", show_edge=False)
    for column in ("status", "this min", "hour", "share"):
        statuses.add_column(column, justify="left" if column == "status" else "right")
    for row in s["statuses"]:
        style = "red" if row["error"] else None
        statuses.add_row(
            row["status"], f"{row['minute_events']:,}", f"{row['hour_events']:,}", _pct(row["hour_share"]), style=style
        )
    urls = Table(title="top URLs (hour)", title_justify="left", show_edge=False)
    for column in ("url", "events", "errors"):
        urls.add_column(column, justify="left" if column == "url" else "right")
    for row in s["top_urls"]:
        urls.add_row(row["url"], f"{row['events']:,}", f"{row['errors']:,}")
    users, sessions = s["uniques"]["users"], s["uniques"]["sessions"]
    rse = s["uniques_rse"] * 200  # ≈95 %: two standard errors
    fresh = "-" if s["freshness_seconds"] is None else f"{s['freshness_seconds']:.1f} s"
    lag = "-" if s["lag_seconds"] is None else f"{s['lag_seconds']:.1f} s"
    footer = (
        f"uniques (HLL, ±{rse:.1f} %): users {users['hour']['estimate']:,} this hour, {users['day']['estimate']:,} today; "
        f"sessions {sessions['hour']['estimate']:,} / {sessions['day']['estimate']:,}\n"
        f"freshness (now - newest event): {fresh}   lag (now - newest arrival applied): {lag}"
    )
    return Group(head, Columns([types, statuses]), urls, footer)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"

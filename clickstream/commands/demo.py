"""`clickstream demo` (what `make demo` runs): the pipeline end to end, and what it computed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from clickstream.errors import ClickstreamError


@click.command(name="demo")
@click.option("--users", type=click.IntRange(min=1), default=200, show_default=True,
              help="Simulated users at the start; new ones arrive when all are in a session (clickstream simulate "
              "--help).")  # fmt: skip
@click.option("--duration", type=click.FloatRange(min=1), default=30.0, show_default=True, help="Seconds of traffic.")
@click.option("--rate", type=click.FloatRange(min=1), default=300.0, show_default=True, help="Events per second.")
@click.option(
    "--kafka-events", type=click.IntRange(min=0), default=1000, show_default=True, help="Events sent to Kafka."
)
@click.option("--history", default="7d", show_default=True, metavar="DURATION",
              help="Start from a lake holding this much past traffic (7d, 36h; 0 for none), written into the raw "
              "archive and compacted by an Airflow backfill (clickstream simulate --history).")  # fmt: skip
@click.option("--history-users", type=click.IntRange(min=1), default=3000, show_default=True,
              help="Returning users in the history.")  # fmt: skip
@click.option("--seed", type=int, help="Repeat a run (default: random, printed).")
@click.option("--keep", is_flag=True, help="Leave the stack running afterwards (stop it with `make down`).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the result here.")
def demo(
    users: int,
    duration: float,
    rate: float,
    kafka_events: int,
    history: str,
    history_users: int,
    seed: int | None,
    keep: bool,
    json_out: Path | None,
) -> None:
    """Run the whole pipeline on the embedded stack and print what it computed.

    \b
    1. starts the stack (AWS-compatible server, Kafka broker, collector, raw archiver, consumer);
       writes --history of past traffic into the raw archive and backfills it through Airflow
    2. simulates users through the HTTP collector into Kinesis, plus legacy and invalid requests,
       measuring the freshness of the real-time counters meanwhile (ingest -> counter visible)
    3. sends events straight to Kafka and archives the topic
    4. counts what S3 holds (raw archive, bad rows) and checks it against what was accepted
    5. prints the real-time counters and checks them against a recomputation from the raw archive
    6. runs the batch DAGs through Airflow for the hours the traffic arrived in (compaction with
       data-quality checks, batch metrics, reconciliation) and prints their results and a few
       Athena queries run on the local engine
    7. stops the stack (unless --keep, or it was already running)

    Exits 1 when S3 does not hold exactly what was accepted, the counters disagree with it, the
    curated table is not exactly the archived events, or the batch and speed layers drift.
    """
    from rich.console import Console

    from clickstream.local.demo import DemoOptions, run_demo
    from clickstream.settings import Settings

    console = Console(highlight=False)
    from clickstream.simulate.history import parse_duration

    try:
        parse_duration(history)
    except ClickstreamError as exc:
        raise click.BadParameter(str(exc), param_hint="--history") from exc
    options = DemoOptions(
        users=users,
        duration=duration,
        rate=rate,
        kafka_events=kafka_events,
        seed=seed,
        keep=keep,
        history=history,
        history_users=history_users,
    )
    try:
        result = run_demo(Settings.from_env(), options, notify=lambda m: console.print(m, markup=False))
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    _print(console, result.as_dict())
    if json_out:
        json_out.write_text(json.dumps(result.as_dict(), indent=2, default=str))
    sys.exit(0 if result.ok else 1)


SUMMARY_WIDTH = 80  # the summary stays readable in an 80-column terminal: no row wraps past 2 lines


def summary_table(r: dict[str, Any]) -> Any:
    """The demo's summary as a rich Table: one figure per row, labels short enough for 80 columns."""
    from rich.table import Table

    col, leg, kaf = r["collector"], r["legacy_and_invalid"], r["kafka"]
    table = Table(title=f"clickstream demo (seed {r['seed']}, {r['elapsed_s']} s)", show_lines=False)
    table.add_column("stage", max_width=19)
    table.add_column("what", overflow="fold")
    table.add_column("count", justify="right", max_width=18, overflow="fold")
    table.add_row("collector → Kinesis", "events sent by the simulator", f"{col['sent']:,}")
    table.add_row("", "accepted / rejected", f"{col['accepted']:,} / {col['rejected']:,}")
    table.add_row("", "  of the sent: duplicates", f"{col['duplicates']:,}")
    table.add_row("", "  late", f"{col['late']:,}")
    table.add_row("", "  HTTP errors", f"{col['errors']:,}")
    table.add_row("", "rate (events/s)", f"{col['rate']:,}")
    table.add_row(
        "legacy + invalid", f"{leg['requests']} requests: accepted / rejected", f"{leg['accepted']} / {leg['rejected']}"
    )
    for reason, n in sorted(leg["errors_by_reason"].items()):
        table.add_row("", f"  field errors: {reason}", str(n))
    table.add_row("producer → Kafka", "sent / accepted", f"{kaf['sent']:,} / {kaf['accepted']:,}")
    for name, raw in (("S3 raw (Kinesis)", r["raw_kinesis"]), ("S3 raw (Kafka)", r["raw_kafka"])):
        table.add_row(name, "objects", f"{raw['objects']:,}")
        table.add_row("", "events / distinct ids", f"{raw['events']:,} / {raw['distinct_event_ids']:,}")
    bad = r["bad_rows"]
    table.add_row("S3 raw/bad", "objects / rows", f"{bad['objects']} / {bad['rows']}")
    for reason, n in sorted(bad["by_reason"].items()):
        table.add_row("", f"  {reason}", str(n))
    _history_rows(table, r.get("history") or {})
    _speed_rows(table, r.get("speed") or {})
    _batch_rows(table, r.get("batch") or {})
    return table


def _print(console: Any, r: dict[str, Any]) -> None:
    console.print(summary_table(r))
    _examples(console, (r.get("batch") or {}).get("examples") or {})
    for check, ok in r["checks"].items():
        console.print(f"  {'✓' if ok else '✗'} {check}", markup=False)
    if r["stack_stopped"]:
        console.print("stack stopped (`make demo DEMO_ARGS=--keep` leaves it running with the dashboard)")
    else:
        console.print("stack left running: `make status`, `make down`")
        for name, url in (r.get("urls") or {}).items():
            console.print(f"  {name}: {url}", markup=False)


def _speed_rows(table: Any, speed: dict[str, Any]) -> None:
    """The real-time counters of the run's hour and the measured freshness."""
    if not speed:
        return
    rt, fresh = speed["realtime"], speed["freshness"]
    table.add_row(
        "real-time counters", f"hour {rt['hour'][11:16]} UTC: events / errors", f"{rt['events']:,} / {rt['errors']:,}"
    )
    for t, n in sorted(rt["events_by_type"].items(), key=lambda kv: -kv[1]):
        table.add_row("", f"  {t}", f"{n:,}")
    for status, n in rt["events_by_status"].items():
        table.add_row("", f"  status {status}", f"{n:,}")
    table.add_row("", "revenue / orders", f"{rt['revenue']:,.2f} / {rt['orders']:,}")
    table.add_row("", "unique users (HLL estimate)", f"{rt['users_estimate']:,}")
    if fresh["samples"]:
        table.add_row(
            "", f"freshness p50 / p99 ({fresh['samples']} samples)", f"{fresh['p50_s']:.2f} s / {fresh['p99_s']:.2f} s"
        )
    else:
        table.add_row("", "freshness, ingest → counter", "not measured")


def _batch_rows(table: Any, batch: dict[str, Any]) -> None:
    """What the batch layer computed: DAG runs, data quality, metrics per day, reconciliation."""
    if not batch:
        return
    airflow, quality, cur = batch["airflow"], batch["quality"], batch["curated"]
    table.add_row(
        "batch (Airflow)",
        f"compaction runs (first {airflow.get('first_hour_seconds')} s)",
        str(len(airflow.get("hours", []))),
    )
    table.add_row("", "rows checked / passed", f"{quality['raw_rows']:,} / {quality['valid']:,}")
    table.add_row("", "quarantined / duplicates", f"{quality['quarantined']:,} / {quality['duplicates']:,}")
    table.add_row("", "curated events / distinct ids", f"{cur['events']:,} / {cur['ids']:,}")
    engagement = {row["dt"]: row for row in batch["metrics"]["engagement"]}
    commerce = {row["dt"]: row for row in batch["metrics"]["commerce"]}
    shown = headline_day(sorted(engagement))
    if shown is not None:
        row = engagement[shown]
        table.add_row("", f"{shown}: sessions", f"{row['sessions']:,}")
        table.add_row("", "  bounce rate", _pct(row["bounce_rate"]))
        table.add_row("", "  avg session duration", f"{(row['avg_session_duration_ms'] or 0) / 1000:.1f} s")
        table.add_row("", "  pages per session", f"{row['pages_per_session'] or 0:.2f}")
        table.add_row("", "  click-through rate", _pct(row["ctr"]))
    if shown in commerce:
        row = commerce[shown]
        table.add_row("", "  conversion", _pct(row["conversion_rate"]))
        table.add_row("", "  cart abandonment", _pct(row["cart_abandonment_rate"]))
        table.add_row("", "  revenue / orders", f"{float(row['revenue'] or 0):,.2f} / {row['orders']:,}")
        table.add_row("", "  average order value", f"{float(row['aov'] or 0):,.2f}")
    if len(engagement) > 1:
        table.add_row("", "per day: sessions / orders", "")
        for dt, row in sorted(engagement.items()):
            orders = (commerce.get(dt) or {}).get("orders") or 0
            table.add_row("", f"  {dt}", f"{row['sessions']:,} / {orders:,}")
    rec = batch["reconciliation"]
    table.add_row(
        "reconciliation",
        f"compared in {rec.get('windows', 0)} windows / mismatches",
        f"{rec.get('compared', 0):,} / {rec.get('mismatches', '?')}",
    )
    if rec.get("history_windows"):
        table.add_row("", "windows left out: history only", f"{rec['history_windows']:,}")
    table.add_row(
        "",
        "max drift: counters / uniques %",
        f"{rec.get('max_abs_drift', '?')} / {rec.get('max_unique_drift_pct', '?')}",
    )


def headline_day(days: list[str]) -> str | None:
    """The day whose figures the summary shows: the last one before the latest (a whole day of
    history) when there are several, else the only one."""
    if not days:
        return None
    return days[-2] if len(days) > 1 else days[-1]


def _history_rows(table: Any, history: dict[str, Any]) -> None:
    """The simulated past and its Airflow backfill."""
    if not history:
        return
    h, b = history["history"], history["backfill"]
    table.add_row("history (raw S3)", f"{h['start'][:10]} to {h['end'][:16]}", "")
    table.add_row("", "events / distinct ids", f"{h['events']:,} / {h['distinct']:,}")
    table.add_row("", "users / sessions", f"{h['users']:,} / {h['sessions']:,}")
    table.add_row("", "objects / arrival hours", f"{h['objects']:,} / {h['arrival_hours']:,}")
    runs = " + ".join(f"{x['runs']} {x['dag_id'].removeprefix('compact_raw_events').lstrip('_') or 'hourly'}"
                      for x in b["backfills"])  # fmt: skip
    table.add_row("", "Airflow backfill runs", runs)
    table.add_row("", "seconds: backfill / in all", f"{b['seconds']:.0f} s / {history['seconds']:.0f} s")


def _examples(console: Any, examples: dict[str, Any]) -> None:
    """The example Athena queries (run on the local engine) and their results."""
    from rich.table import Table

    for title, ex in examples.items():
        table = Table(title=f"clickstream query: {title}", caption=ex["sql"], caption_justify="left")
        for column in ex["columns"]:
            table.add_column(column)
        for row in ex["rows"][:8]:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"

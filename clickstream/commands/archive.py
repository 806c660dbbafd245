"""`clickstream archive`: run the raw archiver (Firehose's stand-in), and count what it wrote per dt/hour."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import click

from clickstream.constants import RAW_EVENTS_PREFIX
from clickstream.emulated.firehose.batching import FlushPolicy, partition_of_key
from clickstream.errors import ClickstreamError
from clickstream.settings import TRANSPORTS, Settings

_DEFAULTS = FlushPolicy()
_STATS_READERS = 8  # objects downloaded in parallel to count their lines


@click.group(name="archive")
def archive() -> None:
    """Raw archive: stream records -> S3 raw/events/dt=YYYY-MM-DD/hour=HH/ (NDJSON.gz, arrival time)."""


@archive.command(name="run")
@click.option("--transport", type=click.Choice(TRANSPORTS), help="Default: CLICKSTREAM_TRANSPORT (kinesis).")
@click.option(
    "--flush-seconds",
    type=float,
    default=_DEFAULTS.max_age_seconds,
    show_default=True,
    help="Age bound of a shard's buffer.",
)
@click.option(
    "--flush-records", type=int, default=_DEFAULTS.max_records, show_default=True, help="Records per flush (max)."
)
@click.option(
    "--flush-bytes",
    type=int,
    default=_DEFAULTS.max_bytes,
    show_default=True,
    help="Uncompressed bytes per flush (max).",
)
@click.option(
    "--until-idle",
    type=float,
    metavar="SECONDS",
    help="Exit once the stream is drained and has been idle this long (default: run until stopped).",
)
@click.option("--progress-seconds", type=float, default=5.0, show_default=True, help="Log progress this often.")
def run(
    transport: str | None,
    flush_seconds: float,
    flush_records: int,
    flush_bytes: int,
    until_idle: float | None,
    progress_seconds: float,
) -> None:
    """Archive the stream until stopped (SIGTERM/Ctrl-C flush, checkpoint and exit 0)."""
    from clickstream.adapters.aws_errors import is_transient
    from clickstream.emulated.firehose.archiver import ArchiveStats, build_archiver
    from clickstream.emulated.runtime import configure_logging, run_until_stopped, stop_on_signals

    configure_logging()
    try:
        policy = FlushPolicy(flush_records, flush_bytes, flush_seconds)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    stop = threading.Event()
    try:
        settings = Settings.from_env()

        def archive_from_checkpoints() -> ArchiveStats:
            archiver = build_archiver(settings, transport=transport or settings.transport, policy=policy)
            return archiver.run(stop, until_idle=until_idle, progress_seconds=progress_seconds)

        with stop_on_signals(stop):
            # A timeout or throttling from the stream, S3 or DynamoDB starts over from the checkpoints.
            stats = run_until_stopped(archive_from_checkpoints, stop, what="archiver", is_transient=is_transient)
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc
    if stats is None:
        click.echo("stopped while waiting to retry")
        return
    click.echo(f"archived {stats.records_archived} records in {stats.objects_written} objects")


@archive.command(name="stats")
@click.option("--date", "date_", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only this dt partition.")
def stats(date_: datetime | None) -> None:
    """Objects and events per dt/hour partition of the raw archive."""
    from clickstream.adapters.s3 import lake_bucket

    settings = Settings.from_env()
    bucket = lake_bucket(settings)
    prefix = f"{RAW_EVENTS_PREFIX}/dt={date_:%Y-%m-%d}/" if date_ else f"{RAW_EVENTS_PREFIX}/"
    keys = [(key, part) for key in bucket.list_keys(prefix) if (part := partition_of_key(key)) is not None]
    with ThreadPoolExecutor(_STATS_READERS) as pool:
        lines = list(pool.map(lambda kp: len(bucket.get_ndjson_gz(kp[0])), keys))
    table: dict[tuple[str, str], list[int]] = {}
    for (_, part), n in zip(keys, lines, strict=True):
        row = table.setdefault(part, [0, 0])
        row[0] += 1
        row[1] += n
    click.echo(f"{'dt':<10}  {'hour':>4}  {'objects':>8}  {'events':>10}")
    for (dt, hour), (objects, events) in sorted(table.items()):
        click.echo(f"{dt:<10}  {hour:>4}  {objects:>8}  {events:>10}")
    click.echo(f"{'total':<10}  {'':>4}  {len(keys):>8}  {sum(lines):>10}")

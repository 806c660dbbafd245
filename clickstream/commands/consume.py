"""`clickstream consume`: the event source mapping's stand-in in the foreground (what `local up` runs)."""

from __future__ import annotations

import threading

import click

from clickstream.emulated.event_source_mapping.events import BATCH_SIZE_MAX, BATCHING_WINDOW_MAX_SECONDS
from clickstream.emulated.event_source_mapping.options import DEFAULT_BATCH_SIZE, DEFAULT_LEASE_SECONDS
from clickstream.emulated.event_source_mapping.retry import RetryPolicy
from clickstream.errors import ClickstreamError
from clickstream.settings import TRANSPORTS, Settings


@click.command(name="consume")
@click.option("--transport", type=click.Choice(TRANSPORTS), help="Default: CLICKSTREAM_TRANSPORT (kinesis).")
@click.option(
    "--batch-size",
    type=click.IntRange(1, BATCH_SIZE_MAX),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Records per invocation.",
)
@click.option(
    "--batch-window",
    type=click.FloatRange(0, BATCHING_WINDOW_MAX_SECONDS),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait up to this long to fill a batch (0: invoke as soon as records arrive).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=RetryPolicy.max_retries,
    show_default=True,
    help="Retries of a failing batch before it goes to the dead-letter queue.",
)
@click.option(
    "--until-idle",
    type=float,
    metavar="SECONDS",
    help="Exit once every shard is drained and idle this long (default: run until stopped).",
)
@click.option("--handler", metavar="MODULE:FUNCTION", help="Default: lambdas.stream_processor.handler:handler.")
@click.option("--worker-id", help="Kinesis lease owner (default: host-pid); reuse it to reclaim leases at once.")
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1),
    default=DEFAULT_LEASE_SECONDS,
    show_default=True,
    help="Kinesis: a dead worker's shards move after this long.",
)
@click.option("--progress-seconds", type=float, default=5.0, show_default=True, help="Log progress and lag this often.")
def consume(
    transport: str | None,
    batch_size: int,
    batch_window: float,
    max_retries: int,
    until_idle: float | None,
    handler: str | None,
    worker_id: str | None,
    lease_seconds: float,
    progress_seconds: float,
) -> None:
    """Run the stream processor on the stream, the way Lambda's event source mapping does.

    \b
    Kinesis: shards shared with other `consume` processes through DynamoDB leases.
    Kafka:   a consumer group; partitions shared with the other members.
    Failing batches are retried, then described in the SQS dead-letter queue.
    SIGTERM / Ctrl-C finish the batch in flight, checkpoint and exit 0.
    """
    from clickstream.adapters.aws_errors import is_transient
    from clickstream.emulated.event_source_mapping.invoke import DEFAULT_HANDLER, load_handler
    from clickstream.emulated.event_source_mapping.options import ConsumerOptions
    from clickstream.emulated.runtime import configure_logging, run_until_stopped, stop_on_signals

    configure_logging()
    try:
        options = ConsumerOptions(
            batch_size=batch_size,
            batch_window=batch_window,
            retry=RetryPolicy(max_retries=max_retries),
            lease_seconds=lease_seconds,
            progress_seconds=progress_seconds,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    stop = threading.Event()
    try:
        settings = Settings.from_env()
        function = load_handler(handler or DEFAULT_HANDLER)

        def consume_from_checkpoints() -> tuple[int, int]:
            if (transport or settings.transport) == "kafka":
                from clickstream.emulated.event_source_mapping.kafka import build_kafka_consumer

                stats = build_kafka_consumer(settings, function, options=options).run(stop, until_idle=until_idle)
                return stats.records, stats.batches
            from clickstream.emulated.event_source_mapping.kinesis import build_kinesis_consumer

            kinesis = build_kinesis_consumer(settings, function, options=options, worker_id=worker_id)
            result = kinesis.run(stop, until_idle=until_idle)
            return result.records, result.batches

        with stop_on_signals(stop):
            # A timeout or throttling from the stream or DynamoDB starts over from the checkpoints
            # (the same worker id: its own leases are taken back at once).
            done = run_until_stopped(consume_from_checkpoints, stop, what="consumer", is_transient=is_transient)
        if done is not None:
            click.echo(f"processed {done[0]} records in {done[1]} batches")
    except ClickstreamError as exc:
        raise click.ClickException(str(exc)) from exc

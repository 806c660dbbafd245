"""The stream processor on Kinesis: what Lambda's event source mapping does, for local runs and containers.

    python -m stream_consumers.kinesis_consumer [--batch-size 100] [--batch-window 0] [--max-retries 3]

moto never runs Lambdas, so this runs the speed layer's handler (`lambdas/stream_processor`)
itself, with the same contract: the real Kinesis event per batch of one shard, the partial
batch response honoured (the lowest failed record is retried with everything after it),
bounded retries with backoff, then the batch's description to the SQS dead-letter queue and the
shard moves on; the checkpoint moves only after success. N processes split the shards through
DynamoDB leases (`clickstream.emulated.event_source_mapping.leases`) and take over a dead one's
within a lease duration; closed shards are finished before their children start. SIGTERM
finishes the batch in flight, checkpoints and releases the leases; a SIGKILL loses nothing: every
batch's range is written to its lease before the handler runs, so the next holder replays
exactly that batch (see `clickstream.emulated.event_source_mapping.batches`), and the handler's
watermarks make the replay a no-op.
Lag (MillisBehindLatest, iterator age) is logged at INFO every few seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from clickstream.emulated.event_source_mapping.kinesis import ConsumerStats, KinesisConsumer, build_kinesis_consumer
from clickstream.errors import ClickstreamError
from clickstream.settings import Settings

__all__ = ["ConsumerStats", "KinesisConsumer", "build_kinesis_consumer", "main"]

log = logging.getLogger("stream_consumers.kinesis_consumer")


def main(argv: list[str] | None = None) -> int:
    from clickstream.emulated.event_source_mapping.invoke import DEFAULT_HANDLER, load_handler
    from clickstream.emulated.event_source_mapping.options import (
        DEFAULT_LEASE_SECONDS,
        add_arguments,
        options_from_args,
    )
    from clickstream.emulated.runtime import configure_logging, stop_on_signals

    p = argparse.ArgumentParser(
        prog="python -m stream_consumers.kinesis_consumer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.add_argument("--worker-id", help="lease owner name (default: host-pid); reuse it to reclaim leases at once")
    p.add_argument(
        "--lease-seconds", type=float, default=DEFAULT_LEASE_SECONDS, help="a dead worker's shards move after this long"
    )
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    stop = threading.Event()
    try:
        options = options_from_args(args)
        handler = load_handler(args.handler or DEFAULT_HANDLER)
        with stop_on_signals(stop):
            consumer = build_kinesis_consumer(Settings.from_env(), handler, options=options, worker_id=args.worker_id)
            consumer.run(stop, until_idle=args.until_idle)
    except (ClickstreamError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

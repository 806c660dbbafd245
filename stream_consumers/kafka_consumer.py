"""The stream processor on Kafka: what Lambda's self-managed Kafka event source mapping does.

    python -m stream_consumers.kafka_consumer [--batch-size 100] [--batch-window 0] [--max-retries 3]

A kafka-python consumer group (`stream-processor`, `enable_auto_commit=False`): each poll batch
becomes the self-managed Kafka event, the handler (`lambdas/stream_processor`) runs, and offsets
are committed only after it returned success; partial batch responses are honoured per
partition; bounded retries, then the dead-letter queue. Run several processes to share the
partitions; a rebalance invokes what is buffered for the revoked partitions and commits first.
The per-partition watermarks that make replays harmless are in the handler's DynamoDB writes;
the loop's part (replaying an interrupted batch with the same range) is described in
`clickstream.emulated.event_source_mapping.kafka`. SIGTERM finishes the batch in flight, commits
and leaves the group.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from clickstream.emulated.event_source_mapping.kafka import KafkaConsumerLoop, KafkaStats, build_kafka_consumer
from clickstream.emulated.event_source_mapping.options import CONSUMER
from clickstream.errors import ClickstreamError
from clickstream.settings import Settings

__all__ = ["KafkaConsumerLoop", "KafkaStats", "build_kafka_consumer", "main"]

log = logging.getLogger("stream_consumers.kafka_consumer")


def main(argv: list[str] | None = None) -> int:
    from clickstream.emulated.event_source_mapping.invoke import DEFAULT_HANDLER, load_handler
    from clickstream.emulated.event_source_mapping.options import add_arguments, options_from_args
    from clickstream.emulated.runtime import configure_logging, stop_on_signals

    p = argparse.ArgumentParser(
        prog="python -m stream_consumers.kafka_consumer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.add_argument("--group-id", default=CONSUMER, help="consumer group (default: %(default)s)")
    args = p.parse_args(argv)
    configure_logging(args.log_level)
    stop = threading.Event()
    try:
        options = options_from_args(args)
        handler = load_handler(args.handler or DEFAULT_HANDLER)
        with stop_on_signals(stop):
            consumer = build_kafka_consumer(Settings.from_env(), handler, options=options, group_id=args.group_id)
            consumer.run(stop, until_idle=args.until_idle)
    except (ClickstreamError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The raw archiver: stream (Kinesis or Kafka) -> S3 raw/events/dt=YYYY-MM-DD/hour=HH/ NDJSON.gz.

    python -m stream_consumers.raw_archiver [--transport kinesis|kafka] [--until-idle 5]

What Firehose does in AWS, for local runs and containers. Settings come from the environment
(`Settings.from_env()`). SIGTERM/SIGINT flush what is buffered, checkpoint and exit 0; a crash
or SIGKILL loses nothing either: the restart re-reads from the checkpoint and rewrites the same
object keys (see `clickstream.emulated.firehose.batching`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from clickstream.emulated.firehose.archiver import build_archiver
from clickstream.emulated.firehose.batching import FlushPolicy
from clickstream.emulated.runtime import configure_logging, stop_on_signals
from clickstream.errors import ClickstreamError
from clickstream.settings import TRANSPORTS, Settings

log = logging.getLogger("stream_consumers.raw_archiver")
_DEFAULTS = FlushPolicy()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stream_consumers.raw_archiver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--transport", choices=TRANSPORTS, help="default: CLICKSTREAM_TRANSPORT (kinesis)")
    p.add_argument("--flush-seconds", type=float, default=_DEFAULTS.max_age_seconds, help="age bound of a buffer")
    p.add_argument("--flush-records", type=int, default=_DEFAULTS.max_records, help="records per object (max)")
    p.add_argument("--flush-bytes", type=int, default=_DEFAULTS.max_bytes, help="uncompressed bytes per flush (max)")
    p.add_argument("--until-idle", type=float, metavar="SECONDS", help="exit once drained and idle this long")
    p.add_argument("--progress-seconds", type=float, default=5.0, help="log progress this often (INFO)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    stop = threading.Event()
    try:
        settings = Settings.from_env()
        policy = FlushPolicy(args.flush_records, args.flush_bytes, args.flush_seconds)
        with stop_on_signals(stop):
            archiver = build_archiver(settings, transport=args.transport or settings.transport, policy=policy)
            archiver.run(stop, until_idle=args.until_idle, progress_seconds=args.progress_seconds)
    except (ClickstreamError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

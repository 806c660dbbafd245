"""Stands in for Amazon MSK on laptops and CI: a Kafka-protocol broker, librdkafka's mock cluster, in
its own process.

    python -m clickstream.emulated.msk_broker --state-file .clickstream/kafka.json

The mock cluster lives exactly as long as the Producer that created it, so this process keeps
one open and polls it until SIGTERM/SIGINT. It picks a random port at every start, which is
why the address goes to the state file that `Settings.from_env()` reads (docs/ENVIRONMENT.md
"Kafka mock broker (librdkafka)").
Limits: no admin API (topics are auto-created with 4 partitions on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

MOCK_PARTITIONS = 4  # librdkafka mock cluster default for auto-created topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-file", type=Path, required=True, help='where to write {"bootstrap": host:port}')
    parser.add_argument("--brokers", type=int, default=1, help="number of mock brokers (default 1)")
    args = parser.parse_args(argv)

    from confluent_kafka import Producer

    producer = Producer({"test.mock.num.brokers": args.brokers, "bootstrap.servers": "unused:9092"})
    brokers = producer.list_topics(timeout=10).brokers
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers.values())
    args.state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"bootstrap": bootstrap, "pid": os.getpid(), "partitions": MOCK_PARTITIONS}))
    tmp.replace(args.state_file)  # atomic: readers never see half a file
    print(f"kafka mock cluster ready at {bootstrap}", flush=True)

    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stopping:
        producer.poll(0.5)
    try:
        if json.loads(args.state_file.read_text()).get("pid") == os.getpid():
            args.state_file.unlink()
    except (OSError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

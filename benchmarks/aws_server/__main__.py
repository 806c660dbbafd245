"""`python -m benchmarks.aws_server`: the embedded stack's AWS server beside moto's as shipped.

Two servers on free ports, side by side in one run: `python -m moto.server` (the peer, as the
stack ran it before) and `python -m clickstream.emulated.aws_server` (ours: moto's backend lookup
remembered per host, no access log; see that module). Each is provisioned with the platform's
resources, then both get the same work, in alternating rounds (ours first, then the peer first)
so that drift on the machine falls on both:

- **speed**: the speed layer's writes as `make up` makes them: simulator events in Lambda
  Kinesis events of --batch-size records through `SpeedProcessor` (counters, sketches, order
  claims, freshness, the live feed), the way the consumer calls the handler. Time per batch is
  what an event waits for its batch; the live feed is written first in each batch.
- **kinesis**: PutRecords of --batch-size records followed by a GetRecords, as the collector and
  the consumers call it.
- **snapshot**: the live stream's counters read (`speed.snapshot.read_snapshot`: two BatchGetItem
  and a Query of the hour's minute series), --snapshots times per round, over the table the
  speed workload has filled so far. A Query's cost is where the two servers differ most: moto
  reads the whole table for it, ours the queried partition.

Reported per server and workload: requests/s, p50/p95 per batch (or per call), and the server's
CPU milliseconds per request (psutil, the server's process tree), with ours ÷ peer. Results go
to --out as JSON; a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.ingest.procs import child_env, free_port, python, start, stop, tree_cpu, wait_http
from benchmarks.ingest.stats import percentile

TIMES = "\N{MULTIPLICATION SIGN}"
DEFAULT_OUT = Path("benchmarks/results/aws_server.json")
WORKLOADS = {"speed": "batch", "kinesis": "call", "snapshot": "read"}  # workload → what p50/p95 time
SERVERS = {
    "ours": ["-m", "clickstream.emulated.aws_server"],
    "peer": ["-m", "moto.server"],
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.aws_server", description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=4000, help="simulator events for the speed workload [4000]")
    p.add_argument("--batch-size", type=int, default=10, help="records per batch, both workloads [10]")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds per workload [4]")
    p.add_argument("--kinesis-calls", type=int, default=400, help="PutRecords+GetRecords pairs per round [400]")
    p.add_argument("--snapshots", type=int, default=100, help="snapshot reads per round [100]")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results [{DEFAULT_OUT}]")
    return p.parse_args(argv)


def settings_for(endpoint: str, home: Path) -> Any:
    from clickstream import constants as c
    from clickstream.settings import Settings

    return Settings.from_env({c.ENV_ENDPOINT: endpoint, c.ENV_HOME: str(home)})


class Server:
    def __init__(self, name: str, workdir: Path) -> None:
        from clickstream.adapters import _clients
        from clickstream.local.provision import provision

        port = free_port()
        self.name, self.endpoint = name, f"http://127.0.0.1:{port}"
        env = child_env({"MOTO_PORT": str(port), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
        command = [python(), *SERVERS[name], "-H", "127.0.0.1", "-p", str(port)]
        self.proc = start(name, command, env=env, log=workdir / f"{name}.log")
        wait_http(f"{self.endpoint}/moto-api/", self.proc)
        self.settings = settings_for(self.endpoint, workdir / name)
        _clients.reset_cache()
        provision(self.settings)
        self.requests = 0
        self.cpu = 0.0
        self.samples: dict[str, list[float]] = {w: [] for w in WORKLOADS}
        self.wall: dict[str, float] = dict.fromkeys(WORKLOADS, 0.0)
        self.counted: dict[str, int] = dict.fromkeys(WORKLOADS, 0)
        self.cpu_by: dict[str, float] = dict.fromkeys(WORKLOADS, 0.0)

    def measure(self, workload: str, run: Callable[[], tuple[list[float], int]]) -> None:
        cpu0, wall0 = tree_cpu(self.proc.pid), time.perf_counter()
        times, requests = run()
        self.wall[workload] += time.perf_counter() - wall0
        self.cpu_by[workload] += tree_cpu(self.proc.pid) - cpu0
        self.samples[workload] += times
        self.counted[workload] += requests

    def summary(self, workload: str) -> dict[str, Any]:
        times, n = self.samples[workload], self.counted[workload]
        return {
            "requests": n,
            "requests_per_s": round(n / self.wall[workload], 1),
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(percentile(times, 95) * 1000, 1),
            "server_cpu_ms_per_request": round(self.cpu_by[workload] / n * 1000, 2),
        }


def speed_round(server: Server, lambda_events: list[dict[str, Any]]) -> Callable[[], tuple[list[float], int]]:
    def run() -> tuple[list[float], int]:
        from benchmarks.speed_layer.dynamodb import CountedFeed
        from benchmarks.speed_layer.throughput import DropBadRows
        from clickstream.adapters import _clients
        from clickstream.adapters.dynamodb import CountersTable
        from clickstream.speed.processor import SpeedProcessor

        client = _clients.client("dynamodb", server.settings)
        table = CountersTable(server.settings.names.realtime_table, client=client)
        feed = CountedFeed(server.settings.names.realtime_table, client=client)
        processor = SpeedProcessor(table, DropBadRows(), limits=server.settings.limits, feed=feed)
        times = []
        for event in lambda_events:
            t0 = time.perf_counter()
            if processor.handle_event(event)["batchItemFailures"]:
                raise RuntimeError(f"{server.name}: a batch failed")
            times.append(time.perf_counter() - t0)
        table.close()
        return times, sum(table.requests.values()) + sum(feed.requests.values())

    return run


def kinesis_round(server: Server, records: list[bytes], calls: int) -> Callable[[], tuple[list[float], int]]:
    def run() -> tuple[list[float], int]:
        from clickstream.adapters import _clients

        client = _clients.client("kinesis", server.settings)
        stream = server.settings.names.stream
        shard = client.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
        iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="LATEST")[
            "ShardIterator"
        ]
        entries = [{"Data": r, "PartitionKey": str(i)} for i, r in enumerate(records)]
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            client.put_records(StreamName=stream, Records=entries)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            iterator = client.get_records(ShardIterator=iterator, Limit=1000)["NextShardIterator"]
            times.append(time.perf_counter() - t0)
        return times, 2 * calls

    return run


def snapshot_round(server: Server, now: datetime, reads: int) -> Callable[[], tuple[list[float], int]]:
    def run() -> tuple[list[float], int]:
        from clickstream.adapters import _clients
        from clickstream.adapters.dynamodb import CountersTable
        from clickstream.speed.snapshot import read_snapshot

        table = CountersTable(server.settings.names.realtime_table, client=_clients.client("dynamodb", server.settings))
        times = []
        for _ in range(reads):
            t0 = time.perf_counter()
            read_snapshot(table, now)
            times.append(time.perf_counter() - t0)
        table.close()
        return times, sum(table.requests.values())

    return run


def render(result: dict[str, Any]) -> str:
    lines = [
        f"`{result['command']}` — {result['date']}, load average {result['load_start']} → {result['load_end']}",
        "",
        "| workload | server | requests/s | p50 | p95 | server CPU per request |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for workload, unit in WORKLOADS.items():
        for name in SERVERS:
            r = result[workload][name]
            lines.append(
                f"| {workload} | {name} | {r['requests_per_s']:,} | {r['p50_ms']} ms/{unit} | "
                f"{r['p95_ms']} ms/{unit} | {r['server_cpu_ms_per_request']} ms |"
            )
        ratio = result[workload]["ratio"]
        lines.append(
            f"| {workload} | ours ÷ peer | {ratio['requests_per_s']}{TIMES} | {ratio['p50']}{TIMES} | "
            f"| {ratio['cpu_per_request']}{TIMES} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.speed_layer import fixtures

    args = parse_args(argv)
    command = " ".join(["python -m benchmarks.aws_server", *(sys.argv[1:] if argv is None else argv)])
    began, load_start = datetime.now(UTC), os.getloadavg()
    events = fixtures.normalised_events(args.events)
    lambda_events = fixtures.kinesis_events(events, batch_size=args.batch_size)
    chunks = [lambda_events[i :: args.rounds] for i in range(args.rounds)]
    records = [json.dumps(e).encode() for e in events[: args.batch_size]]
    now = fixtures.START + timedelta(minutes=30)  # inside the hour the fixtures cover
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp:
        servers = [Server(name, Path(tmp)) for name in SERVERS]
        try:
            for i in range(args.rounds):
                order = servers if i % 2 == 0 else servers[::-1]
                for server in order:
                    print(f"round {i + 1}/{args.rounds}: {server.name}", file=sys.stderr, flush=True)
                    server.measure("speed", speed_round(server, chunks[i]))
                    server.measure("kinesis", kinesis_round(server, records, args.kinesis_calls))
                    server.measure("snapshot", snapshot_round(server, now, args.snapshots))
        finally:
            for server in servers:
                stop(server.proc)
    result: dict[str, Any] = {
        "command": command,
        "date": began.isoformat(timespec="seconds"),
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
        "events": args.events,
        "batch_size": args.batch_size,
    }
    by_name = {s.name: s for s in servers}
    for workload in WORKLOADS:
        ours, peer = by_name["ours"].summary(workload), by_name["peer"].summary(workload)
        result[workload] = {
            "ours": ours,
            "peer": peer,
            "ratio": {
                "requests_per_s": round(ours["requests_per_s"] / peer["requests_per_s"], 2),
                "p50": round(ours["p50_ms"] / peer["p50_ms"], 2),
                "cpu_per_request": round(ours["server_cpu_ms_per_request"] / peer["server_cpu_ms_per_request"], 2),
            },
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

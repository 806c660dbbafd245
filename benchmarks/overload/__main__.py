"""`python -m benchmarks.overload`: the embedded stack under more load than it can take, before and after.

Two parts, each side by side in one run:

- **races** (`--races`): the AWS server alone, 8 threads at once. PutRecords of 100 records on
  one shard (acknowledged vs distinct sequence numbers vs read back) and `ADD n :one, m :one` on
  one item (expected vs stored), on `python -m moto.server` (the peer: moto as shipped) and on
  `python -m clickstream.emulated.aws_server` (ours, one request at a time). The same runs give
  each server's requests/s, so the lock's cost is measured, not assumed.
- **stack** (default): two whole stacks, `clickstream local up --services
  collector,archiver,consumer` in their own state folders on free ports: "before" runs the code
  of `--before` (a git revision, checked out in a temporary worktree), "after" this checkout.
  For each offered load (`--clients`, each client posting 500-event batches back to back with
  a 30 s timeout, for `--seconds`), it counts answers (2xx, 503 with and without Retry-After,
  other, client timeouts), p50/p99 latency, the time until the stack answers again once the
  load stops (a 1-event POST answered 2xx and the AWS server answering, each within 5 s), and,
  after the archiver's flush, how many acknowledged event ids are on the Kinesis stream and in
  the raw archive.

Results go to --out as JSON, and a Markdown table is printed. Nothing binds 4566 or 8000.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.ingest.procs import child_env, free_port, python, start, stop, wait_http
from benchmarks.ingest.stats import percentile

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = Path("benchmarks/results/overload.json")
DEFAULT_BEFORE = "4f8d44c"  # main before issue 14: moto unlocked, no back-pressure, no supervisor
BATCH = 500
CLIENT_TIMEOUT = 30.0
PROBE_TIMEOUT = 5.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overload", description=__doc__.split("\n")[0])
    p.add_argument("--races", action="store_true", help="only the AWS server race part (about a minute)")
    p.add_argument("--clients", default="4,16,32", help="offered loads: concurrent clients, comma-separated [4,16,32]")
    p.add_argument("--seconds", type=float, default=30.0, help="length of each load phase [30]")
    p.add_argument("--before", default=DEFAULT_BEFORE, help=f"git revision of the 'before' stack [{DEFAULT_BEFORE}]")
    p.add_argument("--only", choices=("before", "after"), help="run one stack only")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results [{DEFAULT_OUT}]")
    return p.parse_args(argv)


def aws_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=32, retries={"max_attempts": 1}, read_timeout=120)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


# --- races ----------------------------------------------------------------------------------------


def races(workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, module in (("moto.server", "moto.server"), ("ours", "clickstream.emulated.aws_server")):
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        env = child_env({"MOTO_PORT": str(port)})
        proc = start(
            name, [python(), "-m", module, "-H", "127.0.0.1", "-p", str(port)], env=env, log=workdir / f"{name}.log"
        )
        try:
            wait_http(f"{endpoint}/moto-api/", proc)
            out[name] = {"kinesis": race_put_records(endpoint), "dynamodb": race_adds(endpoint)}
        finally:
            stop(proc)
        print(f"  {name}: {json.dumps(out[name])}", flush=True)
    return out


def race_put_records(endpoint: str, threads: int = 8, calls: int = 25, per_call: int = 100) -> dict[str, Any]:
    kinesis = aws_client("kinesis", endpoint)
    kinesis.create_stream(StreamName="race", ShardCount=1)

    def write(t: int) -> list[str]:
        seqs = []
        for c in range(calls):
            records = [{"Data": f"{t}-{c}-{i}".encode(), "PartitionKey": "k"} for i in range(per_call)]
            seqs += [r["SequenceNumber"] for r in kinesis.put_records(StreamName="race", Records=records)["Records"]]
        return seqs

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        seqs = [s for batch in pool.map(write, range(threads)) for s in batch]
    elapsed = time.monotonic() - t0
    shard = kinesis.list_shards(StreamName="race")["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="race", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    read = 0
    while True:
        page = kinesis.get_records(ShardIterator=it, Limit=10_000)
        read += len(page["Records"])
        if not page["Records"]:
            break
        it = page["NextShardIterator"]
    return {
        "acknowledged": len(seqs),
        "distinct_sequence_numbers": len(set(seqs)),
        "read_back": read,
        "put_records_per_s": round(threads * calls / elapsed, 1),
    }


def race_adds(endpoint: str, threads: int = 8, rounds: int = 150) -> dict[str, Any]:
    ddb = aws_client("dynamodb", endpoint)
    ddb.create_table(
        TableName="race",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def add(_: int) -> None:
        for _ in range(rounds):
            ddb.update_item(
                TableName="race",
                Key={"pk": {"S": "c"}},
                UpdateExpression="ADD n :one, m :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(add, range(threads)))
    elapsed = time.monotonic() - t0
    item = ddb.get_item(TableName="race", Key={"pk": {"S": "c"}}, ConsistentRead=True)["Item"]
    return {
        "expected": threads * rounds,
        "n": int(item["n"]["N"]),
        "m": int(item["m"]["N"]),
        "updates_per_s": round(threads * rounds / elapsed, 1),
    }


# --- stack ----------------------------------------------------------------------------------------


@dataclass
class Phase:
    clients: int
    seconds: float
    answers: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)
    recovery_seconds: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "offered_events": sum(self.answers.values()) * BATCH,
            "acknowledged_events": len(self.acked),
            "answers": dict(self.answers),
            "p50_s": round(percentile(lat, 50), 2) if lat else None,
            "p99_s": round(percentile(lat, 99), 2) if lat else None,
            "recovery_seconds": self.recovery_seconds,
        }


class Stack:
    def __init__(self, name: str, code: Path, workdir: Path) -> None:
        self.name, self.code = name, code
        self.home = workdir / name / ".clickstream"
        self.aws_port, self.collector_port = free_port(), free_port()
        self.env = child_env(
            {
                "PYTHONPATH": str(code),
                "CLICKSTREAM_HOME": str(self.home),
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.aws_port}",
                "CLICKSTREAM_COLLECTOR_PORT": str(self.collector_port),
                "CLICKSTREAM_API_PORT": str(free_port()),
                "CLICKSTREAM_AIRFLOW_PORT": str(free_port()),
                "CLICKSTREAM_PROMETHEUS_PORT": str(free_port()),
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
            }
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python(), "-m", "clickstream", *args],
            env=self.env,
            cwd=self.code,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def up(self) -> None:
        done = self.cli("local", "up", "--services", "collector,archiver,consumer")
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: local up failed\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def down(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.cli("local", "down", "--purge", timeout=120)

    def settings(self) -> Any:
        from clickstream.settings import Settings

        return Settings.from_env({k: v for k, v in self.env.items() if k.startswith(("CLICKSTREAM_", "AWS_"))})


def batch_body() -> tuple[bytes, list[str]]:
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ids = [str(uuid.uuid4()) for _ in range(BATCH)]
    events = [
        {"event_type": "page_view", "user_id": f"u{i % 97}", "event_id": ids[i], "timestamp": at, "url": f"/p/{i % 13}"}
        for i in range(BATCH)
    ]
    return json.dumps(events).encode(), ids


def post(stack: Stack, body: bytes, timeout: float) -> tuple[str, dict[str, Any] | None]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.collector_port}/v1/events",
        data=body,
        headers={"Content-Type": "application/json", "X-Write-Key": "local-write-key"},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            return str(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return f"{exc.code}{' retry-after' if exc.headers.get('Retry-After') else ''}", None
    except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
        return ("timeout" if "timed out" in str(exc) else f"error {type(exc).__name__}"), None


def load(stack: Stack, phase: Phase) -> None:
    until = time.monotonic() + phase.seconds

    def client(_: int) -> None:
        while time.monotonic() < until:
            body, _ids = batch_body()
            t0 = time.monotonic()
            answer, doc = post(stack, body, CLIENT_TIMEOUT)
            took = time.monotonic() - t0
            with phase.lock:
                phase.answers[answer] += 1
                phase.latencies.append(took)
                if doc is not None and answer.startswith("2"):
                    phase.acked.update(doc["event_ids"])

    with ThreadPoolExecutor(phase.clients) as pool:
        list(pool.map(client, range(phase.clients)))


def recover(stack: Stack, limit: float = 300.0) -> float | None:
    """Seconds until a 1-event POST gets 2xx and the AWS server answers, each within PROBE_TIMEOUT."""
    t0 = time.monotonic()
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    probe = json.dumps([{"event_type": "click", "user_id": "probe", "timestamp": at}]).encode()
    while time.monotonic() - t0 < limit:
        answer, _ = post(stack, probe, PROBE_TIMEOUT)
        if answer.startswith("2"):
            try:
                with _OPENER.open(f"{stack.endpoint}/moto-api/config", timeout=PROBE_TIMEOUT) as resp:
                    resp.read()
                return round(time.monotonic() - t0, 1)
            except OSError:
                pass
        time.sleep(0.5)
    return None


def on_stream(stack: Stack) -> set[str]:
    settings = stack.settings()
    kinesis = aws_client("kinesis", stack.endpoint)
    ids: set[str] = set()
    for shard in kinesis.list_shards(StreamName=settings.names.stream)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=settings.names.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=10_000)
            ids.update(json.loads(r["Data"])["event_id"] for r in page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            it = page.get("NextShardIterator")
    return ids


def in_archive(stack: Stack) -> set[str]:
    settings = stack.settings()
    s3 = aws_client("s3", stack.endpoint)
    ids: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.names.bucket, Prefix="raw/events/"):
        for obj in page.get("Contents", []):
            body = gzip.decompress(s3.get_object(Bucket=settings.names.bucket, Key=obj["Key"])["Body"].read())
            ids.update(json.loads(line)["event_id"] for line in body.splitlines() if line)
    return ids


def settle(read: Callable[[], set[str]], wanted: set[str], quiet: float = 30.0, limit: float = 600.0) -> set[str]:
    """`read()` until it holds `wanted` or stops growing for `quiet` seconds."""
    best: set[str] = set()
    t0 = last_growth = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            got = read()
        except Exception as exc:  # the server may still be busy: try again
            print(f"    (read failed: {type(exc).__name__}; retrying)", flush=True)
            time.sleep(5)
            continue
        if len(got) > len(best):
            best, last_growth = got, time.monotonic()
        if wanted <= best or time.monotonic() - last_growth > quiet:
            break
        time.sleep(5)
    return best


def run_stack(stack: Stack, loads: Sequence[int], seconds: float) -> dict[str, Any]:
    print(f"== {stack.name}: {stack.code}", flush=True)
    stack.up()
    phases: list[Phase] = []
    try:
        for clients in loads:
            phase = Phase(clients, seconds)
            load(stack, phase)
            phase.recovery_seconds = recover(stack)
            phases.append(phase)
            print(f"  {clients} clients: {json.dumps(phase.summary())}", flush=True)
        acked = set().union(*(p.acked for p in phases))
        stream = settle(lambda: on_stream(stack), acked) & acked
        archive = settle(lambda: in_archive(stack), acked) & acked
        status = stack.cli("local", "status", "--json", timeout=120)
        services = json.loads(status.stdout)["services"] if status.stdout.strip() else []
    finally:
        stack.down()
    result = {
        "code": str(stack.code),
        "phases": [p.summary() for p in phases],
        "acknowledged_events": len(acked),
        "acknowledged_missing_from_stream": len(acked - stream),
        "acknowledged_missing_from_archive": len(acked - archive),
        "services_at_end": {s["name"]: {"healthy": s["healthy"], "restarts": s.get("restarts")} for s in services},
    }
    print(f"  {stack.name}: {json.dumps({k: v for k, v in result.items() if k != 'phases'})}", flush=True)
    return result


@contextlib.contextmanager
def worktree(revision: str, workdir: Path) -> Iterator[Path]:
    path = workdir / "before-code"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), revision], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)


def markdown(results: dict[str, Any]) -> str:
    lines = []
    if "races" in results:
        lines += [
            "| server | PutRecords acked | distinct seq | read back | PutRecords/s | ADD expected | n | m | UpdateItem/s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in results["races"].items():
            k, d = r["kinesis"], r["dynamodb"]
            lines.append(
                f"| {name} | {k['acknowledged']} | {k['distinct_sequence_numbers']} | {k['read_back']} | "
                f"{k['put_records_per_s']} | {d['expected']} | {d['n']} | {d['m']} | {d['updates_per_s']} |"
            )
    for name in ("before", "after"):
        r = results.get("stack", {}).get(name)
        if not r:
            continue
        lines += ["", f"**{name}** ({r['acknowledged_events']} acknowledged; missing from stream "
                  f"{r['acknowledged_missing_from_stream']}, from archive {r['acknowledged_missing_from_archive']})", "",
                  "| clients | offered | acked | answers | p50 s | p99 s | recovery s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for p in r["phases"]:
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(p["answers"].items()))
            lines.append(
                f"| {p['clients']} | {p['offered_events']} | {p['acknowledged_events']} | {answers} | "
                f"{p['p50_s']} | {p['p99_s']} | {p['recovery_seconds']} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    loads = [int(x) for x in args.clients.split(",") if x.strip()]
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="overload-") as tmp:
        workdir = Path(tmp)
        if args.races:
            results["races"] = races(workdir)
        else:
            results["stack"] = {}
            if args.only != "before":
                results["stack"]["after"] = run_stack(Stack("after", ROOT, workdir), loads, args.seconds)
            if args.only != "after":
                with worktree(args.before, workdir) as code:
                    results["stack"]["before"] = run_stack(Stack("before", code, workdir), loads, args.seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(results, indent=2, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o))
    )
    print(markdown(results))
    print(f"\nresults: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

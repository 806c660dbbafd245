"""The load generator: a process of its own, so its CPU is measured apart from the server's.

    python -m benchmarks.ingest.loadgen http --port P --path /v1/events --kind batches ...
    python -m benchmarks.ingest.loadgen kinesis --endpoint URL --stream NAME ...

`http`: C keep-alive connections over raw asyncio streams (uvloop when installed), each
writing pre-built request bytes and reading the answer; no HTTP library in the loop, so the
client costs little CPU. `kinesis`: C threads calling `KinesisWriter.write` with 500 records.

Protocol on stdout, for the parent: `BENCH start` when the measurement window opens (after
the warm-up), `BENCH end` when it closes, then `BENCH result <json LoadResult>`. Only requests
completing inside the window count. Those still in flight at the end get DRAIN_S to finish
(uncounted); if some are still running then (the peer's batches take many seconds), the
result says `drained: false` and the parent restarts the server before the next scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.ingest import fixtures
from benchmarks.ingest.stats import LoadResult, latency_summary

DRAIN_S = 1.0
HEAD_END = b"\r\n\r\n"


@dataclass
class Window:
    """The measurement window on the perf_counter clock; tallies only what completes inside it."""

    start: float
    end: float
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    ok: int = 0
    errors: int = 0
    failures: int = 0
    events: int = 0
    rejected: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    in_flight: dict[int, float] = field(default_factory=dict)  # worker -> start of its current request
    in_flight_at_end: int = 0
    oldest_in_flight_ms: float = 0.0

    def close(self, now: float) -> None:
        """Note what is still in flight as the window closes (a latency lower bound when nothing finished)."""
        starts = list(self.in_flight.values())
        self.in_flight_at_end = len(starts)
        self.oldest_in_flight_ms = (now - min(starts)) * 1000.0 if starts else 0.0

    def record(self, started: float, done: float, status: int, events: int, rejected: int = 0) -> None:
        if not self.start <= done <= self.end:  # throughput = completions inside the window
            return
        self.requests += 1
        self.latencies_ms.append((done - started) * 1000.0)
        if 200 <= status < 300:
            self.ok += 1
            self.events += events
            self.rejected += rejected
        else:
            self.errors += 1
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1

    def fail(self, when: float) -> None:
        if self.start <= when <= self.end:
            self.failures += 1

    def result(self, drained: bool) -> LoadResult:
        return LoadResult(
            seconds=self.end - self.start,
            requests=self.requests,
            ok=self.ok,
            errors=self.errors,
            failures=self.failures,
            events=self.events,
            rejected=self.rejected,
            latency_ms=latency_summary(self.latencies_ms),
            statuses=self.statuses,
            drained=drained,
            in_flight_at_end=self.in_flight_at_end,
            oldest_in_flight_ms=self.oldest_in_flight_ms,
        )


def announce(line: str) -> None:
    sys.stdout.write(f"BENCH {line}\n")
    sys.stdout.flush()


def accepted_count(body: bytes, sent: int) -> tuple[int, int]:
    """(accepted, rejected) from a 2xx answer: its `accepted`/`rejected` fields, else all `sent`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return sent, 0
    if isinstance(data, dict) and isinstance(data.get("accepted"), int):
        return data["accepted"], int(data.get("rejected") or 0)
    return sent, 0


# --- HTTP -------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[fixtures.ResponseHead, bytes]:
    head = fixtures.parse_response_head(await reader.readuntil(HEAD_END))
    if head.content_length is not None:
        return head, await reader.readexactly(head.content_length)
    if head.chunked:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return head, b"".join(parts)
            parts.append(chunk[:-2])
    return head, await reader.read()  # no framing: the body runs to the end of the connection


async def _http_worker(
    wid: int, host: str, port: int, requests: Sequence[tuple[bytes, int]], order: itertools.count[int], window: Window
) -> None:
    reader = writer = None
    n = len(requests)
    while time.perf_counter() < window.end:
        request, sent = requests[next(order) % n]
        started = window.in_flight[wid] = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            assert reader is not None
            writer.write(request)
            head, body = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            del window.in_flight[wid]
            window.fail(time.perf_counter())
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)  # a refused connection must not turn into a busy loop
            continue
        done = time.perf_counter()
        del window.in_flight[wid]
        accepted, rejected = accepted_count(body, sent) if 200 <= head.status < 300 else (0, 0)
        window.record(started, done, head.status, accepted, rejected)
        if not head.keep_alive:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _run_http(args: argparse.Namespace, bodies: list[bytes], sizes: list[int]) -> LoadResult:
    requests = [
        (fixtures.http_request(args.host, args.port, args.path, b), s) for b, s in zip(bodies, sizes, strict=True)
    ]
    now = time.perf_counter()
    window = Window(start=now + args.warmup, end=now + args.warmup + args.seconds)
    order = itertools.count()
    tasks = [
        asyncio.ensure_future(_http_worker(wid, args.host, args.port, requests, order, window))
        for wid in range(args.concurrency)
    ]
    await _announce_window(window)
    done, pending = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in pending:
        task.cancel()  # the connection closes; the server may still be working on it
    for task in done:
        task.result()  # a bug in the generator must surface, not read as a quiet benchmark
    return window.result(drained=not pending)


async def _announce_window(window: Window) -> None:
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    announce("start")
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    window.close(time.perf_counter())
    announce("end")


# --- Kinesis, no HTTP -------------------------------------------------------------------


def _run_kinesis(args: argparse.Namespace, records: list[tuple[str, bytes]]) -> LoadResult:
    from clickstream.adapters import _clients
    from clickstream.adapters.streams import KinesisWriter, StreamRecord
    from clickstream.errors import ClickstreamError
    from clickstream.settings import Settings

    settings = Settings.from_env({"AWS_ENDPOINT_URL": args.endpoint, "CLICKSTREAM_STREAM": args.stream})
    writer = KinesisWriter(settings.names.stream, client=_clients.client("kinesis", settings))
    stream_records = [StreamRecord(k, d) for k, d in records]
    chunks = [stream_records[i : i + fixtures.BATCH_SIZE] for i in range(0, len(stream_records), fixtures.BATCH_SIZE)]
    now = time.perf_counter()
    window = Window(start=now + args.warmup, end=now + args.warmup + args.seconds)
    order = itertools.count()
    lock = threading.Lock()  # Window is shared by the threads

    def work(wid: int) -> None:
        while time.perf_counter() < window.end:
            chunk = chunks[next(order) % len(chunks)]
            started = window.in_flight[wid] = time.perf_counter()
            try:
                writer.write(chunk)
                status = 200
            except ClickstreamError:
                status = 503
            with lock:
                del window.in_flight[wid]
                window.record(started, time.perf_counter(), status, len(chunk))

    threads = [threading.Thread(target=work, args=(wid,), daemon=True) for wid in range(args.concurrency)]
    for t in threads:
        t.start()
    _sleep_until(window.start)
    announce("start")
    _sleep_until(window.end)
    with lock:
        window.close(time.perf_counter())
    announce("end")
    deadline = time.monotonic() + DRAIN_S
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return window.result(drained=not any(t.is_alive() for t in threads))


def _sleep_until(t: float, sleep: Callable[[float], None] = time.sleep) -> None:
    sleep(max(0.0, t - time.perf_counter()))


# --- command line -----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("http", "kinesis"))
    parser.add_argument("--fixtures", type=Path, required=True)
    parser.add_argument("--kind", choices=("batches", "singles"), default="batches")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/v1/events")
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--stream", default="")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    data: dict[str, Any] = fixtures.load(args.fixtures)
    if args.mode == "kinesis":
        result = _run_kinesis(args, data["records"])
    else:
        bodies = data[args.kind]
        sizes = data["batch_sizes"] if args.kind == "batches" else [1] * len(bodies)
        try:
            import uvloop
        except ImportError:  # plain asyncio works too, at a little more client CPU
            result = asyncio.run(_run_http(args, bodies, sizes))
        else:
            result = uvloop.run(_run_http(args, bodies, sizes))
    announce("result " + orjson.dumps(asdict(result)).decode())


if __name__ == "__main__":
    main()

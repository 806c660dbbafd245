"""`python -m benchmarks.api`: query API latency under concurrent load, and /v1/query's engine on 10M events.

1. Latency: a private moto server (free port) seeded with --events events of the last 24 h through
   the real speed layer; the API in two uvicorn subprocesses side by side (1 worker each, loopback):
   as configured (identical reads shared for 1 s, `clickstream.api.shared_reads`) and its peer with
   sharing off (CLICKSTREAM_API_CACHE_MS=0); --concurrency clients (httpx, asyncio) for --seconds
   per endpoint and server: /v1/metrics (a minute series of the last hour, an hourly error-rate
   series of 24 h) and /v1/stats. p50/p99 latency, requests/s, and the ratios between the two.
2. SQL: --rows synthetic curated events as local Parquet (10 files, hive dt/hour), queried through
   the endpoint's path minus HTTP: `sqlguard.check_read_only` then `LocalEngine.over(...)`.execute
   (DuckDB; no S3: `LocalEngine.over` on a local dataset). Three typical queries, best and median of 5.
Results go to --out as JSON; a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api.data import seed_realtime, utc_now, write_events_dataset
from benchmarks.ingest.procs import child_env, free_port, start, stop, wait_http
from benchmarks.ingest.stats import percentile

DEFAULT_OUT = Path("benchmarks/results/api.json")
KEY = {"X-API-Key": "local-read-key"}
QUERIES = {
    "events_by_type_one_day": "SELECT event_type, count(*) AS events FROM events WHERE dt = '2026-11-20' "
    "GROUP BY 1 ORDER BY 2 DESC",
    "top_10_pages": "SELECT url, count(*) AS page_views FROM events WHERE event_type = 'page_view' "
    "GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "hourly_error_rate_and_users": "SELECT hour, count(*) AS events, "
    "avg(CASE WHEN http_status >= 400 THEN 1.0 ELSE 0.0 END) AS error_rate, count(DISTINCT user_id) AS users "
    "FROM events GROUP BY 1 ORDER BY 1",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s per endpoint, 5,000 events, 1M rows")
    p.add_argument("--events", type=int, default=20_000, help="events seeded through the speed layer [20000]")
    p.add_argument("--seconds", type=float, default=15.0, help="load per endpoint [15]")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent clients [16]")
    p.add_argument("--rows", type=int, default=10_000_000, help="rows for the SQL part [10000000]")
    p.add_argument("--skip-sql", action="store_true", help="latency part only")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results [{DEFAULT_OUT}]")
    args = p.parse_args(argv)
    if args.quick:
        args.events, args.seconds, args.rows = (
            min(args.events, 5_000),
            min(args.seconds, 3.0),
            min(args.rows, 1_000_000),
        )
    return args


def log(message: str, _t0: float = time.monotonic()) -> None:
    print(f"[{time.monotonic() - _t0:6.1f}s] {message}", file=sys.stderr, flush=True)


async def load(url: str, *, seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=KEY, limits=limits, timeout=30, trust_env=False) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    resp = await client.get(url)
                    ok = resp.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def latency_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    moto_port = free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    env = child_env({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                     "CLICKSTREAM_HOME": str(workdir / "home")})  # fmt: skip
    procs = []
    try:
        moto = start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)], env=env,
                     log=workdir / "moto.log")  # fmt: skip
        procs.append(moto)
        wait_http(f"{endpoint}/moto-api/", moto)
        os.environ.update({k: env[k] for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
        from clickstream.adapters import _clients
        from clickstream.local.provision import provision
        from clickstream.settings import Settings

        _clients.reset_cache()
        settings = Settings.from_env(env)
        provision(settings)
        now = utc_now()
        log(f"seeding {args.events:,} events of the last 24 h through the speed layer")
        seed_realtime(settings, events=args.events, now=now)
        bases = {}
        for variant, cache_ms in (("shared", None), ("unshared", "0")):
            port = free_port()
            variant_env = env if cache_ms is None else {**env, "CLICKSTREAM_API_CACHE_MS": cache_ms}
            api = start(f"api-{variant}", [sys.executable, "-m", "uvicorn", "--factory",
                        "clickstream.api.app:app_from_env", "--host", "127.0.0.1", "--port", str(port),
                        "--log-level", "warning"], env=variant_env, log=workdir / f"api-{variant}.log")  # fmt: skip
            procs.append(api)
            bases[variant] = f"http://127.0.0.1:{port}"
            wait_http(f"{bases[variant]}/healthz", api)
        day_ago = (now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
        paths = {
            "metrics_minute_series_1h": "/v1/metrics/events?granularity=minute",
            "metrics_hourly_error_rate_24h": f"/v1/metrics/error_rate?granularity=hour&from={day_ago}",
            "stats": "/v1/stats?limit=10",
        }
        results: dict[str, Any] = {}
        for name, path in paths.items():
            results[name] = {}
            for variant, base in bases.items():
                asyncio.run(load(base + path, seconds=1.0, concurrency=2))  # warm-up
                log(f"load: {name} ({variant} reads) for {args.seconds:.0f} s at concurrency {args.concurrency}")
                results[name][variant] = asyncio.run(
                    load(base + path, seconds=args.seconds, concurrency=args.concurrency)
                )
            shared, unshared = results[name]["shared"], results[name]["unshared"]
            results[name]["p50_speedup"] = round(unshared["p50_ms"] / max(shared["p50_ms"], 1e-9), 1)
            results[name]["throughput_ratio"] = round(
                shared["requests_per_s"] / max(unshared["requests_per_s"], 1e-9), 1
            )
        return results
    finally:
        for proc in reversed(procs):
            stop(proc)


def sql_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from clickstream.adapters.query.local import LocalEngine
    from clickstream.sqlguard import check_read_only

    log(f"writing {args.rows:,} curated events as local Parquet")
    root = write_events_dataset(workdir / "events", args.rows)
    engine = LocalEngine.over({"events": root})
    out = {}
    for name, sql in QUERIES.items():
        times = []
        rows = 0
        for _ in range(6):  # the first run warms the OS page cache; 5 are timed
            t0 = time.perf_counter()
            safe = check_read_only(sql, engine.tables(), max_rows=1001)
            rows = engine.execute(safe, max_rows=1001, timeout_s=120).num_rows
            times.append((time.perf_counter() - t0) * 1000)
        timed = times[1:]
        out[name] = {"rows_out": rows, "best_ms": round(min(timed), 1), "median_ms": round(statistics.median(timed), 1)}
        log(f"sql {name}: median {out[name]['median_ms']} ms")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = " ".join(["python -m benchmarks.api", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        latency = latency_part(args, workdir)
        sql = {} if args.skip_sql else sql_part(args, workdir)
    result = {"command": command, "cpus": os.cpu_count(), "load": os.getloadavg(), "events": args.events,
              "concurrency": args.concurrency, "seconds": args.seconds, "rows": args.rows,
              "latency": latency, "sql": sql}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\n## API benchmark (`{command}`)\n")
    print(f"Latency, {args.concurrency} concurrent clients, {args.seconds:.0f} s each, 1 uvicorn worker, loopback:\n")
    print("| endpoint | reads | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|")
    for name, r in latency.items():
        for variant in ("shared", "unshared"):
            v = r[variant]
            print(f"| {name} | {variant} | {v['requests_per_s']} | {v['p50_ms']} | {v['p99_ms']} | {v['errors']} |")
        print(f"| {name} | ratio | {r['throughput_ratio']}x | {r['p50_speedup']}x faster | | |")
    if not sql:
        return 0
    print(f"\n/v1/query engine (sqlguard + LocalEngine.over, DuckDB) over {args.rows:,} events:\n")
    print("| query | rows out | best ms | median ms |\n|---|---|---|---|")
    for name, r in sql.items():
        print(f"| {name} | {r['rows_out']} | {r['best_ms']} | {r['median_ms']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

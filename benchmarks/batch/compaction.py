"""Compaction benchmark: N raw events (NDJSON.gz, the archive's format) → Parquet by event hour.

Measured in one run, on the same input:
  ours-s3     `compact_interval` end to end against a private moto server (S3, Glue, DynamoDB)
  ours-s3-nogx  the same without the quality gate (`gate=False`: what the gate costs)
  ours-local  the job's statements (`clickstream.jobs.compact_sql`: stage = parse + gate, counts,
              quarantine, dedupe, publish) on the local engine over the local copy, writing local
              files - the fair pair for Spark
  ours-local-nogx
  duckdb-copy the reference: one DuckDB COPY with its own JSON reader, the same rules as a WHERE,
              first-seen dedupe, dt/hour partitions, the sort, zstd; no verdicts, no quarantine
  spark       pyspark local[2]: read JSON (explicit schema) from the local copy, the same rules as
              SQL filters, dedupe by event_id (first by file, line), partitionBy(dt, hour), sort
              within partitions, zstd. pyspark has no hadoop-aws jars (no Maven offline), so it
              cannot read moto S3: it reads the local copy; its JVM start is reported apart.
  pandas      read_json(lines=True) per object, the same rules as boolean masks, drop_duplicates,
              to_parquet per partition - the plain baseline.
Generated input: `--events` events in objects of 10,000 lines (the archiver's default flush), one
arrival hour, ~1% producer retries (duplicates), ~1% late events (the previous hour), 0.1% rows
that fail a rule.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 11, 22, 10, tzinfo=UTC)
PER_OBJECT = 10_000
UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
)
DEVICES = (("Chrome", "Windows", "Desktop"), ("Mobile Safari", "iOS", "Mobile"), ("Safari", "Mac OS X", "Desktop"))
TYPES = (
    ("page_view",) * 8
    + ("click",) * 5
    + ("scroll", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase")
)


def raw_lines(n: int, *, seed: int = 7) -> Iterator[bytes]:
    """n archive lines (normalised schema v1 events, all fields present) for arrival hour START."""
    rng = random.Random(seed)
    base_ms = int(START.timestamp() * 1000)
    prefixes: dict[int, str] = {}
    recent: list[bytes] = []

    def stamp(ms: int) -> str:
        sec, rest = divmod(ms, 1000)
        prefix = prefixes.get(sec)
        if prefix is None:
            prefix = prefixes[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{prefix}.{rest:03d}Z"

    for i in range(n):
        if recent and rng.random() < 0.01:  # a producer retry: the same event again
            yield rng.choice(recent)
            continue
        ms = base_ms + rng.randrange(3_600_000)
        if rng.random() < 0.01:
            ms -= 3_600_000  # late: it happened in the previous hour
        kind = TYPES[rng.randrange(len(TYPES))]
        ua = rng.randrange(len(UAS))
        browser, os_name, device = DEVICES[ua]
        h = f"{rng.getrandbits(128):032x}"
        user = rng.randrange(100_000)
        commerce = kind in ("add_to_cart", "remove_from_cart", "checkout", "purchase")
        event: dict[str, Any] = {
            "event_id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}",
            "event_type": kind,
            "user_id": f"user-{user}",
            "session_id": f"sess-{user}-{rng.randrange(4)}",
            "timestamp": stamp(ms),
            "url": f"/products/{rng.randrange(2000)}" if commerce else f"/c/{rng.randrange(50)}",
            "referrer": "https://www.example.com/" if rng.random() < 0.2 else None,
            "user_agent": UAS[ua],
            "browser": browser,
            "os": os_name,
            "device": device,
            "ip_address": f"203.0.113.{rng.randrange(256)}".rsplit(".", 1)[0] + ".0",
            "http_status": 404 if rng.random() < 0.02 else 200,
            "product_id": f"p{rng.randrange(2000)}" if commerce else None,
            "order_id": f"o{i}" if kind == "purchase" else None,
            "currency": "EUR" if commerce else None,
            "price": round(rng.uniform(1, 300), 2) if commerce else None,
            "quantity": rng.randrange(1, 4) if commerce else None,
            "duration_ms": rng.randrange(60_000) if kind == "page_view" else None,
            "properties": {"ab": "b", "campaign": f"c{rng.randrange(9)}"} if rng.random() < 0.3 else None,
            "received_at": stamp(ms + 1500),
            "schema_version": 1,
        }
        if rng.random() < 0.001:
            event["http_status"] = 777  # fails the suite: quarantined
        line = orjson.dumps(event)
        if len(recent) < 1000:
            recent.append(line)
        else:
            recent[rng.randrange(1000)] = line
        yield line


@dataclass
class Input:
    directory: Path  # local copy: <dir>/<archive key>
    keys: list[str]
    events: int
    raw_bytes: int  # uncompressed NDJSON
    gz_bytes: int


def write_input(n: int, directory: Path) -> Input:
    from clickstream.emulated.firehose.batching import KINESIS_SEQUENCE_DIGITS, MS_PER_HOUR, object_key

    hour = int(START.timestamp() * 1000) // MS_PER_HOUR
    keys, raw, gz, chunk = [], 0, 0, []
    lines = raw_lines(n)
    position = 0
    while True:
        chunk = [line for _, line in zip(range(PER_OBJECT), lines, strict=False)]
        if not chunk:
            break
        key = object_key("bench", "shardId-000000000000", hour, position, digits=KINESIS_SEQUENCE_DIGITS)
        body = b"".join(line + b"\n" for line in chunk)
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        path = directory / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(packed)
        keys.append(key)
        raw, gz, position = raw + len(body), gz + len(packed), position + len(chunk)
    return Input(directory, keys, n, raw, gz)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.parquet"))


# --- ours: the job's statements on the local copy ----------------------------------------------
BENCH_BUCKET = "bench"
BENCH_RUN = "bench"


def ours_local(inp: Input, out: Path, *, with_gx: bool) -> dict[str, Any]:
    """The compaction job's engine work (`clickstream.jobs.compact_sql`), statement by statement, on
    the local engine over the local copy: stage (parse + gate), counts, quarantine, dedupe, publish.
    What the job adds around it is S3 listing, Glue, copies and manifests (ours-s3)."""
    import pyarrow as pa

    from clickstream.adapters.query.local import LocalEngine
    from clickstream.adapters.query.sources import PATH_COLUMN, object_lines
    from clickstream.adapters.query.unload import JSON_COMPRESSION, JSON_FORMAT, Unload
    from clickstream.jobs import compact_sql as sql
    from clickstream.jobs.compact_write import CURATED_SCHEMA
    from clickstream.quality.compiled import compile_suite
    from clickstream.quality.suite import COLUMNS, load_suite

    timings: dict[str, float] = {}
    last = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        timings[stage] = now - last
        last = now

    hour = (f"{START:%Y-%m-%d}", f"{START:%H}")
    schema = pa.schema(
        [("line", pa.large_string()), ("dt", pa.string()), ("hour", pa.string()), (PATH_COLUMN, pa.string())]
    )

    def batches() -> Iterator[pa.RecordBatch]:
        for key in inp.keys:
            lines = object_lines(gzip.decompress((inp.directory / key).read_bytes()))
            n = len(lines)
            consts = [pa.array([v] * n, pa.string()) for v in (*hour, f"s3://{BENCH_BUCKET}/{key}")]
            yield pa.RecordBatch.from_arrays([lines, *consts], schema=schema)

    params = {"min_event_time": "2026-11-21T10:00:00.000Z", "max_event_time": "2026-11-22T11:05:00.000Z"}
    rules = [r for r in compile_suite(load_suite(), params) if with_gx or r.type == COLUMNS]
    engine = LocalEngine.over({"raw_lines": pa.RecordBatchReader.from_batches(schema, batches())})
    stage = out.parent / f"{out.name}-stage"
    select = sql.stage_select([(hour, k) for k in inp.keys], BENCH_BUCKET, rules)
    engine.execute(Unload(select, f"{stage}/run={BENCH_RUN}/").sql())
    engine.add_source("compaction_batch", stage)
    lap("stage")
    (stats,) = engine.execute(sql.stats_select(rules, BENCH_RUN)).to_pylist()
    for i, rule in enumerate(rules):
        if rule.fails is not None and stats.get(f"u{i}"):
            engine.execute(sql.examples_select(rule, BENCH_RUN))
    lap("validate")
    if stats["quarantined"]:
        select = sql.quarantine_select(BENCH_RUN, BENCH_RUN, BENCH_BUCKET)
        engine.execute(Unload(select, f"{out.parent}/{out.name}-quarantine/", (), JSON_COMPRESSION, JSON_FORMAT).sql())
    lap("quarantine")
    engine.add_source(
        "events", CURATED_SCHEMA.append(pa.field("dt", pa.string())).append(pa.field("hour", pa.string())).empty_table()
    )
    firsts = engine.execute(sql.firsts_select(BENCH_RUN)).to_pylist()
    partitions = [(r["dt"], r["hour"]) for r in firsts]
    engine.execute(sql.counts_select(BENCH_RUN, []))
    lap("dedupe")
    rows = 0
    for n, chunk in enumerate(sql.chunks(partitions)):
        engine.execute(sql.publish_unload(sql.publish_select(BENCH_RUN, [], chunk), f"{out}/{n:03d}/").sql())
    rows = sum(r["n_rows"] for r in firsts)
    lap("write")
    shutil.rmtree(stage, ignore_errors=True)
    return {"rows_out": rows, "quarantined": int(stats["quarantined"] or 0), "timings": timings}


# --- the reference: one plain DuckDB statement, the same rules, no gate ------------------------------
def duckdb_copy(inp: Input, out: Path) -> dict[str, Any]:
    """DuckDB's own JSON reader and COPY: validity rules as a WHERE, first-seen dedupe, dt/hour
    partitions, the curated sort, zstd. No per-row verdicts, no quarantine, no results: the floor
    the engine path is measured against."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    files = ", ".join(f"'{inp.directory / k}'" for k in inp.keys)
    types = ", ".join(f"'{t}'" for t in TYPES)
    con.execute(
        f"""COPY (
        WITH raw AS (
            SELECT *, filename AS _file, row_number() OVER () AS _pos
            FROM read_json([{files}], format = 'newline_delimited', filename = true, ignore_errors = true,
                           columns = {{event_id: 'VARCHAR', event_type: 'VARCHAR', user_id: 'VARCHAR',
                                      session_id: 'VARCHAR', "timestamp": 'TIMESTAMPTZ', url: 'VARCHAR',
                                      referrer: 'VARCHAR', user_agent: 'VARCHAR', browser: 'VARCHAR', os: 'VARCHAR',
                                      device: 'VARCHAR', ip_address: 'VARCHAR', http_status: 'SMALLINT',
                                      product_id: 'VARCHAR', order_id: 'VARCHAR', currency: 'VARCHAR',
                                      price: 'DOUBLE', quantity: 'INTEGER', duration_ms: 'BIGINT', properties: 'JSON',
                                      received_at: 'TIMESTAMPTZ', schema_version: 'TINYINT'}})
        ),
        good AS (
            SELECT * EXCLUDE ("timestamp"), "timestamp" AS event_time FROM raw
            WHERE event_id IS NOT NULL AND user_id IS NOT NULL AND event_type IN ({types})
              AND http_status BETWEEN 100 AND 599 AND coalesce(price >= 0, true) AND coalesce(quantity >= 1, true)
              AND coalesce(duration_ms >= 0, true)
              AND "timestamp" BETWEEN TIMESTAMPTZ '2026-11-21 10:00:00+00' AND TIMESTAMPTZ '2026-11-22 11:05:00+00'
            QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY _file, _pos) = 1
        )
        SELECT * EXCLUDE (_file, _pos), strftime(event_time, '%Y-%m-%d') AS dt, strftime(event_time, '%H') AS hour
        FROM good ORDER BY dt, hour, user_id, session_id, event_time, event_id
    ) TO '{out}' (FORMAT PARQUET, COMPRESSION ZSTD, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE)"""
    )
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchone()
    con.close()
    return {"rows_out": rows}


# --- pandas baseline ------------------------------------------------------------------------------
def pandas_baseline(inp: Input, out: Path) -> dict[str, Any]:
    import pandas as pd

    frames = []
    for key in inp.keys:
        frame = pd.read_json(inp.directory / key, lines=True, compression="gzip", dtype=False, convert_dates=False)
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df["properties"] = [None if not isinstance(p, dict) else orjson.dumps(p).decode() for p in df["properties"]]
    df["event_time"] = pd.to_datetime(df.pop("timestamp"), utc=True, format="ISO8601")
    df["received_at"] = pd.to_datetime(df["received_at"], utc=True, format="ISO8601")
    ok = (
        df["event_id"].notna()
        & df["user_id"].notna()
        & df["event_type"].isin(TYPES)
        & df["http_status"].between(100, 599)
        & ~(df["price"] < 0)
        & ~(df["quantity"] < 1)
        & ~(df["duration_ms"] < 0)
        & df["event_time"].between(pd.Timestamp("2026-11-21T10:00:00Z"), pd.Timestamp("2026-11-22T11:05:00Z"))
    )
    good = df[ok].drop_duplicates("event_id", keep="first")
    hours = good["event_time"].dt.floor("h")
    rows = 0
    for hour, part in good.groupby(hours):
        part = part.sort_values(["user_id", "session_id", "event_time", "event_id"], na_position="last")
        path = out / f"dt={hour:%Y-%m-%d}" / f"hour={hour:%H}" / "part-00000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(path, compression="zstd", index=False)
        rows += len(part)
    return {"rows_out": rows, "quarantined": int((~ok).sum())}


# --- Spark ------------------------------------------------------------------------------------------
def spark_session() -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("clickstream-compaction-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .getOrCreate()
    )


def spark_job(spark: Any, inp: Input, out: Path) -> dict[str, Any]:
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES

    kinds = {"string": T.StringType(), "timestamp": T.StringType(), "json": T.StringType(), "double": T.DoubleType()}
    schema = T.StructType([T.StructField(f, kinds.get(FIELD_TYPES[f], T.LongType())) for f in EVENT_FIELDS])
    paths = [str(inp.directory / k) for k in inp.keys]
    df = spark.read.schema(schema).json(paths).withColumn("_file", F.input_file_name())
    df = df.withColumn("_pos", F.monotonically_increasing_id())
    df = df.withColumn("event_time", F.to_timestamp("timestamp")).drop("timestamp")
    ok = (
        F.col("event_id").isNotNull()
        & F.col("user_id").isNotNull()
        & F.col("event_type").isin(*TYPES)
        & F.col("http_status").between(100, 599)
        & ~F.coalesce(F.col("price") < 0, F.lit(False))
        & ~F.coalesce(F.col("quantity") < 1, F.lit(False))
        & ~F.coalesce(F.col("duration_ms") < 0, F.lit(False))
        & F.col("event_time").between(
            F.lit("2026-11-21 10:00:00").cast("timestamp"), F.lit("2026-11-22 11:05:00").cast("timestamp")
        )
    )
    first = Window.partitionBy("event_id").orderBy("_file", "_pos")
    good = df.where(ok).withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n", "_file", "_pos")
    good = good.withColumn("dt", F.date_format("event_time", "yyyy-MM-dd")).withColumn(
        "hour", F.date_format("event_time", "HH")
    )
    (
        good.repartition("dt", "hour")
        .sortWithinPartitions("user_id", "session_id", "event_time", "event_id")
        .write.mode("overwrite")
        .partitionBy("dt", "hour")
        .parquet(str(out))
    )
    rows = spark.read.parquet(str(out)).count()
    return {"rows_out": rows}


# --- ours end to end on moto ------------------------------------------------------------------------
def ours_s3(inp: Input, *, with_gx: bool, run_id: str) -> dict[str, Any]:
    from clickstream.jobs.compact import compact_interval
    from clickstream.settings import Settings

    settings = Settings.from_env()
    report = compact_interval(settings, START, START + timedelta(hours=1), run_id=run_id, gate=with_gx)
    return {
        "rows_out": report.published,
        "quarantined": report.quarantined,
        "duplicates": report.duplicates,
        "partitions": len(report.partitions),
        "parquet_bytes": report.parquet_bytes,
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def timed(fn: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """(seconds, `fn()`'s result + `rss_start_mb` and `rss_peak_mb`: this process's resident set
    before the run and its highest value during it, sampled every 50 ms from /proc)."""
    import threading

    start_mb = rss_mb()
    peak = [start_mb]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        result = fn()
    finally:
        elapsed = time.perf_counter() - t0
        done.set()
        sampler.join()
    peak[0] = max(peak[0], rss_mb())
    return elapsed, {**result, "rss_start_mb": round(start_mb), "rss_peak_mb": round(peak[0])}


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="clickstream-bench-compaction-"))


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"

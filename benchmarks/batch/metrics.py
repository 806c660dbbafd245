"""Batch metrics benchmark: every `sql/metrics/*.sql` on the local engine beside a pandas groupby of the same.

    .venv/bin/python -m benchmarks.batch metrics                   # 10,000,000 events
    .venv/bin/python -m benchmarks.batch metrics --events 200000   # smoke run
      [--data DIR] [--keep] [--only counters,sessions] [--out benchmarks/results/batch_metrics.json]

`--data DIR` keeps the generated lake in DIR, and a later run with the same `--events` reuses it:
compare two revisions on the same files, in processes that did not just generate 10 M events.

Synthetic events (numpy, seeded; sessions of ~12 events with exponential gaps, a fifth of them
without session_id so the gap sessionization runs) are written as curated Parquet, hive
partitions dt=/hour= as the compaction job lays them out, on LOCAL disk: the engine is
`LocalEngine.over({"events": dir})` (DuckDB's Parquet reader, sqlglot athena→duckdb). No
S3/moto: this measures the SQL, not the object store. pandas reads the same Parquet once (timed
apart) and computes each metric family with vectorised groupbys; the row counts of both are
printed side by side as a sanity check (the exact equality is the unit tests' job:
tests/unit/jobs/test_metrics_sql.py).

The files run in the job's order (`run_order`) and the way the job runs them: a `LIMIT 0` probe
for the columns, then an UNLOAD (`batch_metrics.unload_sql`), here into a local directory that
the files after it read as `metric_<name>` (`engagement`, `funnel` and `commerce` read
`metric_sessions`). The lake is laid out as the compaction job writes it (`write_lake`). Beside each of those, the "resessionized" column times the same file with
`sessions.sql` inlined in place of the table: what the file costs when every file sessionizes
the events again (the layout before 2026-12-06), measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

START, END = date(2026, 11, 22), date(2026, 11, 23)
T0 = np.datetime64("2026-11-21T00:00:00", "ms")  # the day before: sessions across midnight
SPAN_MS = 3 * 86_400_000
TYPES = np.array(["page_view", "click", "scroll", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase"])
TYPE_P = np.array([0.42, 0.2, 0.18, 0.06, 0.07, 0.02, 0.03, 0.02])
GAP = pd.Timedelta(minutes=30)


# --- data -----------------------------------------------------------------------------------

LAKE_MARKER = "_events"  # in a --data directory: the event count of the lake written there


def synthetic(n: int, seed: int = 1) -> pa.Table:
    """`n` curated events (the columns the metric SQL reads) with dt/hour partition columns."""
    rng = np.random.default_rng(seed)
    sessions = max(1, n // 12)
    users = max(1, n // 40)
    per_session = rng.multinomial(n - sessions, np.full(sessions, 1 / sessions)) + 1
    session = np.repeat(np.arange(sessions), per_session)
    start = rng.integers(0, SPAN_MS, sessions)
    gaps = rng.exponential(40_000, n).astype(np.int64)
    first = np.r_[0, np.cumsum(per_session)[:-1]]
    gaps[first] = 0
    offset = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first], per_session)
    when = T0 + (start[session] + offset).astype("timedelta64[ms]")
    user = rng.integers(0, users, sessions)[session]
    anonymous = (rng.random(sessions) < 0.2)[session]
    event_type = TYPES[rng.choice(len(TYPES), n, p=TYPE_P)]
    purchase = event_type == "purchase"
    has_product = np.isin(event_type, ["page_view", "add_to_cart", "purchase"]) & (rng.random(n) < 0.6)
    status = np.where(rng.random(n) < 0.97, 200, np.where(rng.random(n) < 0.7, 404, 500)).astype(np.int16)
    paths = np.array([f"/p/{i}" for i in range(400)] + [f"/c/{i}?page=2" for i in range(100)])
    url = paths[rng.integers(0, len(paths), n)]
    text = np.datetime_as_string(when, unit="ms")
    return pa.table(
        {
            "event_id": pa.array(np.char.add("e", np.arange(n).astype(str))),
            "event_type": pa.array(event_type),
            "user_id": pa.array(np.char.add("u", user.astype(str))),
            "session_id": pa.array(np.char.add("s", session.astype(str)), mask=anonymous),
            "event_time": pa.array(when, type=pa.timestamp("ms", tz="UTC")),
            "url": pa.array(url),
            "http_status": pa.array(status),
            "product_id": pa.array(np.char.add("p", rng.integers(0, 2000, n).astype(str)), mask=~has_product),
            "order_id": pa.array(np.char.add("o", session.astype(str)), mask=~purchase),
            "price": pa.array(np.round(rng.uniform(1, 200, n), 2), mask=~purchase),
            "quantity": pa.array(rng.integers(1, 4, n).astype(np.int32), mask=~purchase | (rng.random(n) < 0.3)),
            "duration_ms": pa.array(rng.integers(0, 60_000, n), mask=rng.random(n) < 0.4),
            "dt": pa.array(np.char.replace(text.astype("U10"), "T", "")),
            "hour": pa.array(_hours(text)),
        }
    )


def _hours(text: np.ndarray) -> np.ndarray:
    return text.astype("U13").view("U1").reshape(len(text), 13)[:, 11:13].copy().view("U2").ravel()


def write_lake(table: pa.Table, root: Path) -> None:
    """As the compaction job lays the curated table out: per (dt, hour) partition, its rows sorted
    (`compact_write.sort_rows`) into files of one row group each, zstd 7 (`parquet_files`).

    (Before 2026-12-07 this was pyarrow's `write_dataset` of the whole table, which left row
    groups of a few hundred rows: scans of such files cost about 4x the job's, see BENCHMARKS.md.)"""
    import pyarrow.compute as pc

    from clickstream.jobs.compact_write import SORT_KEYS, parquet_files

    order = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end") for k in ("dt", "hour", *SORT_KEYS)])
    table = table.take(order)
    keys = pc.binary_join_element_wise(table["dt"], table["hour"], "/")
    counts = pc.value_counts(keys)  # in order of first appearance: the sorted order
    offset = 0
    for entry in counts:
        dt, hour = entry["values"].as_py().split("/")
        n = entry["counts"].as_py()
        part = table.slice(offset, n).drop_columns(["dt", "hour"])
        offset += n
        folder = root / f"dt={dt}" / f"hour={hour}"
        folder.mkdir(parents=True, exist_ok=True)
        for i, body in enumerate(parquet_files(part)):
            (folder / f"part-{i:05d}.parquet").write_bytes(body)


# --- pandas: the same metric families, vectorised -------------------------------------------


def _prepare(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["status"] = df["http_status"].fillna(200).astype(int)
    df["error"] = df["status"] >= 400
    df["url_path"] = df["url"].str.split("?", n=1).str[0].str.split("#", n=1).str[0].str[:256]
    buy = (df["event_type"] == "purchase") & df["price"].notna()
    df["revenue"] = np.where(buy, (df["price"] * df["quantity"].fillna(1)).round(6), 0.0)
    return df


def _in(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["dt"] >= START.isoformat()) & (df["dt"] <= END.isoformat())]


def _sessionize(df: pd.DataFrame) -> pd.DataFrame:
    df = df.sort_values(["user_id", "event_time", "event_id"])
    anon = df["session_id"].isna()
    a = df[anon]
    gap = a.groupby("user_id", sort=False)["event_time"].diff()
    number = (gap.isna() | (gap >= GAP)).astype(int).groupby(a["user_id"], sort=False).cumsum()
    key = df["session_id"].astype(object)
    key[anon] = "i#" + a["user_id"].astype(str) + "#" + number.astype(str)
    return df.assign(session=key)


def _sessions(df: pd.DataFrame) -> pd.DataFrame:
    e = _sessionize(df)
    g = e.groupby("session", sort=False)
    t = e["event_time"]
    t_view = e["event_type"].eq("page_view").pipe(lambda m: t.where(m)).groupby(e["session"]).transform("min")
    t_cart = t.where(e["event_type"].eq("add_to_cart") & (t >= t_view)).groupby(e["session"]).transform("min")
    t_check = t.where(e["event_type"].eq("checkout") & (t >= t_cart)).groupby(e["session"]).transform("min")
    t_buy = t.where(e["event_type"].eq("purchase") & (t >= t_check)).groupby(e["session"]).transform("min")
    step = t_view.notna().astype(int) + t_cart.notna() + t_check.notna() + t_buy.notna()
    kinds = pd.get_dummies(e["event_type"])
    out = pd.DataFrame(
        {
            "dt": g["dt"].min(),
            "first": g["event_time"].min(),
            "last": g["event_time"].max(),
            "events": g.size(),
            "revenue": g["revenue"].sum(),
            "funnel_step": step.groupby(e["session"]).max(),
        }
    )
    for kind in ("page_view", "click", "add_to_cart", "checkout", "purchase"):
        out[kind] = kinds.get(kind, pd.Series(False, index=e.index)).groupby(e["session"]).sum()
    out["duration_ms"] = (out["last"] - out["first"]) / pd.Timedelta(milliseconds=1)
    out["bounce"] = (out["events"] == 1) & (out["page_view"] == 1)
    return _in(out)


def pd_sessions(df: pd.DataFrame) -> pd.DataFrame:
    return _sessions(df)


def pd_engagement(df: pd.DataFrame) -> pd.DataFrame:
    s = _sessions(df).groupby("dt")
    out = s.agg(sessions=("events", "size"), bounces=("bounce", "sum"), duration=("duration_ms", "sum"))
    out = out.join(s[["page_view", "click"]].sum())
    return out.assign(ctr=out["click"] / out["page_view"], pages=out["page_view"] / out["sessions"])


def pd_funnel(df: pd.DataFrame) -> pd.DataFrame:
    s = _sessions(df)
    return pd.DataFrame({f"step{k}": (s["funnel_step"] >= k).groupby(s["dt"]).sum() for k in range(1, 5)})


def pd_commerce(df: pd.DataFrame) -> pd.DataFrame:
    s = _sessions(df)
    conv = (s["purchase"] > 0).groupby(s["dt"]).mean()
    cart = s["add_to_cart"] > 0
    abandon = (cart & (s["purchase"] == 0)).groupby(s["dt"]).sum() / cart.groupby(s["dt"]).sum()
    buys = _in(df[df["event_type"] == "purchase"]).groupby("dt")
    out = pd.DataFrame({"conversion": conv, "abandonment": abandon})
    return out.join(buys.agg(revenue=("revenue", "sum"), orders=("order_id", "nunique")))


def pd_products(df: pd.DataFrame) -> pd.DataFrame:
    p = _in(df[df["product_id"].notna()])
    return pd.crosstab([p["dt"], p["product_id"]], p["event_type"]).join(
        p.groupby(["dt", "product_id"]).agg(revenue=("revenue", "sum"))
    )


def pd_errors(df: pd.DataFrame) -> pd.DataFrame:
    e = _in(df)
    parts = [e.groupby("dt").agg(events=("error", "size"), errors=("error", "sum"))]
    for column in ("status", "url_path"):
        parts.append(e.groupby(["dt", column]).agg(events=("error", "size"), errors=("error", "sum")))
    return pd.concat([p.reset_index(drop=True) for p in parts])


def pd_hourly(df: pd.DataFrame) -> pd.DataFrame:
    e = _sessionize(_in(df))
    return e.groupby(["dt", "hour"]).agg(
        events=("event_id", "size"),
        users=("user_id", "nunique"),
        sessions=("session", "nunique"),
        errors=("error", "sum"),
        revenue=("revenue", "sum"),
    )


def pd_uniques(df: pd.DataFrame) -> pd.DataFrame:
    e = _sessionize(_in(df))
    hours = e.groupby(["dt", "hour"]).agg(
        users=("user_id", "nunique"), sessions=("session_id", "nunique"), all=("session", "nunique")
    )
    days = e.groupby("dt").agg(
        users=("user_id", "nunique"), sessions=("session_id", "nunique"), all=("session", "nunique")
    )
    return pd.concat([hours.reset_index(drop=True), days.reset_index(drop=True)])


def pd_counters(df: pd.DataFrame) -> pd.DataFrame:
    e = _in(df).assign(timed=lambda x: x["duration_ms"].notna())
    sums = {"events": ("event_id", "size"), "errors": ("error", "sum"), "revenue": ("revenue", "sum")}
    sums |= {"duration_ms": ("duration_ms", "sum"), "timed_events": ("timed", "sum")}
    parts = []
    for dim in (None, "event_type", "url_path", "status", "product_id"):
        for window in (["dt", "hour"], ["dt"]):
            keys = window + ([dim] if dim else [])
            parts.append(e.groupby(keys).agg(**sums).reset_index(drop=True))
    buys = e[e["event_type"] == "purchase"]
    parts.append(buys.groupby(["dt", "hour"])["order_id"].nunique().reset_index(drop=True).to_frame())
    return pd.concat(parts[:-1])


PANDAS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "commerce": pd_commerce,
    "counters": pd_counters,
    "engagement": pd_engagement,
    "errors": pd_errors,
    "funnel": pd_funnel,
    "hourly_traffic": pd_hourly,
    "products": pd_products,
    "sessions": pd_sessions,
    "uniques": pd_uniques,
}


# --- run --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument(
        "--data",
        type=Path,
        help="where the Parquet goes (default: a temporary directory); a lake an earlier run wrote there "
        "for the same --events is reused, so runs to compare read the same files",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated Parquet")
    parser.add_argument("--only", help="comma-separated metric names")
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batch_metrics.json"))
    args = parser.parse_args(argv)

    from clickstream.adapters.query.local import LocalEngine
    from clickstream.jobs.batch_metrics import metric_names, metric_sql, result_schema, run_order, unload_sql, upstream

    names = run_order(args.only.split(",") if args.only else metric_names())
    root = args.data or Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    try:
        marker = root / LAKE_MARKER
        if marker.exists() and marker.read_text() == str(args.events):
            print(f"{args.events:,} events: reusing the lake in {root} (written by an earlier run)")
        elif root.exists() and any(root.iterdir()):
            raise SystemExit(f"--data {root} holds something other than a lake of {args.events:,} events: empty it")
        else:
            began = time.perf_counter()
            table = synthetic(args.events)
            generated = time.perf_counter() - began
            began = time.perf_counter()
            write_lake(table, root)
            marker.write_text(str(args.events))
            written = time.perf_counter() - began
            del table
            print(
                f"{args.events:,} events: generated {generated:.1f} s, "
                f"written as Parquet (dt/hour) to {root} {written:.1f} s"
            )
        print("storage: local disk via LocalEngine.over (no S3/moto)")

        engine = LocalEngine.over({"events": root})
        frame = None
        if not args.no_pandas:
            began = time.perf_counter()
            frame = _prepare(ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pandas())
            print(f"pandas: read + prepare {time.perf_counter() - began:.1f} s ({len(frame):,} rows)")
        rows = []
        print(
            f"{'metric':<16}{'sql rows':>10}{'sql s':>9}{'resessionized s':>17}"
            f"{'pandas rows':>13}{'pandas s':>10}{'pandas/sql':>12}"
        )
        out_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-out-"))
        for name in names:
            # the job's path: the LIMIT 0 probe for the table's columns, then the UNLOAD, here into
            # a local directory that the files after it read as metric_<name>
            began = time.perf_counter()
            schema = result_schema(engine, metric_sql(name, START, END))
            location = out_dir / name
            engine.execute(unload_sql(name, START, END, schema.names, f"{location}/"))
            sql_s = time.perf_counter() - began
            engine.add_source(f"metric_{name}", location)
            result = engine.execute(f"SELECT count(*) AS n FROM metric_{name}")
            result_rows = result.column("n")[0].as_py()
            again_s = None
            if upstream(name) == {"sessions"}:
                inlined = f"FROM ({metric_sql('sessions', START, END)}) AS metric_sessions"
                began = time.perf_counter()
                engine.execute(metric_sql(name, START, END).replace("FROM metric_sessions", inlined))
                again_s = time.perf_counter() - began
            pd_rows, pd_s = None, None
            if frame is not None and name in PANDAS:
                began = time.perf_counter()
                pd_rows = len(PANDAS[name](frame))
                pd_s = time.perf_counter() - began
            ratio = f"{pd_s / sql_s:.2f}x" if pd_s else "-"
            again = f"{again_s:.2f}" if again_s is not None else "-"
            print(
                f"{name:<16}{result_rows:>10,}{sql_s:>9.2f}{again:>17}{pd_rows or 0:>13,}{pd_s or 0:>10.2f}{ratio:>12}"
            )
            rows.append(
                {
                    "metric": name,
                    "sql_rows": result_rows,
                    "sql_s": sql_s,
                    "resessionized_s": again_s,
                    "pandas_rows": pd_rows,
                    "pandas_s": pd_s,
                }
            )
        total = sum(r["sql_s"] for r in rows)
        before = sum(r["resessionized_s"] if r["resessionized_s"] is not None else r["sql_s"] for r in rows)
        print(f"all files: {total:.2f} s; with every session file sessionizing again: {before:.2f} s")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "events": args.events,
                    "storage": "local parquet",
                    "sql_total_s": total,
                    "resessionized_total_s": before,
                    "results": rows,
                },
                indent=2,
            )
        )
        print(f"results: {args.out}")
    finally:
        if not args.keep and args.data is None:
            shutil.rmtree(root, ignore_errors=True)
        if "out_dir" in locals():
            shutil.rmtree(out_dir, ignore_errors=True)
    return 0

"""Shared by the stream-consumer integration tests: realistic events, an INDEPENDENT recomputation of
the realtime counters from the events themselves (pandas, not `clickstream.metrics`), and the
counters as DynamoDB holds them.

The recomputation restates docs/METRICS.md "Counters" from scratch: per window (minute, hour, day of
the event's UTC timestamp) and per item (`all`, `type#…`, `status#…`, `url#<path, no query or
fragment, ≤ 256 chars>`, `product#…`): events, errors (status ≥ 400), revenue (Σ price * quantity
of purchases, exact decimals, to the millionth), duration_ms and timed_events; orders = distinct
order ids of purchases, on `all` only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from clickstream.adapters import _clients
from clickstream.adapters.streams import StreamRecord
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Limits, Settings
from clickstream.simulate.generator import SimConfig, generate

ROOT = Path(__file__).resolve().parents[2]
COUNTER_FIELDS = ("events", "errors", "revenue", "orders", "duration_ms", "timed_events")
COUNTER_PK = re.compile(r"^(all|type#.*|status#.*|url#.*|product#.*)$", re.S)
MILLIONTH = Decimal("0.000001")

Counters = dict[tuple[str, str], dict[str, Decimal]]


def make_events(n: int, *, seed: int, users: int = 400, minutes: int = 10, products: int = 16) -> list[dict[str, Any]]:
    """`n` valid, distinct events (no duplicates, none late) stamped over `minutes` ending 5 minutes ago.

    The simulator's catalog is folded to `products` products (ids and their `/p/...` URLs): each
    counter item costs one UpdateItem per batch, and moto takes ~5 ms per UpdateItem, so a
    catalog of hundreds would make these tests measure moto, not the consumer.
    """
    now = datetime.now(UTC)
    span = timedelta(minutes=minutes)
    config = SimConfig(start=now - span - timedelta(minutes=5), users=users, events=n, seed=seed, span=span)
    out = []
    for raw in generate(config):
        result = validate_event(raw, received_at=now, limits=Limits())
        assert result.event is not None, result.errors
        out.append(_fold(result.event, products))
    assert len({e["event_id"] for e in out}) == len(out)
    return out


def _fold(event: dict[str, Any], products: int) -> dict[str, Any]:
    def fold(pid: str) -> str:
        return f"p{int(re.sub(r'[^0-9]', '', pid) or 0) % products}"

    out = dict(event)
    if event.get("product_id") is not None:
        out["product_id"] = fold(event["product_id"])
    url = event.get("url")
    if url and url.startswith("/p/"):
        out["url"] = f"/p/{fold(url.split('/')[2])}"
    return out


def stream_records(events: Sequence[dict[str, Any]]) -> list[StreamRecord]:
    return [StreamRecord(e["user_id"], encode_event(e)) for e in events]


def recompute(records: Iterable[bytes]) -> Counters:
    """The counters the speed layer must hold for these stream records (decoded here, prices exact)."""
    rows = []
    for data in records:
        e = json.loads(data, parse_float=Decimal)  # the price exactly as written on the stream
        ts = e["timestamp"]
        revenue = Decimal(0)
        if e["event_type"] == "purchase" and e.get("price") is not None:
            revenue = (Decimal(e["price"]) * (e.get("quantity") or 1)).quantize(MILLIONTH)
        url = e.get("url")
        rows.append(
            {
                "m": f"m#{ts[:16]}:00Z",
                "h": f"h#{ts[:13]}:00:00Z",
                "d": f"d#{ts[:10]}T00:00:00Z",
                "all": "all",
                "type": f"type#{e['event_type']}",
                "status": f"status#{e['http_status']}",
                "url": None if url is None else "url#" + re.split(r"[?#]", url, maxsplit=1)[0][:256],
                "product": None if e.get("product_id") is None else f"product#{e['product_id'][:256]}",
                "is_error": int(e["http_status"] >= 400),
                "revenue": revenue,
                "duration_ms": e.get("duration_ms"),
                "order_id": e.get("order_id") if e["event_type"] == "purchase" else None,
            }
        )
    df = pd.DataFrame(rows)
    out: Counters = {}
    for dim in ("all", "type", "status", "url", "product"):
        for res in ("m", "h", "d"):
            sub = df[df[dim].notna()]
            grouped = sub.groupby([dim, res], sort=False).agg(
                events=("is_error", "size"),
                errors=("is_error", "sum"),
                revenue=("revenue", lambda s: sum(s, Decimal(0))),
                duration_ms=("duration_ms", "sum"),
                timed_events=("duration_ms", "count"),
            )
            for (pk, sk), row in grouped.iterrows():
                out[(pk, sk)] = {
                    "events": Decimal(int(row["events"])),
                    "errors": Decimal(int(row["errors"])),
                    "revenue": Decimal(row["revenue"]),
                    "orders": Decimal(0),
                    "duration_ms": Decimal(int(row["duration_ms"])),
                    "timed_events": Decimal(int(row["timed_events"])),
                }
    purchases = df[df["order_id"].notna()]
    for res in ("m", "h", "d"):
        for sk, orders in purchases.groupby(res)["order_id"].nunique().items():
            out[("all", str(sk))]["orders"] = Decimal(int(orders))
    return out


def read_counters(settings: Settings) -> Counters:
    """Every counter item of the realtime table (`all`, `type#`, `status#`, `url#`, `product#`)."""
    from boto3.dynamodb.types import TypeDeserializer

    from clickstream.adapters.dynamodb.packed import logical_items

    des = TypeDeserializer().deserialize
    ddb = _clients.client("dynamodb", settings)
    raw_items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=settings.names.realtime_table, ConsistentRead=True):
        raw_items.extend({k: des(v) for k, v in raw.items()} for raw in page["Items"])
    out: Counters = {}
    for (pk, sk), item in logical_items(raw_items).items():
        if COUNTER_PK.match(pk):
            out[(pk, sk)] = {f: Decimal(item.get(f, 0)) for f in COUNTER_FIELDS}
    return out


def other_items(settings: Settings, prefix: str) -> list[str]:
    """pks of realtime items starting with `prefix` (bad#, dup#: none expected for clean input)."""
    from boto3.dynamodb.types import TypeDeserializer

    from clickstream.adapters.dynamodb.packed import logical_items

    des = TypeDeserializer().deserialize
    ddb = _clients.client("dynamodb", settings)
    raw_items: list[dict[str, Any]] = []
    for page in ddb.get_paginator("scan").paginate(TableName=settings.names.realtime_table):
        raw_items.extend({k: des(v) for k, v in raw.items()} for raw in page["Items"])
    return [pk for pk, _ in logical_items(raw_items) if pk.startswith(prefix)]


def assert_counters_equal(actual: Counters, expected: Counters) -> None:
    """Every item, every field, exactly; the message names the first differences."""
    missing = sorted(set(expected) - set(actual))[:5]
    extra = sorted(set(actual) - set(expected))[:5]
    diffs = [(k, actual[k], expected[k]) for k in sorted(set(actual) & set(expected)) if actual[k] != expected[k]]
    assert not missing and not extra and not diffs, (
        f"{len(expected)} items expected, {len(actual)} found; missing {missing}; unexpected {extra}; "
        f"{len(diffs)} differ, e.g. {diffs[:3]}"
    )


def headline(counters: Counters) -> dict[str, Decimal]:
    """A few totals for the test output (day windows: every event counted once)."""
    day = {k: v for k, v in counters.items() if k[1].startswith("d#")}
    return {
        "events": sum((v["events"] for k, v in day.items() if k[0] == "all"), Decimal(0)),
        "errors": sum((v["errors"] for k, v in day.items() if k[0] == "all"), Decimal(0)),
        "revenue": sum((v["revenue"] for k, v in day.items() if k[0] == "all"), Decimal(0)),
    }


# --- consumer processes ---------------------------------------------------------------------------


def spawn(module: str, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m <module> <args>` with our environment (the test's endpoint, topic...), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


class Procs:
    """The consumer processes a test started: whatever happens, none outlives the test."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def spawn(self, module: str, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = spawn(module, *args, log=log, env=env)
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def wait_exit(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"consumer did not drain within {timeout} s:\n{log.read_text()[-4000:]}") from None
    assert rc == 0, f"consumer exited {rc}:\n{log.read_text()[-4000:]}"


def wait_for(predicate: Any, *, timeout: float, what: str, log: Path | None = None, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = f":\n{log.read_text()[-3000:]}" if log else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")
        time.sleep(poll)

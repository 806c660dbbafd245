"""A batch-metrics fixture and the metrics recomputed with pandas straight from docs/METRICS.md.

Nothing here reads sql/metrics: the reference is written from the definitions
(docs/METRICS.md), so a wrong query fails the comparison instead of agreeing with itself.

Fixture: simulator traffic from 2026-11-21 20:00 to 2026-11-24 02:00 (so the interval under test,
2026-11-22..23, has a day before and after), a third of the users with their session_id removed
(sessionized by the 30-minute gap), and hand-made edge cases: a gap of exactly 30 minutes and one
just under, sessions across both midnights, a bounce, a purchase without a page view, funnel steps out of order, status 400, purchases
without order_id / quantity / price, URLs with query strings and fragments, a NULL url, errors.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa

from clickstream.events.validate import validate_event
from clickstream.simulate.generator import SimConfig, generate

START = date(2026, 11, 22)
END = date(2026, 11, 23)
SIM_START = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
GAP = pd.Timedelta(minutes=30)
CENT = Decimal("0.000001")
FUNNEL = ("page_view", "add_to_cart", "checkout", "purchase")

CURATED_TYPES: dict[str, pa.DataType] = {
    "http_status": pa.int16(),
    "price": pa.float64(),
    "quantity": pa.int32(),
    "duration_ms": pa.int64(),
    "schema_version": pa.int8(),
}


# --- fixture --------------------------------------------------------------------------------


def simulated_events(n: int = 3000, *, seed: int = 7, strip_sessions: bool = True) -> list[dict[str, Any]]:
    """Validated simulator events (stored form), every third user's session_id removed."""
    received = SIM_START + timedelta(days=4)
    config = SimConfig(start=SIM_START, events=n, users=max(20, n // 20), seed=seed, span=timedelta(hours=54))
    out = []
    for raw in generate(config):
        event = validate_event(raw, received_at=received).event
        if event is None:
            continue
        if strip_sessions and int(uuid.uuid5(uuid.NAMESPACE_OID, event["user_id"]).hex, 16) % 3 == 0:
            event["session_id"] = None
        out.append(event)
    return _unique_ids(out)


def _unique_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The curated table is deduplicated by event_id; the simulator's retries reuse ids.
    seen: set[str] = set()
    return [e for e in events if not (e["event_id"] in seen or seen.add(e["event_id"]))]  # type: ignore[func-returns-value]


def _ev(when: str, event_type: str, user: str, session: str | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{when}/{event_type}/{user}/{sorted(fields.items())}")),
        "event_type": event_type,
        "user_id": user,
        "session_id": session,
        "timestamp": when,
        "url": "/home",
        "http_status": 200,
        "product_id": None,
        "order_id": None,
        "price": None,
        "quantity": None,
        "duration_ms": None,
    }
    base.update(fields)
    return base


def edge_events() -> list[dict[str, Any]]:
    """Hand-made cases the definitions single out (see the module docstring)."""
    return [
        # gap user: 30 min exactly → a new session; 29:59.999 → the same one
        _ev("2026-11-22T10:00:00.000Z", "page_view", "gap-user"),
        _ev("2026-11-22T10:29:59.999Z", "click", "gap-user", duration_ms=1200),
        _ev("2026-11-22T10:59:59.999Z", "page_view", "gap-user", url="/p/1?ref=mail#top", product_id="p-1"),
        _ev("2026-11-22T11:00:00.000Z", "add_to_cart", "gap-user", product_id="p-1"),
        # across the first midnight: belongs to 2026-11-21, so not in the interval at all
        _ev("2026-11-21T23:50:00.000Z", "page_view", "night-owl"),
        _ev("2026-11-22T00:10:00.000Z", "page_view", "night-owl", url="/search?q=x"),
        # across the last midnight: belongs to 2026-11-23 with its 2026-11-24 events
        _ev("2026-11-23T23:50:00.000Z", "page_view", "late-buyer", "s-late", product_id="p-2"),
        _ev("2026-11-23T23:55:00.000Z", "add_to_cart", "late-buyer", "s-late", product_id="p-2"),
        _ev("2026-11-24T00:05:00.000Z", "checkout", "late-buyer", "s-late", order_id="o-late"),
        _ev(
            "2026-11-24T00:06:00.000Z",
            "purchase",
            "late-buyer",
            "s-late",
            product_id="p-2",
            order_id="o-late",
            price=19.99,
            quantity=3,
        ),
        # a bounce (one page view, nothing else), with a NULL session_id
        _ev("2026-11-22T15:00:00.000Z", "page_view", "bouncer", url=None),
        # a purchase without a page view first, no order id, no quantity; then an error page
        _ev("2026-11-23T08:00:00.000Z", "purchase", "direct", "s-direct", product_id="p-3", price=0.1),
        _ev("2026-11-23T08:00:01.000Z", "checkout", "direct", "s-direct", http_status=503, url="/checkout#pay"),
        _ev("2026-11-23T08:00:02.000Z", "purchase", "direct", "s-direct", product_id="p-3", price=None),
        # one order in two purchase lines (one order), steps at the same instant
        _ev("2026-11-22T20:00:00.000Z", "page_view", "two-lines", "s-two", product_id="p-4"),
        _ev("2026-11-22T20:00:00.000Z", "add_to_cart", "two-lines", "s-two", product_id="p-4"),
        _ev("2026-11-22T20:01:00.000Z", "checkout", "two-lines", "s-two", order_id="o-two"),
        _ev(
            "2026-11-22T20:02:00.000Z",
            "purchase",
            "two-lines",
            "s-two",
            product_id="p-4",
            order_id="o-two",
            price=2.5,
            quantity=2,
        ),
        _ev(
            "2026-11-22T20:02:00.000Z",
            "purchase",
            "two-lines",
            "s-two",
            product_id="p-5",
            order_id="o-two",
            price=1.005,
        ),
        _ev("2026-11-22T20:03:00.000Z", "page_view", "two-lines", "s-two", http_status=404, url="/gone"),
        # steps out of order: checkout before add_to_cart → the ordered funnel stops at add_to_cart
        _ev("2026-11-23T12:00:00.000Z", "page_view", "unordered", "s-unordered"),
        _ev("2026-11-23T12:01:00.000Z", "checkout", "unordered", "s-unordered", http_status=400),
        _ev("2026-11-23T12:02:00.000Z", "add_to_cart", "unordered", "s-unordered"),
        _ev("2026-11-23T12:03:00.000Z", "purchase", "unordered", "s-unordered", price=5.0, order_id="o-u"),
    ]


def fixture_events(n: int = 3000) -> list[dict[str, Any]]:
    return simulated_events(n) + edge_events()


def curated_table(events: list[dict[str, Any]]) -> pa.Table:
    """Events as rows of the curated `events` table: `timestamp` → event_time, dt/hour partitions as strings."""
    rows = []
    for e in events:
        moment = datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        rows.append(
            {
                "event_id": e["event_id"],
                "event_type": e["event_type"],
                "user_id": e["user_id"],
                "session_id": e["session_id"],
                "event_time": moment,
                "url": e["url"],
                "http_status": e["http_status"],
                "product_id": e["product_id"],
                "order_id": e["order_id"],
                "price": e["price"],
                "quantity": e["quantity"],
                "duration_ms": e["duration_ms"],
                "dt": e["timestamp"][:10],
                "hour": e["timestamp"][11:13],
            }
        )
    fields = [
        pa.field(name, CURATED_TYPES.get(name, pa.timestamp("ms", tz="UTC") if name == "event_time" else pa.string()))
        for name in rows[0]
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


# --- the reference: docs/METRICS.md, in pandas -------------------------------------------------


def frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(events)
    df["time"] = pd.to_datetime(df["timestamp"], utc=True)
    df["dt"] = df["time"].dt.strftime("%Y-%m-%d")
    df["hour"] = df["time"].dt.strftime("%H")
    df["status"] = df["http_status"].fillna(200).astype(int)
    df["revenue"] = [_revenue(t, p, q) for t, p, q in zip(df["event_type"], df["price"], df["quantity"], strict=True)]
    df["url_path"] = [None if not isinstance(u, str) else u.split("?")[0].split("#")[0][:256] for u in df["url"]]
    return df


def _revenue(event_type: str, price: Any, quantity: Any) -> Decimal:
    if event_type != "purchase" or price is None or pd.isna(price):
        return Decimal(0)
    qty = 1 if quantity is None or pd.isna(quantity) else int(quantity)
    return (Decimal(repr(float(price))) * qty).quantize(CENT)


def sessionize(df: pd.DataFrame) -> pd.DataFrame:
    """Adds `session`: the session_id, or per user a new session after a gap of 30 minutes or more."""
    df = df.sort_values(["user_id", "time", "event_id"]).copy()
    anonymous = df["session_id"].isna()
    gaps = df[anonymous].groupby("user_id")["time"].diff()
    new = gaps.isna() | (gaps >= GAP)
    number = new.astype(int).groupby(df[anonymous]["user_id"]).cumsum()
    df["session"] = df["session_id"]
    df.loc[anonymous, "session"] = "gap:" + df.loc[anonymous, "user_id"] + ":" + number.astype(str)
    return df


def sessions(df: pd.DataFrame) -> pd.DataFrame:
    """One row per session (all events of the fixture), with its day = the day of its first event."""
    rows = []
    for key, g in sessionize(df).groupby("session", sort=False):
        g = g.sort_values(["time", "event_id"])
        types = list(g["event_type"])
        first, last = g["time"].iloc[0], g["time"].iloc[-1]
        rows.append(
            {
                "session": key,
                "user_id": g["user_id"].iloc[0],
                "dt": first.strftime("%Y-%m-%d"),
                "start_hour": first.strftime("%H"),
                "source": "inferred" if g["session_id"].isna().all() else "session_id",
                "started_at": first,
                "duration_ms": int((last - first) / pd.Timedelta(milliseconds=1)),
                "events": len(types),
                "page_views": types.count("page_view"),
                "clicks": types.count("click"),
                "add_to_carts": types.count("add_to_cart"),
                "checkouts": types.count("checkout"),
                "purchases": types.count("purchase"),
                "is_bounce": types == ["page_view"],
                "funnel_step": _funnel_step(list(zip(g["time"], types, strict=True))),
                "revenue": sum(g["revenue"], Decimal(0)),
            }
        )
    return pd.DataFrame(rows)


def _funnel_step(timeline: list[tuple[pd.Timestamp, str]]) -> int:
    """Ordered funnel: step k needs a step-k event at or after the time step k-1 was reached."""
    reached_at = None
    step = 0
    for name in FUNNEL:
        times = [t for t, kind in timeline if kind == name and (reached_at is None or t >= reached_at)]
        if not times:
            break
        reached_at, step = min(times), step + 1
    return step


def in_interval(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["dt"] >= START.isoformat()) & (df["dt"] <= END.isoformat())]


def engagement(sess: pd.DataFrame) -> pd.DataFrame:
    s = in_interval(sess)
    g = s.groupby("dt")
    out = pd.DataFrame(
        {
            "sessions": g.size(),
            "bounces": g["is_bounce"].sum(),
            "session_duration_ms": g["duration_ms"].sum(),
            "page_views": g["page_views"].sum(),
            "clicks": g["clicks"].sum(),
        }
    )
    out["bounce_rate"] = out["bounces"] / out["sessions"]
    out["avg_session_duration_ms"] = out["session_duration_ms"] / out["sessions"]
    out["pages_per_session"] = out["page_views"] / out["sessions"]
    out["ctr"] = out["clicks"] / out["page_views"]
    return out


def funnel(sess: pd.DataFrame) -> pd.DataFrame:
    s = in_interval(sess)
    g = s.groupby("dt")["funnel_step"]
    return pd.DataFrame(
        {
            "sessions": g.size(),
            "page_view_sessions": g.apply(lambda x: int((x >= 1).sum())),
            "add_to_cart_sessions": g.apply(lambda x: int((x >= 2).sum())),
            "checkout_sessions": g.apply(lambda x: int((x >= 3).sum())),
            "purchase_sessions": g.apply(lambda x: int((x >= 4).sum())),
        }
    )


def commerce(df: pd.DataFrame, sess: pd.DataFrame) -> pd.DataFrame:
    s = in_interval(sess)
    converted = s["purchases"] > 0
    carted = s["add_to_carts"] > 0
    by_session = pd.DataFrame(
        {
            "sessions": s.groupby("dt").size(),
            "converted_sessions": converted.groupby(s["dt"]).sum(),
            "cart_sessions": carted.groupby(s["dt"]).sum(),
            "abandoned_sessions": (carted & ~converted).groupby(s["dt"]).sum(),
        }
    )
    buys = in_interval(df[df["event_type"] == "purchase"])
    by_day = pd.DataFrame(
        {
            "purchases": buys.groupby("dt").size(),
            "revenue": buys.groupby("dt")["revenue"].apply(lambda r: sum(r, Decimal(0))),
            "orders": buys.groupby("dt")["order_id"].nunique(),
        }
    )
    out = by_session.join(by_day, how="outer")
    out["conversion_rate"] = out["converted_sessions"] / out["sessions"]
    out["cart_abandonment_rate"] = out["abandoned_sessions"] / out["cart_sessions"]
    out["aov"] = [float(r) / o if o else None for r, o in zip(out["revenue"], out["orders"], strict=True)]
    return out


def products(df: pd.DataFrame) -> pd.DataFrame:
    p = in_interval(df[df["product_id"].notna()]).copy()
    p["product_id"] = p["product_id"].str[:256]
    rows = []
    for (dt, product), g in p.groupby(["dt", "product_id"]):
        buys = g[g["event_type"] == "purchase"]
        rows.append(
            {
                "dt": dt,
                "product_id": product,
                "views": int((g["event_type"] == "page_view").sum()),
                "add_to_carts": int((g["event_type"] == "add_to_cart").sum()),
                "checkouts": int((g["event_type"] == "checkout").sum()),
                "purchases": len(buys),
                "units": int(buys["quantity"].fillna(1).sum()),
                "revenue": sum(buys["revenue"], Decimal(0)),
                "orders": buys["order_id"].nunique(),
            }
        )
    return pd.DataFrame(rows).set_index(["dt", "product_id"])


def errors(df: pd.DataFrame) -> pd.DataFrame:
    e = in_interval(df).copy()
    e["error"] = e["status"] >= 400
    parts = []
    for dimension, column in (("all", None), ("status", "status"), ("url", "url_path")):
        sub = e if column is None else e[e[column].notna()]
        values = "all" if column is None else sub[column].astype(str)
        g = sub.assign(value=values).groupby(["dt", "value"])
        part = pd.DataFrame({"events": g.size(), "errors": g["error"].sum()}).reset_index()
        part["dimension"] = dimension
        parts.append(part)
    out = pd.concat(parts).set_index(["dt", "dimension", "value"]).sort_index()
    out["error_rate"] = out["errors"] / out["events"]
    return out


def hourly(df: pd.DataFrame) -> pd.DataFrame:
    e = in_interval(sessionize(df))
    g = e.groupby(["dt", "hour"])
    buys = e[e["event_type"] == "purchase"]
    return pd.DataFrame(
        {
            "events": g.size(),
            "page_views": g["event_type"].apply(lambda t: int((t == "page_view").sum())),
            "users": g["user_id"].nunique(),
            "sessions": g["session"].nunique(),
            "errors": g["status"].apply(lambda s: int((s >= 400).sum())),
            "revenue": g["revenue"].apply(lambda r: sum(r, Decimal(0))),
            "orders": buys.groupby(["dt", "hour"])["order_id"].nunique(),
        }
    ).fillna({"orders": 0})


def uniques(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """sk → {users, sessions (distinct session_id), sessions_with_inferred}."""
    e = in_interval(sessionize(df))
    out: dict[str, dict[str, int]] = {}
    for keys, g in list(e.groupby(["dt", "hour"])) + list(e.groupby("dt")):
        sk = (
            f"h#{keys[0]}T{keys[1]}:00:00Z"
            if isinstance(keys, tuple) and len(keys) == 2
            else f"d#{_one(keys)}T00:00:00Z"
        )
        out[sk] = {
            "users": g["user_id"].nunique(),
            "sessions": g["session_id"].nunique(),
            "sessions_with_inferred": g["session"].nunique(),
        }
    return out


def _one(keys: Any) -> str:
    return keys[0] if isinstance(keys, tuple) else keys

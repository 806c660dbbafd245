"""The benchmark's input: realistic raw events and the request bodies made from them, built once.

Events come from the simulator (`clickstream.simulate.generate`) when it is importable and
working, else from `builtin_events`, a small deterministic generator of page_view / click /
add_to_cart / purchase events with real-looking user agents and IPs. Everything is serialised
before the clock starts, so the load generator spends its CPU on sockets, not on JSON.
"""

from __future__ import annotations

import pickle
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from clickstream.constants import LOCAL_WRITE_KEY, MAX_BATCH_EVENTS

Event = dict[str, Any]

BATCH_SIZE = MAX_BATCH_EVENTS  # 500 events per /v1/events request: the collector's limit
SPAN = timedelta(minutes=55)  # event times cover [start, start + SPAN): well inside the 24 h lateness
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:146.0) Gecko/20100101 Firefox/146.0",
)
PAGES = ("/", "/c/shoes", "/c/electronics", "/p/sku-1001", "/p/sku-2002", "/p/sku-3003", "/cart", "/search")
REFERRERS = (None, "https://www.google.com/", "https://www.bing.com/", "https://news.example.org/")


@dataclass(frozen=True)
class Fixtures:
    source: str  # "simulator" or "builtin"
    events: list[Event]
    batches: list[bytes]  # {"events": [...]} bodies of BATCH_SIZE events
    singles: list[bytes]  # one event per body
    records: list[tuple[str, bytes]]  # (partition key, data): what PutRecords gets in the direct scenario

    @property
    def batch_sizes(self) -> list[int]:
        return [min(BATCH_SIZE, len(self.events) - i) for i in range(0, len(self.events), BATCH_SIZE)]


def builtin_events(n: int, *, start: datetime, seed: int = 7, users: int = 500) -> list[Event]:
    """`n` raw events, deterministic in (`n`, `start`, `seed`, `users`); timestamps ascend over SPAN."""
    rng = random.Random(seed)
    step = SPAN.total_seconds() / max(n, 1)
    out: list[Event] = []
    for i in range(n):
        user = rng.randrange(users)
        kind = rng.choices(("page_view", "click", "add_to_cart", "purchase"), weights=(70, 20, 7, 3))[0]
        event: Event = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event_type": kind,
            "user_id": f"user-{user:05d}",
            "session_id": f"s-{user:05d}-{i // 200}",
            "timestamp": (start + timedelta(seconds=i * step)).isoformat().replace("+00:00", "Z"),
            "url": rng.choice(PAGES),
            "user_agent": USER_AGENTS[user % len(USER_AGENTS)],
            "ip_address": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "http_status": 200 if rng.random() > 0.02 else 404,
            "duration_ms": rng.randrange(200, 30_000),
            "properties": {"title": "Page", "ab_test": rng.choice(("a", "b"))},
        }
        referrer = rng.choice(REFERRERS)
        if referrer:
            event["referrer"] = referrer
        if kind in ("add_to_cart", "purchase"):
            event.update(product_id=f"sku-{rng.randrange(1000, 4000)}", price=round(rng.uniform(5, 300), 2), quantity=1)
            event["currency"] = "USD"
        if kind == "purchase":
            event["order_id"] = f"o-{i:07d}"
        out.append(event)
    return out


def simulator_events(n: int, *, start: datetime, seed: int = 7, users: int = 2000) -> list[Event]:
    """`n` events from the project's simulator (flat rate; no late events or duplicates)."""
    from clickstream.simulate import SimConfig, generate

    config = SimConfig(start=start, users=users, events=n, seed=seed, span=SPAN, diurnal=False)
    return list(generate(config))


def make_events(n: int, *, start: datetime, seed: int = 7, source: str = "auto") -> tuple[str, list[Event]]:
    """(source used, events): the simulator unless `source="builtin"` or the simulator fails."""
    if source in ("auto", "simulator"):
        try:
            events = simulator_events(n, start=start, seed=seed)
            if len(events) == n:
                return "simulator", events
        except Exception:  # the simulator is someone else's work in progress: never let it sink the run
            if source == "simulator":
                raise
    return "builtin", builtin_events(n, start=start, seed=seed)


def build_fixtures(events: Sequence[Event], source: str) -> Fixtures:
    """Serialise `events` into batch bodies, single-event bodies and PutRecords records."""
    events = list(events)
    batches = [orjson.dumps({"events": events[i : i + BATCH_SIZE]}) for i in range(0, len(events), BATCH_SIZE)]
    singles = [orjson.dumps(e) for e in events]
    records = [(str(e.get("user_id", "")), s) for e, s in zip(events, singles, strict=True)]
    return Fixtures(source, events, batches, singles, records)


def http_request(host: str, port: int, path: str, body: bytes, *, write_key: str = LOCAL_WRITE_KEY) -> bytes:
    """One complete HTTP/1.1 keep-alive POST, ready to write to a socket."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Write-Key: {write_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    content_length: int | None
    chunked: bool
    keep_alive: bool


def parse_response_head(head: bytes) -> ResponseHead:
    """Status and framing of an HTTP/1.1 response head (the bytes up to and including CRLFCRLF)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    keep_alive = parts[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = b"close" not in value.lower()
    return ResponseHead(status, length, chunked, keep_alive)


def save(fixtures: Fixtures, path: Path) -> None:
    """Hand the fixtures to a load-generator process (a file in the run's temp dir)."""
    data = {
        "batches": fixtures.batches,
        "batch_sizes": fixtures.batch_sizes,
        "singles": fixtures.singles,
        "records": fixtures.records,
    }
    path.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))


def load(path: Path) -> dict[str, Any]:
    """What `save` wrote (only ever a file this benchmark wrote itself)."""
    return pickle.loads(path.read_bytes())

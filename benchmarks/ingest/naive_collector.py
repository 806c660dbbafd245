"""The peer: a collector written the way older clickstream tools write one.

    python -m benchmarks.ingest.naive_collector --port 8123 [--workers 2]

FastAPI with a pydantic model per event, and one Kinesis `put_record` per event: no batching.
Written competently in that style, not to lose: sync endpoints (FastAPI runs them in its
thread pool, so a blocking boto3 call never stalls the event loop), one boto3 client per
process with a connection pool as large as the thread pool, the write key checked before the
body is parsed, pydantic v2. What it does not do, because those tools don't: parse user
agents, anonymise IPs, assign deterministic ids, store bad rows. Each event gets
`received_at` and goes to the stream as JSON, keyed by user_id.

Same routes, write key and body shapes as ours (`/v1/events` takes `{"events": [...]}`), so
the same load runs against both. Settings come from the same environment (AWS_ENDPOINT_URL,
CLICKSTREAM_STREAM, CLICKSTREAM_WRITE_KEY).
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from clickstream.constants import EVENT_TYPES, LOCAL_WRITE_KEY, MAX_BATCH_EVENTS

EventType = Literal["page_view", "click", "scroll", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase"]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]


class Event(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown fields ride along

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    event_type: EventType
    user_id: str = Field(min_length=1, max_length=256)
    session_id: str | None = None
    timestamp: datetime
    url: str | None = None
    referrer: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    http_status: int = Field(default=200, ge=100, le=599)
    product_id: str | None = None
    order_id: str | None = None
    currency: str | None = None
    price: float | None = Field(default=None, ge=0)
    quantity: int | None = Field(default=None, ge=1)
    duration_ms: int | None = Field(default=None, ge=0)
    properties: dict[str, Any] = Field(default_factory=dict)


class Batch(BaseModel):
    events: list[Event] = Field(max_length=MAX_BATCH_EVENTS)


class Ack(BaseModel):
    status: str
    accepted: int


class Collector:
    def __init__(self, stream: str, write_key: str, client: Any) -> None:
        self.stream, self.write_key, self.kinesis = stream, write_key, client

    def put(self, event: Event) -> None:
        record = event.model_dump(mode="json")
        record["received_at"] = datetime.now(UTC).isoformat()
        self.kinesis.put_record(StreamName=self.stream, Data=json.dumps(record), PartitionKey=event.user_id)


def create_app() -> FastAPI:
    """The peer app; the boto3 client is made once per worker process, at startup."""
    state: dict[str, Collector] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "kinesis",
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            config=Config(max_pool_connections=40),  # one per thread of FastAPI's pool
        )
        stream = os.environ.get("CLICKSTREAM_STREAM", "clickstream-local-events")
        state["collector"] = Collector(stream, os.environ.get("CLICKSTREAM_WRITE_KEY", LOCAL_WRITE_KEY), client)
        yield

    app = FastAPI(title="naive clickstream collector", lifespan=lifespan)

    def collector(x_write_key: str = Header(default="")) -> Collector:
        c = state["collector"]
        if x_write_key != c.write_key:
            raise HTTPException(status_code=401, detail="invalid write key")
        return c

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/events", response_model=Ack)
    def events(batch: Batch, c: Collector = Depends(collector)) -> Ack:  # noqa: B008 - FastAPI's idiom
        for event in batch.events:
            c.put(event)
        return Ack(status="accepted", accepted=len(batch.events))

    @app.post("/v1/track", response_model=Ack)
    def track(event: Event, c: Collector = Depends(collector)) -> Ack:  # noqa: B008
        c.put(event)
        return Ack(status="accepted", accepted=1)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the naive peer collector (benchmarks only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(
        "benchmarks.ingest.naive_collector:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()

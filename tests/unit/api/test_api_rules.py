"""Pure rules of the API: parameters, the serving rule, metric values, keys, encoders, watermark."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clickstream.api import export, params, serving
from clickstream.api.auth import authorize, check_settings, presented_key
from clickstream.api.errors import ApiError
from clickstream.api.lambda_asgi import route, scope_of
from clickstream.api.service import compaction_watermark
from clickstream.errors import ConfigError
from clickstream.settings import Settings

NOW = datetime(2026, 11, 22, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22", datetime(2026, 11, 22, tzinfo=UTC)),
        ("2026-11-22T14:00:00Z", datetime(2026, 11, 22, 14, tzinfo=UTC)),
        ("2026-11-22T16:00:00+02:00", datetime(2026, 11, 22, 14, tzinfo=UTC)),
        ("2026-11-22T14:00:00", datetime(2026, 11, 22, 14, tzinfo=UTC)),
        ("1795356000", datetime(2026, 11, 22, 14, tzinfo=UTC)),
    ],
)
def test_instants_in_every_accepted_form(text: str, expected: datetime) -> None:
    assert params.parse_instant(text, "from") == expected


@pytest.mark.parametrize("text", ["yesterday", "", "1795356000000", "0.1.0", "1999-12-31"])
def test_bad_instants_are_400(text: str) -> None:
    with pytest.raises(ApiError) as err:
        params.parse_instant(text, "from")
    assert err.value.status == 400 and "from=" in err.value.message


def test_series_range_defaults_and_caps() -> None:
    span = params.series_range(None, None, "m", now=NOW)
    assert (span.start, span.end) == (NOW - timedelta(hours=1), NOW)
    assert len(params.window_sks("m", span)) == 60
    with pytest.raises(ApiError, match="narrow"):
        params.series_range("2026-11-01", "2026-11-22", "m", now=NOW)
    assert params.window_sks("h", params.TimeRange(NOW - timedelta(hours=2), NOW)) == [
        "h#2026-11-22T12:00:00Z",
        "h#2026-11-22T13:00:00Z",
        "h#2026-11-22T14:00:00Z",
    ]


@pytest.mark.parametrize(
    ("text", "pk"),
    [
        (None, "all"),
        ("all", "all"),
        ("type:click", "type#click"),
        ("url:/cart?x=1#top", "url#/cart"),
        ("status:404", "status#404"),
        ("product:sku-1", "product#sku-1"),
    ],
)
def test_dimensions(text: str | None, pk: str) -> None:
    assert params.dimension_pk(text) == pk


def _items(**cells: dict[str, object]) -> dict[tuple[str, str], dict[str, object]]:
    return {tuple(k.split("|")): v for k, v in cells.items()}  # type: ignore[misc]


def test_serving_rule_batch_for_closed_windows_speed_after() -> None:
    sks = ["h#2026-11-22T12:00:00Z", "h#2026-11-22T13:00:00Z"]
    speed = {("all", sks[0]): {"events": Decimal(4), "errors": Decimal(1)}, ("all", sks[1]): {"events": Decimal(2)}}
    batch = {("all", sks[0]): {"events": Decimal(5), "errors": Decimal(2)}}
    spec = serving.metric_spec("error_rate", "all", "h")
    points = serving.build_series(spec, "all", sks, speed, batch, {sks[0]})
    assert [(p.value, p.layer) for p in points] == [(0.4, "batch"), (0.0, "speed")]
    events = serving.build_series(serving.METRICS["events"], "all", sks, speed, batch, {sks[0]})
    assert [p.value for p in events] == [5, 2]


def test_ratio_over_nothing_is_null_and_batch_only_metrics_are_null_when_open() -> None:
    sk = "d#2026-11-22T00:00:00Z"
    assert serving.metric_value(serving.METRICS["aov"], "all", sk, {}, "speed") is None
    points = serving.build_series(serving.METRICS["conversion_rate"], "all", [sk], {}, {}, set())
    assert (points[0].value, points[0].layer) == (None, "speed")


@pytest.mark.parametrize(
    ("metric", "pk", "res", "reason"),
    [("nope", "all", "h", "unknown_metric"), ("orders", "type#click", "h", "invalid_dimension"),
     ("users", "all", "m", "invalid_granularity"), ("bounce_rate", "all", "m", "invalid_granularity")],
)  # fmt: skip
def test_metric_spec_rejections(metric: str, pk: str, res: str, reason: str) -> None:
    with pytest.raises(ApiError) as err:
        serving.metric_spec(metric, pk, res)
    assert err.value.code == reason


def test_read_key_rules() -> None:
    assert presented_key({"X-API-Key": " k "}) == "k"
    assert presented_key({"authorization": "bearer k"}) == "k"
    assert presented_key({"Authorization": "Basic k"}) is None
    authorize({"x-api-key": "read"}, "read")
    with pytest.raises(ApiError) as err:
        authorize({"x-api-key": "write"}, "read")
    assert err.value.status == 401
    with pytest.raises(ConfigError, match="key of its own"):
        check_settings(Settings(read_key="same", write_key="same"))
    with pytest.raises(ConfigError, match="CLICKSTREAM_READ_KEY"):
        check_settings(Settings(read_key=None))


SCHEMA = pa.schema([("event_id", pa.string()), ("event_time", pa.timestamp("ms", tz="UTC")), ("price", pa.float64())])


def _batches(n: int) -> list[pa.RecordBatch]:
    table = pa.table(
        {"event_id": [f"e{i}" for i in range(n)], "event_time": [NOW] * n, "price": [1.5] * n}, schema=SCHEMA
    )
    return table.to_batches(max_chunksize=3)


@pytest.mark.parametrize("n", [0, 1, 7])
def test_encoders_carry_every_row(n: int) -> None:
    ndjson = b"".join(export.ndjson(SCHEMA, _batches(n)))
    assert [orjson.loads(x)["event_id"] for x in ndjson.splitlines()] == [f"e{i}" for i in range(n)]
    if n:
        assert orjson.loads(ndjson.splitlines()[0])["event_time"] == "2026-11-22T14:30:00Z"
    assert len(orjson.loads(b"".join(export.json_array(SCHEMA, _batches(n))))) == n
    assert b"".join(export.csv(SCHEMA, _batches(n))).count(b"\n") == n + 1
    table = pq.read_table(io.BytesIO(b"".join(export.parquet(SCHEMA, _batches(n)))))
    assert table.num_rows == n and table.schema.equals(SCHEMA)


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (None, None),
        ({"status": "success", "interval_end": "2026-11-22T14:00:00Z"}, datetime(2026, 11, 22, 14, tzinfo=UTC)),
        ({"status": "failed", "interval_start": "2026-11-22T13:00:00Z", "interval_end": "2026-11-22T14:00:00Z"},
         datetime(2026, 11, 22, 13, tzinfo=UTC)),
        ({"status": "success", "interval": ["2026-11-22T13:00:00+00:00", "2026-11-22T14:00:00+00:00"]},
         datetime(2026, 11, 22, 14, tzinfo=UTC)),
        ({"status": "success"}, None),
    ],
)  # fmt: skip
def test_compaction_watermark(run: dict[str, object] | None, expected: datetime | None) -> None:
    assert compaction_watermark(run) == expected


def test_lambda_scope_strips_a_named_stage_and_keeps_the_query() -> None:
    event = {
        "rawPath": "/prod/v1/stats",
        "rawQueryString": "limit=2",
        "headers": {"X-API-Key": "k"},
        "cookies": ["a=1"],
        "requestContext": {"stage": "prod", "http": {"method": "get", "sourceIp": "1.2.3.4"}},
    }
    scope = scope_of(event)
    assert (scope["path"], scope["method"], scope["query_string"]) == ("/v1/stats", "GET", b"limit=2")
    assert (b"x-api-key", b"k") in scope["headers"] and (b"cookie", b"a=1") in scope["headers"]
    assert route({"rawPath": "/v1/stats", "requestContext": {"stage": "$default"}}) == "/v1/stats"


def test_an_answer_larger_than_lambda_returns_is_a_413_that_names_the_export_job() -> None:
    from clickstream.api.lambda_asgi import RESPONSE_MAX_BYTES, handle

    def app_of(size: int) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]})
            await send({"type": "http.response.body", "body": b"x" * size})

        return app

    event = {"requestContext": {"http": {"method": "GET", "path": "/v1/export"}}, "rawPath": "/v1/export"}
    fits = handle(app_of(RESPONSE_MAX_BYTES // 2), event)
    assert fits["statusCode"] == 200 and len(fits["body"]) == RESPONSE_MAX_BYTES // 2
    refused = handle(app_of(RESPONSE_MAX_BYTES), event)
    body = orjson.loads(refused["body"])
    assert refused["statusCode"] == 413 and body["error"] == "response_too_large"
    assert "POST /v1/exports" in body["message"] and "6.0 MiB" in body["message"]

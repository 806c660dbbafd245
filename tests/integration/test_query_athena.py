"""AthenaEngine against the moto server: start in the workgroup, poll with backoff, stop on timeout, convert types.

moto runs no SQL: its seeded-results API (`/moto-api/static/athena/query-results`) queues the
rows the next query returns, and its state manager makes executions stay QUEUED/RUNNING for a
number of polls, so the engine's real HTTP round trips are exercised without a fake client.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from clickstream import constants as c
from clickstream.adapters import _clients
from clickstream.adapters.query import AthenaEngine, QueryTimeoutError, query_engine
from clickstream.settings import Settings

COLUMNS = [
    {"Name": "dt", "Label": "dt", "Type": "varchar"},
    {"Name": "events", "Label": "events", "Type": "bigint"},
    {"Name": "revenue", "Label": "revenue", "Type": "decimal", "Precision": 38, "Scale": 6},
    {"Name": "rate", "Label": "rate", "Type": "double"},
    {"Name": "ok", "Label": "ok", "Type": "boolean"},
    {"Name": "day", "Label": "day", "Type": "date"},
    {"Name": "at", "Label": "at", "Type": "timestamp"},
    {"Name": "at_tz", "Label": "at_tz", "Type": "timestamp with time zone"},
    {"Name": "tags", "Label": "tags", "Type": "array"},
]


def _row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def _post(endpoint: str, path: str, body: dict[str, Any]) -> None:
    req = urllib.request.Request(
        f"{endpoint}{path}", data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(req).read()


def _seed(settings: Settings, rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> None:
    body = {"region": settings.region, "results": [{"rows": rows, "column_info": columns}]}
    _post(str(settings.endpoint_url), "/moto-api/static/athena/query-results", body)


@pytest.fixture
def athena_settings(settings: Settings) -> Iterator[Settings]:
    from dataclasses import replace

    yield replace(settings, query_engine="athena")
    _post(str(settings.endpoint_url), "/moto-api/state-manager/unset-transition", {"model_name": "athena::execution"})


def _slow_executions(settings: Settings, polls: int) -> None:
    """Each execution stays in a state for `polls` GetQueryExecution calls (QUEUED -> RUNNING -> SUCCEEDED)."""
    body = {"model_name": "athena::execution", "transition": {"progression": "manual", "times": polls}}
    _post(str(settings.endpoint_url), "/moto-api/state-manager/set-transition", body)


def test_results_are_typed_from_column_info_and_the_header_row_is_skipped(athena_settings: Settings) -> None:
    header = _row(*(col["Label"] for col in COLUMNS))
    _seed(
        athena_settings,
        [
            header,
            _row(
                "2026-11-22",
                "42",
                "12.500000",
                "0.25",
                "true",
                "2026-11-22",
                "2026-11-22 07:00:00.123",
                "2026-11-22 07:00:00.000 UTC",
                "[a, b]",
            ),
            _row("2026-11-23", None, None, "NaN", "false", None, None, None, None),
        ],
        COLUMNS,
    )
    engine = query_engine(athena_settings)
    assert isinstance(engine, AthenaEngine)
    out = engine.execute("SELECT * FROM metric_daily")
    assert out.schema.field("events").type == pa.int64()
    assert out.schema.field("revenue").type == pa.decimal128(38, 6)
    first, second = out.to_pylist()
    assert first == {
        "dt": "2026-11-22",
        "events": 42,
        "revenue": Decimal("12.500000"),
        "rate": 0.25,
        "ok": True,
        "day": date(2026, 11, 22),
        "at": datetime(2026, 11, 22, 7, 0, 0, 123000),
        "at_tz": datetime(2026, 11, 22, 7, tzinfo=UTC),
        "tags": "[a, b]",
    }
    assert second["events"] is None and second["ok"] is False and second["rate"] != second["rate"]  # NaN


def test_query_runs_in_the_workgroup_with_results_under_the_results_prefix(athena_settings: Settings) -> None:
    engine = AthenaEngine(athena_settings)
    execution_id = engine.start("SELECT 1")
    execution = _clients.client("athena", athena_settings).get_query_execution(QueryExecutionId=execution_id)
    q = execution["QueryExecution"]
    assert q["WorkGroup"] == athena_settings.names.athena_workgroup
    assert q["QueryExecutionContext"]["Database"] == athena_settings.names.glue_database
    expected = f"s3://{athena_settings.names.bucket}/{c.ATHENA_RESULTS_PREFIX}/"
    assert q["ResultConfiguration"]["OutputLocation"].startswith(expected)


def test_polling_backs_off_until_the_query_succeeds(athena_settings: Settings) -> None:
    _slow_executions(athena_settings, polls=3)
    _seed(athena_settings, [_row("n"), _row("7")], [{"Name": "n", "Label": "n", "Type": "integer"}])
    pauses: list[float] = []
    engine = AthenaEngine(athena_settings, sleep=pauses.append, first_poll_s=0.1, max_poll_s=0.3)
    out = engine.execute("SELECT count(*) AS n FROM events", timeout_s=60)
    assert out.to_pylist() == [{"n": 7}]
    assert len(pauses) >= 2
    assert pauses[:3] == [0.1, 0.2, 0.3][: len(pauses[:3])]
    assert max(pauses) <= 0.3


def test_timeout_stops_the_query(athena_settings: Settings) -> None:
    _slow_executions(athena_settings, polls=10_000)
    engine = AthenaEngine(athena_settings, first_poll_s=0.05, max_poll_s=0.05)
    with pytest.raises(QueryTimeoutError, match="was stopped") as err:
        engine.execute("SELECT * FROM events", timeout_s=0.3)
    execution_id = str(err.value).split()[2]
    state = _clients.client("athena", athena_settings).get_query_execution(QueryExecutionId=execution_id)
    assert state["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_a_request_deadline_stops_the_query_before_the_platform_would(athena_settings: Settings) -> None:
    from clickstream.deadline import RESPONSE_MARGIN_SECONDS, deadline_in

    _slow_executions(athena_settings, polls=10_000)
    engine = AthenaEngine(athena_settings, first_poll_s=0.05, max_poll_s=0.05)
    athena = _clients.client("athena", athena_settings)
    started = time.monotonic()
    with deadline_in(RESPONSE_MARGIN_SECONDS + 0.4), pytest.raises(QueryTimeoutError, match="was stopped") as err:
        engine.execute("SELECT * FROM events", timeout_s=30)  # the query API's own timeout: 30 s
    assert time.monotonic() - started < 2.0  # stopped at ~0.4 s, leaving the margin to answer
    execution_id = str(err.value).split()[2]
    assert athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]["State"] == "CANCELLED"
    before = athena.list_query_executions()["QueryExecutionIds"]
    with deadline_in(RESPONSE_MARGIN_SECONDS - 1), pytest.raises(QueryTimeoutError, match="no time left"):
        engine.execute("SELECT * FROM events", timeout_s=30)
    assert athena.list_query_executions()["QueryExecutionIds"] == before  # none started without time for it


def test_max_rows_caps_the_rows_returned(athena_settings: Settings) -> None:
    _seed(
        athena_settings,
        [_row("x")] + [_row(str(i)) for i in range(10)],
        [{"Name": "x", "Label": "x", "Type": "bigint"}],
    )
    out = AthenaEngine(athena_settings).execute("SELECT x FROM t", max_rows=3)
    assert out.column("x").to_pylist() == [0, 1, 2]


def test_a_started_query_reports_its_state_until_it_succeeds(athena_settings: Settings) -> None:
    # (an unknown id is Athena's InvalidRequestException; moto answers a 500 instead, so it is not tried here)
    _slow_executions(athena_settings, polls=2)
    engine = AthenaEngine(athena_settings)
    execution_id = engine.start("SELECT 1")
    seen = [engine.state(execution_id) for _ in range(5)]
    assert [s.finished for s in seen[:2]] == [False, False] and seen[-1].succeeded and seen[-1].reason is None

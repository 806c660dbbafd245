"""The Lambda handlers under Powertools: what a Lambda user sees in CloudWatch Logs, and quiet elsewhere.

The handlers run on real-shaped events (tests/events/) with their dependencies in memory; the
stream processor and the collector against moto are tests/integration/test_*_lambda.py.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from clickstream import constants as c
from clickstream.adapters.dynamodb.counters import NullCounters
from clickstream.collector.service import CollectorService
from clickstream.errors import StreamUnavailableError
from clickstream.lambda_context import LambdaContext, lambda_context
from clickstream.settings import Settings
from clickstream.speed.processor import SpeedProcessor
from lambdas import observability
from lambdas.api import handler as api_lambda
from lambdas.collector import handler as collector_lambda
from lambdas.stream_processor import handler as stream_lambda

ROOT = Path(__file__).resolve().parents[3]
EVENTS_DIR = ROOT / "tests" / "events"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e812345678"
POWERTOOLS_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID", "POWERTOOLS_SERVICE_NAME")


@pytest.fixture(autouse=True)
def execution_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test is a new execution environment: no Lambda variables unless it sets them."""
    for name in [*POWERTOOLS_ENV, *(n for n in os.environ if n.startswith("POWERTOOLS_"))]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(c.ENV_STAGE, "test")
    observability.telemetry.cache_clear()
    yield
    observability.telemetry.cache_clear()


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "clickstream-test-fn")  # the runtime sets it; no LAMBDA_TASK_ROOT


def context(function: str) -> LambdaContext:
    return lambda_context(function, region="us-east-1", account="123456789012", request_id=REQUEST_ID, clock=time.time)


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return loaded


def printed(out: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(JSON log lines, the EMF blob of our metrics) that one invocation printed."""
    lines = [json.loads(line) for line in out.splitlines()]
    logs = [line for line in lines if "level" in line]
    (blob,) = [line for line in lines if "_aws" in line and "ColdStart" not in line]
    return logs, blob


def metric_values(blob: dict[str, Any]) -> dict[str, float]:
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == c.METRICS_NAMESPACE
    assert sorted(directive["Dimensions"][0]) == ["service", "stage"] and blob["stage"] == "test"
    return {m["Name"]: blob[m["Name"]] for m in directive["Metrics"]}


class Processor:
    def __init__(self, failures: Sequence[str] = ()) -> None:
        self.failures = failures

    def handle_event(self, event: dict[str, Any], *, on_batch: Any = None) -> dict[str, list[dict[str, str]]]:
        return {"batchItemFailures": [{"itemIdentifier": f} for f in self.failures]}


class KeptBadRows:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def put(self, rows: Sequence[dict[str, Any]], **kw: Any) -> str | None:
        self.rows += rows
        return "key"


class Stream:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def write(self, records: Sequence[Any]) -> None:
        if self.fail:
            raise StreamUnavailableError("throttled")

    def close(self) -> None:
        pass


class BadRows:
    def put(self, rows: Sequence[dict[str, Any]], **kw: Any) -> str | None:
        return "key"


def collector(*, stream_fails: bool = False) -> CollectorService:
    return CollectorService(Settings(write_key=c.LOCAL_WRITE_KEY), Stream(stream_fails), BadRows())


@pytest.mark.usefixtures("in_lambda")
def test_stream_processor_prints_a_json_log_line_and_emf_metrics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the sample Kinesis event (one shard, four records) and a processor that applies it
    monkeypatch.setattr(stream_lambda, "deps", Processor)

    # WHEN Lambda invokes the handler
    response = stream_lambda.handler(event("kinesis_stream_event.json"), context("clickstream-test-stream-processor"))

    # THEN the function's log holds a JSON line with the request id, and one EMF blob
    assert response == {"batchItemFailures": []}
    logs, blob = printed(capsys.readouterr().out)
    (line,) = logs
    assert line["function_request_id"] == REQUEST_ID and line["service"] == c.SERVICE_STREAM_PROCESSOR
    assert (line["level"], line["message"], line["records"], line["batches"]) == ("INFO", "batches applied", 4, 1)
    assert blob["service"] == c.SERVICE_STREAM_PROCESSOR
    assert metric_values(blob) == {
        c.METRIC_BATCHES: [1.0],
        c.METRIC_RECORDS: [4.0],
        c.METRIC_FAILED_BATCHES: [0.0],
        c.METRIC_BAD_ROWS: [0.0],
        c.METRIC_DUPLICATES: [0.0],
    }


@pytest.mark.usefixtures("in_lambda")
def test_stream_processor_counts_the_bad_rows_and_duplicates_the_real_processor_found(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the sample event with its 2nd record a producer retry of the 1st, and its 4th not JSON,
    # applied by the real speed-layer processor (its DynamoDB writes computed, not sent)
    sample = event("kinesis_stream_event.json")
    records = sample["Records"]
    records[1]["kinesis"]["data"] = records[0]["kinesis"]["data"]
    records[3]["kinesis"]["data"] = base64.b64encode(b"not json").decode()
    sink = KeptBadRows()
    monkeypatch.setattr(stream_lambda, "deps", lambda: SpeedProcessor(NullCounters(), sink))

    assert stream_lambda.handler(sample, context("clickstream-test-stream-processor")) == {"batchItemFailures": []}

    logs, blob = printed(capsys.readouterr().out)
    values = metric_values(blob)
    assert (values[c.METRIC_BAD_ROWS], values[c.METRIC_DUPLICATES], values[c.METRIC_RECORDS]) == ([1.0], [1.0], [4.0])
    assert len(sink.rows) == 1 and (logs[0]["bad_rows"], logs[0]["duplicates"]) == (1, 1)


@pytest.mark.usefixtures("in_lambda")
def test_stream_processor_counts_kafka_partitions_and_failed_batches(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(stream_lambda, "deps", lambda: Processor(failures=["15"]))

    response = stream_lambda.handler(event("msk_event.json"), context("clickstream-test-stream-processor"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "15"}]}
    _, blob = printed(capsys.readouterr().out)
    assert metric_values(blob) == {
        c.METRIC_BATCHES: [2.0],
        c.METRIC_RECORDS: [4.0],
        c.METRIC_FAILED_BATCHES: [1.0],
        c.METRIC_BAD_ROWS: [0.0],
        c.METRIC_DUPLICATES: [0.0],
    }


@pytest.mark.usefixtures("in_lambda")
@pytest.mark.parametrize(
    ("stream_fails", "status", "counts"),
    [(False, 200, (2.0, 0.0, 0.0)), (True, 503, (0.0, 0.0, 1.0))],
    ids=["accepted", "stream-unavailable"],
)
def test_collector_counts_what_its_answer_says(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stream_fails: bool,
    status: int,
    counts: tuple[float, float, float],
) -> None:
    monkeypatch.setattr(collector_lambda, "deps", lambda: collector(stream_fails=stream_fails))

    response = collector_lambda.handler(event("apigw_http_v2_events.json"), context("clickstream-test-collector"))

    assert response["statusCode"] == status
    _, blob = printed(capsys.readouterr().out)
    names = (c.METRIC_EVENTS_ACCEPTED, c.METRIC_EVENTS_REJECTED, c.METRIC_UNAVAILABLE)
    assert metric_values(blob) == {name: [value] for name, value in zip(names, counts, strict=True)}


@pytest.mark.usefixtures("in_lambda")
def test_api_counts_the_apps_server_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    app = FastAPI()
    app.get("/healthz")(lambda: {"status": "ok"})
    app.get("/broken")(lambda: JSONResponse({"error": "internal"}, status_code=500))
    monkeypatch.setattr(api_lambda, "deps", lambda: app)
    base = {"version": "2.0", "rawQueryString": "", "headers": {"host": "api"}, "body": None, "isBase64Encoded": False}

    for path, errors in (("/healthz", 0.0), ("/broken", 1.0)):
        http = {"method": "GET", "path": path, "sourceIp": "192.0.2.1"}
        api_lambda.handler({**base, "rawPath": path, "requestContext": {"http": http}}, context("clickstream-test-api"))
        _, blob = printed(capsys.readouterr().out)
        assert metric_values(blob) == {c.METRIC_SERVER_ERRORS: [errors]}


def test_outside_lambda_the_handler_is_quiet_and_needs_no_context(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no Lambda runtime (a local consumer, the demo, a test) and no context
    monkeypatch.setattr(stream_lambda, "deps", Processor)

    # WHEN the handler runs, with every warning an error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = stream_lambda.handler(event("kinesis_stream_event.json"), None)

    # THEN it answers, prints nothing, keeps no metrics for later, and traces nothing
    assert response == {"batchItemFailures": []}
    assert capsys.readouterr().out == ""
    t = observability.telemetry(c.SERVICE_STREAM_PROCESSOR)
    assert not t.metrics.metric_set and t.tracer is None


def test_outside_lambda_powertools_variables_bring_the_output_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setattr(stream_lambda, "deps", Processor)

    stream_lambda.handler(event("kinesis_stream_event.json"), None)

    logs, blob = printed(capsys.readouterr().out)
    assert logs[0]["function_request_id"] and logs[0]["function_name"] == c.SERVICE_STREAM_PROCESSOR
    assert metric_values(blob)[c.METRIC_RECORDS] == [4.0]


def test_other_loggers_named_like_the_service_still_reach_the_functions_log(in_lambda: None) -> None:
    # Powertools' de-duplication filter would drop clickstream.api.* at the root handler (Lambda's).
    seen: list[str] = []
    root_handler = logging.Handler()
    root_handler.emit = lambda record: seen.append(record.name)  # type: ignore[method-assign]
    logging.root.addHandler(root_handler)
    try:
        observability.telemetry(c.SERVICE_API)
        logging.getLogger("clickstream.api.app").warning("query failed")
        observability.telemetry(c.SERVICE_API).logger.warning("printed by Powertools only")
    finally:
        logging.root.removeHandler(root_handler)
    assert seen == ["clickstream.api.app"]


@pytest.mark.parametrize(
    ("environ", "xray_installed"),
    [({}, True), ({"POWERTOOLS_TRACE_DISABLED": "true"}, True), ({"LAMBDA_TASK_ROOT": "/var/task"}, False)],
    ids=["outside-lambda", "disabled", "no-xray-sdk"],
)
def test_no_tracer_is_built_where_nothing_would_be_traced(
    monkeypatch: pytest.MonkeyPatch, in_lambda: None, environ: dict[str, str], xray_installed: bool
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if not xray_installed:
        monkeypatch.setattr(observability, "find_spec", lambda name: None)
    assert observability.telemetry(c.SERVICE_COLLECTOR).tracer is None


_IN_LAMBDA = """
import json, sys
from lambdas.stream_processor import handler as h
h.deps = lambda: type("P", (), {"handle_event": lambda self, e, on_batch=None: {"batchItemFailures": []}})()
print(json.dumps(h.handler(json.load(open(sys.argv[1])), None)))
from lambdas.observability import telemetry
print(json.dumps({"tracer": not telemetry("stream-processor").tracer.disabled}))
"""


def test_in_lambda_with_xray_the_handler_is_traced() -> None:
    # A process of its own: the X-Ray SDK patches botocore for the rest of the process.
    env = {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": "clickstream-test-stream-processor",
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",  # UDP to nowhere: segments are sent and lost
    }
    args = [sys.executable, "-W", "error::UserWarning", "-c", _IN_LAMBDA, str(EVENTS_DIR / "kinesis_stream_event.json")]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    *_, response, tracer = result.stdout.splitlines()
    assert json.loads(response) == {"batchItemFailures": []} and json.loads(tracer) == {"tracer": True}

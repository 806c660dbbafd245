"""The batch layer under a real Airflow (api-server + scheduler + dag-processor, as `clickstream
airflow serve` runs them) against the test's AWS server: a run triggered through the REST API the
UI uses compacts raw archive objects into curated Parquet + Glue, the asset it emits schedules
batch_metrics, whose asset schedules reconciliation; a backfill over a range is idempotent; and
stopping the supervisor leaves no process behind (checked when the module's Airflow stops)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from clickstream.adapters import _clients
from clickstream.adapters.glue import glue_catalog
from clickstream.adapters.s3 import LakeBucket
from clickstream.catalog import EVENTS_TABLE
from clickstream.constants import CURATED_EVENTS_PREFIX
from clickstream.emulated.firehose.batching import KINESIS_SEQUENCE_DIGITS, object_key
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.local.airflow import LOG_SERVER_OFFSET, health, is_healthy
from clickstream.local.airflow_api import AirflowApi, AirflowApiError
from clickstream.local.processes import port_is_free
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # a real Airflow, its API server and scheduler

START_TIMEOUT = 180.0  # first start: SQLite migration (~5 s idle, a minute on a busy 2-core box)
RUN_TIMEOUT = 120.0
# A backfill reprocesses every hour of its range, each a task process importing GX and pyarrow: with
# the other test worker busy on the same 2 cores, a second backfill of 2 hours took over 120 s once.
# A safety net against a hung scheduler, not a speed goal.
BACKFILL_TIMEOUT = 300.0


@dataclass
class Airflow:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    home: Path

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The REST API through the CLI's client (it retries SQLite's 503 "database is locked")."""
        return AirflowApi(self.url).call(method, path, body)

    def wait(self, what: str, probe: Any, timeout: float = RUN_TIMEOUT) -> Any:
        """Poll `probe` (bounded) until it returns something truthy; fail with the logs otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Airflow exited while waiting for {what}:\n{self.log.read_text()[-4000:]}")
            got = probe()
            if got:
                return got
            time.sleep(0.5)
        pytest.fail(f"{what}: not within {timeout:.0f} s\n{self.log.read_text()[-4000:]}")

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        state = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    def task_log(self, dag_id: str, run_id: str) -> str:
        logs = sorted(self.home.glob(f"logs/dag_id={dag_id}/run_id={run_id}/**/*.log"))
        return "\n".join(p.read_text()[-3000:] for p in logs)


def _free_port() -> int:
    """A free port whose log-server neighbour (port + 713) is free too; never 8080."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + LOG_SERVER_OFFSET < 65536 and port_is_free("127.0.0.1", port + LOG_SERVER_OFFSET):
            return port
    raise AssertionError("no free port pair")


@pytest.fixture(scope="module")
def airflow(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    """One Airflow for the module (starting one is the slow part) on a free port, against the
    session's AWS server; each test's `settings` fixture wipes and provisions that server."""
    tmp = tmp_path_factory.mktemp("airflow")
    port = _free_port()
    log = tmp / "airflow.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKSTREAM_", "AIRFLOW"))}
    env |= {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "NO_PROXY": "127.0.0.1,localhost",
        "CLICKSTREAM_HOME": str(tmp / ".clickstream"),
        "CLICKSTREAM_AIRFLOW_PORT": str(port),
        # the DAG starts this hour: no catch-up run, the scheduler only runs what the test asks for
        # (and Airflow creates no task for a manual run before the start date; backfills are exempt)
        "CLICKSTREAM_BATCH_START": _this_hour().isoformat(),
        "CLICKSTREAM_ARCHIVE_SETTLE_SECONDS": "0",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clickstream", "airflow", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Airflow(f"http://127.0.0.1:{port}", proc, log, tmp / ".clickstream" / "airflow")
    try:
        server.wait("a healthy Airflow", lambda: _healthy(server.url), timeout=START_TIMEOUT)
        server.wait("the DAGs parsed", lambda: _dag_ids(server) >= {"compact_raw_events", "batch_metrics"})
        yield server
    finally:
        left = _stop(proc)
    # stopping the supervisor ends the api-server, scheduler, dag-processor and every worker
    assert left == [], f"left running after SIGTERM to the supervisor: {left}"


def _this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _healthy(url: str) -> bool:
    return is_healthy(health(url))


def _stop(proc: subprocess.Popen[bytes]) -> list[str]:
    """SIGTERM the supervisor only (stricter than `local down`, which signals the whole group);
    returns what is still running in its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    left = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(p.pid) == proc.pid and p.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(p.info["cmdline"] or []))
        except (OSError, psutil.Error):
            continue
    if left:  # do not leak into other tests, but report it
        os.killpg(proc.pid, signal.SIGKILL)
    return left


def _archive_hour(settings: Settings, hour: datetime, n: int) -> set[str]:
    """Write `n` valid events (and one producer retry duplicate) the way the archiver does."""
    received = hour + timedelta(minutes=5)
    events = []
    for i in range(n):
        raw = {"user_id": f"u{i % 7}", "event_type": "page_view", "url": f"/p/{i}", "timestamp": received.isoformat()}
        result = validate_event(raw, received_at=received)
        assert result.ok and result.event is not None, result.errors
        events.append(result.event)
    lines = [encode_event(e) for e in [*events, events[0]]]
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    epoch_hour = int(hour.timestamp()) // 3600
    key = object_key("kinesis", "shardId-000000000000", epoch_hour, 1, digits=KINESIS_SEQUENCE_DIGITS)
    bucket.put_ndjson_gz(key, lines)
    return {e["event_id"] for e in events}


def _curated(settings: Settings, hour: datetime) -> list[str]:
    """The Parquet keys of the hour's current version: under its Glue location (ADR 0008)."""
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    locations = glue_catalog(settings).partition_locations(
        settings.names.glue_database, EVENTS_TABLE, days=[f"{hour:%Y-%m-%d}"]
    )
    location = locations.get((f"{hour:%Y-%m-%d}", f"{hour:%H}"))
    if location is None:
        return []
    prefix = location.removeprefix(f"s3://{settings.names.bucket}/")
    assert prefix.startswith(f"{CURATED_EVENTS_PREFIX}/v="), location
    return sorted(k for k in bucket.list_keys(prefix) if k.endswith(".parquet"))


def _curated_ids(settings: Settings, hour: datetime) -> list[str]:
    import pyarrow.parquet as pq

    s3 = _clients.client("s3", settings)
    ids: list[str] = []
    for key in _curated(settings, hour):
        body = s3.get_object(Bucket=settings.names.bucket, Key=key)["Body"].read()
        ids += pq.read_table(__import__("io").BytesIO(body), columns=["event_id"]).column("event_id").to_pylist()
    return sorted(ids)


def _glue_partitions(settings: Settings) -> list[dict[str, str]]:
    return glue_catalog(settings).partitions(settings.names.glue_database, EVENTS_TABLE)


def test_ui_trigger_compacts_into_s3_and_glue_then_assets_run_metrics_and_reconciliation(
    settings: Settings, airflow: Airflow
) -> None:
    # GIVEN the archive holds the hour that just ended
    logical = _this_hour()
    hour = logical - timedelta(hours=1)
    ids = _archive_hour(settings, hour, 40)

    # WHEN it is triggered as the UI does: unpause, POST a run with a logical date
    airflow.api("PATCH", "/api/v2/dags/compact_raw_events", {"is_paused": False})
    run = airflow.api("POST", "/api/v2/dags/compact_raw_events/dagRuns", {"logical_date": logical.isoformat()})
    # a manual run covers the last complete hour before its logical date
    assert _utc(run["data_interval_start"]) == hour and _utc(run["data_interval_end"]) == logical
    state = airflow.wait("compact_raw_events", lambda: airflow.run_state("compact_raw_events", run["dag_run_id"]))

    # THEN the curated partition exists in S3 and Glue with every event once
    assert state == "success", airflow.task_log("compact_raw_events", run["dag_run_id"])
    assert _curated_ids(settings, hour) == sorted(ids)
    assert {"dt": f"{hour:%Y-%m-%d}", "hour": f"{hour:%H}"} in _glue_partitions(settings)
    # AND the asset event scheduled batch_metrics for the day it touched
    runs = airflow.wait("a batch_metrics run", lambda: _runs(airflow, "batch_metrics"))
    assert runs[0]["run_type"] == "asset_triggered"
    metrics_state = airflow.wait("batch_metrics", lambda: airflow.run_state("batch_metrics", runs[0]["dag_run_id"]))
    assert metrics_state == "success", airflow.task_log("batch_metrics", runs[0]["dag_run_id"])
    xcom = f"/api/v2/dags/batch_metrics/dagRuns/{runs[0]['dag_run_id']}/taskInstances/compute/xcomEntries/return_value"
    assert airflow.api("GET", xcom)["value"]["days"] == [f"{hour:%Y-%m-%d}"]  # what its asset event carries
    # AND the metrics asset scheduled the reconciliation (waited for: the next test wipes the server)
    recon = airflow.wait("a reconcile run", lambda: _runs(airflow, "reconcile_speed_batch"))
    recon_state = airflow.wait("reconcile", lambda: airflow.run_state("reconcile_speed_batch", recon[0]["dag_run_id"]))
    assert recon_state == "success", airflow.task_log("reconcile_speed_batch", recon[0]["dag_run_id"])


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _runs(airflow: Airflow, dag_id: str) -> list[dict[str, Any]]:
    return list(airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"])


def _dag_ids(airflow: Airflow) -> set[str]:
    return {d["dag_id"] for d in airflow.api("GET", "/api/v2/dags")["dags"]}


def _partition_objects(settings: Settings, hour: datetime) -> dict[str, str]:
    s3 = _clients.client("s3", settings)
    # by file name: a rerun publishes the same files as a new version
    return {
        k.rsplit("/", 1)[1]: s3.head_object(Bucket=settings.names.bucket, Key=k)["ETag"]
        for k in _curated(settings, hour)
    }


def _backfill(airflow: Airflow, first: datetime, last: datetime) -> list[dict[str, Any]]:
    """A backfill as the UI's Backfill dialog creates it (reprocess completed runs); its runs."""
    body = {
        "dag_id": "compact_raw_events",
        "from_date": first.isoformat(),
        "to_date": last.isoformat(),
        "reprocess_behavior": "completed",
        "max_active_runs": 2,
        "dag_run_conf": {},
    }
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        backfill = _post_backfill(airflow, body, first, last)
        if backfill is not None:
            airflow.wait(
                "the backfill",
                lambda b=backfill: airflow.api("GET", f"/api/v2/backfills/{b['id']}")["completed_at"],
                timeout=BACKFILL_TIMEOUT,
            )
            runs = airflow.api("GET", "/api/v2/dags/compact_raw_events/dagRuns?run_type=backfill&limit=100")
            mine = [r for r in runs["dag_runs"] if r.get("backfill_id") in (None, backfill["id"])]
            if mine:
                return mine
        # No backfill of ours was running, or the one found had no runs: SQLite's lock hit while
        # Airflow created its runs (it then removes the backfill, and when that clean-up is locked
        # out too, the scheduler soon marks the run-less backfill completed). Post again.
        if time.monotonic() > deadline:
            pytest.fail(f"no backfill of {first}..{last} with runs within {RUN_TIMEOUT:.0f} s")
        time.sleep(1)


def _post_backfill(airflow: Airflow, body: dict[str, Any], first: datetime, last: datetime) -> dict[str, Any] | None:
    """The backfill this POST created, or the running one of the same range a retried POST
    created (the lock hit after the commit); None when another backfill blocks it."""
    try:
        return dict(airflow.api("POST", "/api/v2/backfills", body))
    except AirflowApiError as exc:
        if exc.status != 409 or "already a running backfill" not in str(exc):
            raise
    listed = airflow.api("GET", "/api/v2/backfills?dag_id=compact_raw_events&limit=100")["backfills"]
    running = [
        b for b in listed if b["completed_at"] is None and _utc(b["from_date"]) == first and _utc(b["to_date"]) == last
    ]
    return running[0] if running else None


@pytest.mark.timeout(2 * BACKFILL_TIMEOUT + 120)  # two backfills, each under its own safety net
def test_backfill_over_a_range_compacts_every_hour_and_a_second_one_rewrites_the_same_bytes(
    settings: Settings, airflow: Airflow
) -> None:
    # GIVEN two archived hours before the DAG's start date
    first = _this_hour() - timedelta(hours=3)
    hours = [first, first + timedelta(hours=1)]
    ids = {h: _archive_hour(settings, h, 25) for h in hours}

    # WHEN a backfill covers them (logical dates = interval starts, both ends inclusive)
    runs = _backfill(airflow, hours[0], hours[-1])

    # THEN each hour was a successful backfill run that published its events exactly once
    done = {_utc(r["data_interval_start"]): r["state"] for r in runs}
    assert done == {h: "success" for h in hours}, runs
    before = {h: _partition_objects(settings, h) for h in hours}
    for h in hours:
        assert _curated_ids(settings, h) == sorted(ids[h])
        assert before[h], f"no curated objects for {h}"

    # WHEN the same range is backfilled again THEN the partitions are byte-identical
    again = _backfill(airflow, hours[0], hours[-1])
    assert {_utc(r["data_interval_start"]): r["state"] for r in again} == {h: "success" for h in hours}, again
    assert {h: _partition_objects(settings, h) for h in hours} == before
    parts = _glue_partitions(settings)
    assert all({"dt": f"{h:%Y-%m-%d}", "hour": f"{h:%H}"} in parts for h in hours), parts


@pytest.mark.timeout(BACKFILL_TIMEOUT + 300)
def test_a_two_day_history_is_backfilled_through_airflow_into_every_hour_with_exact_metrics(
    settings: Settings, airflow: Airflow
) -> None:
    from clickstream.adapters.query import query_engine
    from clickstream.local.history import backfill_history, write_history
    from clickstream.simulate.history import HistoryConfig

    # GIVEN two days of simulated history ending a little after midnight (daily runs, then hourly ones)
    today = _this_hour().replace(hour=0)
    end = today + timedelta(hours=min(2, _this_hour().hour))
    config = HistoryConfig(end=end, duration=timedelta(days=2), users=400, events_per_hour=150, seed=5)
    written = write_history(settings, config, lambda message: None)

    # WHEN it is backfilled through the Airflow REST API, as `clickstream simulate --history` does
    result = backfill_history(AirflowApi(airflow.url), config.start, config.end, lambda message: None)

    # THEN the compaction ran as backfills: the daily DAG a run per whole day, the hourly DAG for today
    daily = result["backfills"][0]
    assert (daily["dag_id"], daily["runs"]) == ("compact_raw_events_daily", 2)
    assert sum(b["runs"] for b in result["backfills"]) == 2 + end.hour
    # every event-time hour of the history has its curated partition in Glue
    parts = {(p["dt"], p["hour"]) for p in _glue_partitions(settings)}
    hours = [config.start + timedelta(hours=i) for i in range(48)]
    assert {(f"{h:%Y-%m-%d}", f"{h:%H}") for h in hours} <= parts
    # the metrics equal an independent computation from the raw archive (deduplicated by event_id)
    bucket = LakeBucket(settings.names.bucket, client=_clients.client("s3", settings))
    events: dict[str, dict[str, Any]] = {}
    for key in bucket.list_keys("raw/events/"):
        for line in bucket.get_ndjson_gz(key):
            event = json.loads(line)
            events.setdefault(event["event_id"], event)
    assert len(events) == written["distinct"]
    by_day: dict[str, dict[str, Any]] = {}
    for event in events.values():
        day = by_day.setdefault(event["timestamp"][:10], {"events": 0, "types": {}, "users": set()})
        day["events"] += 1
        day["types"][event["event_type"]] = day["types"].get(event["event_type"], 0) + 1
        day["users"].add(event["user_id"])
    engine = query_engine(settings)
    try:
        counters = engine.execute("SELECT pk, sk, events FROM metric_counters WHERE sk LIKE 'd#%'").to_pylist()
        uniques = engine.execute("SELECT dt, users FROM metric_uniques WHERE sk LIKE 'd#%'").to_pylist()
        curated = engine.execute("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events").to_pylist()
    finally:
        engine.close()
    assert curated == [{"n": len(events), "ids": len(events)}]
    batch = {(r["pk"], r["sk"][2:12]): r["events"] for r in counters}
    for dt, day in by_day.items():
        assert batch[("all", dt)] == day["events"], dt
        assert {t: batch[(f"type#{t}", dt)] for t in day["types"]} == day["types"], dt
    assert {r["dt"]: r["users"] for r in uniques} == {dt: len(day["users"]) for dt, day in by_day.items()}


def test_a_scheduler_that_dies_is_restarted_and_the_rest_keeps_running(airflow: Airflow) -> None:
    # Airflow on SQLite: a backfill POST that hits the lock half-way can make the scheduler exit
    def schedulers() -> list[psutil.Process]:
        out = []
        for p in psutil.Process(airflow.proc.pid).children():
            try:
                if p.status() != psutil.STATUS_ZOMBIE and "scheduler" in " ".join(p.cmdline()):
                    out.append(p)
            except psutil.Error:  # it ended meanwhile, or is the one being reaped
                continue
        return out

    [first] = schedulers()
    others = {p.pid for p in psutil.Process(airflow.proc.pid).children() if p.pid != first.pid}
    first.kill()
    airflow.wait("a new scheduler", lambda: [p.pid for p in schedulers() if p.pid != first.pid] != [])
    assert others <= {p.pid for p in psutil.Process(airflow.proc.pid).children()}  # api-server, dag-processor
    airflow.wait("a healthy Airflow", lambda: _healthy(airflow.url), timeout=START_TIMEOUT)
    assert airflow.proc.poll() is None

"""The local Airflow's configuration (clickstream.local.airflow): pure parts, no Airflow started."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clickstream.errors import ConfigError
from clickstream.local import airflow as af
from clickstream.local.services import SERVICES, resolve
from clickstream.settings import ResourceNames, Settings


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", endpoint_url="http://127.0.0.1:4999")


def test_env_points_airflow_at_the_repo_dags_sqlite_under_home_and_the_local_endpoint(local: Settings) -> None:
    env = af.airflow_env(local, port=9123)

    home = local.home.resolve() / "airflow"
    assert env["AIRFLOW_HOME"] == str(home)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home}/airflow.db?timeout=30"
    assert Path(env["AIRFLOW__CORE__DAGS_FOLDER"], "compact_raw_events.py").is_file()
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9123/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == str(9123 + af.LOG_SERVER_OFFSET)
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "clickstream.local.airflow_executor.WarmLocalExecutor"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert conn == {
        "conn_type": "aws",
        "login": "test",
        "password": "test",
        "extra": {"region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:4999"},
    }


def test_a_deployed_stage_gets_no_admin_for_all_and_no_test_credentials(local: Settings) -> None:
    dev = replace(local, stage="dev", endpoint_url=None, names=ResourceNames.for_stage("dev"))
    env = af.airflow_env(dev, port=8080)
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS" not in env
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"]) == {"conn_type": "aws", "extra": {"region_name": "us-east-1"}}


def test_port_comes_from_the_environment_with_a_clear_error(local: Settings) -> None:
    assert af.airflow_port(local, {}) == 8080
    assert af.airflow_port(local, {"CLICKSTREAM_AIRFLOW_PORT": "9090"}) == 9090
    with pytest.raises(ConfigError, match="CLICKSTREAM_AIRFLOW_PORT"):
        af.airflow_port(local, {"CLICKSTREAM_AIRFLOW_PORT": "eighty"})


def test_local_batch_start_is_a_few_hours_before_the_first_start_and_then_never_moves(tmp_path: Path) -> None:
    first = af.local_batch_start(tmp_path, now=datetime(2026, 11, 22, 14, 37, tzinfo=UTC))
    assert first == "2026-11-22T11:00:00+00:00"
    assert af.local_batch_start(tmp_path, now=datetime(2026, 12, 1, tzinfo=UTC)) == first


def test_secrets_are_made_once_and_shared(tmp_path: Path) -> None:
    one = af.component_secrets(tmp_path)
    assert set(one) == {"AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"}
    assert len(one["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64  # HS512 wants 64 bytes
    assert af.component_secrets(tmp_path) == one
    assert (tmp_path / "clickstream-secrets.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        ({"metadatabase": "healthy", "scheduler": "healthy", "dag_processor": "healthy", "triggerer": "None"}, True),
        ({"metadatabase": "healthy", "scheduler": "unhealthy", "dag_processor": "healthy"}, False),
        ({"metadatabase": "healthy", "scheduler": "healthy"}, False),
        ({}, False),
    ],
)
def test_healthy_needs_db_scheduler_and_dag_processor(status: dict[str, str], ok: bool) -> None:
    assert af.is_healthy(status) is ok


def test_hours_between_floors_the_start_and_excludes_the_end() -> None:
    hours = af.hours_between(datetime(2026, 11, 22, 9, 30, tzinfo=UTC), datetime(2026, 11, 22, 12, tzinfo=UTC))
    assert [h.hour for h in hours] == [9, 10, 11]
    assert af.hours_between(datetime(2026, 11, 22, 12, tzinfo=UTC), datetime(2026, 11, 22, 12, tzinfo=UTC)) == []


def test_the_stack_runs_airflow_after_the_aws_server_on_its_port(local: Settings) -> None:
    [spec] = [s for s in SERVICES if s.name == "airflow"]
    assert [s.name for s in resolve(SERVICES, ["airflow"])] == ["aws", "airflow"]
    assert spec.bind(local) == ("127.0.0.1", af.airflow_port(local))
    assert spec.command(local, "/py")[:5] == ["/py", "-m", "clickstream", "airflow", "serve"]
    assert spec.port_env == "CLICKSTREAM_AIRFLOW_PORT"
    assert spec.start_timeout >= 60


def test_the_local_executor_imports_the_tasks_libraries_before_its_workers_fork() -> None:
    from airflow.executors.local_executor import LocalExecutor

    from clickstream.local.airflow_executor import WARM_MODULES, WarmLocalExecutor, tasks_inherit_imports, warm_imports

    assert issubclass(WarmLocalExecutor, LocalExecutor)
    assert "great_expectations" in WARM_MODULES and "clickstream.jobs.compact" in WARM_MODULES
    assert tasks_inherit_imports()  # Linux, fork: what this machine and CI run
    # a module that cannot be imported is skipped (and logged); the executor still starts
    took = warm_imports(("json", "clickstream.no_such_module"))
    assert list(took) == ["json"]


def test_the_local_scheduler_checks_for_finished_backfills_every_few_seconds_not_30() -> None:
    import subprocess
    import sys

    # in a child: the patch changes a class of Airflow's for the whole process, as in the scheduler
    script = """
from airflow.utils.event_scheduler import EventScheduler
from clickstream.local.airflow_executor import BACKFILL_CHECK_S, faster_backfill_completion
assert faster_backfill_completion() and faster_backfill_completion()  # twice wraps once
class Runner:
    def _mark_backfills_complete(self): pass
    def adopt_or_reset_orphaned_tasks(self): pass
timers, runner = EventScheduler(), Runner()
timers.call_regular_interval(30, runner._mark_backfills_complete)
timers.call_regular_interval(300.0, runner.adopt_or_reset_orphaned_tasks)
delays = sorted(round(e.time - timers.timefunc()) for e in timers.queue)
assert delays == [round(BACKFILL_CHECK_S), 300], delays
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]

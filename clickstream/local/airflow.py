"""Airflow on a laptop: api-server + scheduler + dag-processor over the repo's `dags/`, SQLite.

`serve()` is a small supervisor (`clickstream airflow serve`, `make airflow`, the `airflow`
service of `clickstream local up`): it migrates the SQLite DB on first start, then runs the three
Airflow processes as its children and ends them all when it is told to stop or one of them
dies. It makes itself a child subreaper, so the LocalExecutor's workers stay its descendants even
when the scheduler exits first: nothing is orphaned. (Not `airflow standalone`: stopping that
leaves its services and workers behind: docs/ENVIRONMENT.md "Airflow: `airflow standalone` leaves
processes behind".)

`run_dags()` runs the batch DAGs for a range of hours in a separate process with `dag.test()`:
no scheduler needed, used by `make demo`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from clickstream import constants as c
from clickstream.errors import ConfigError
from clickstream.local import processes
from clickstream.local.spec import Health, ServiceSpec
from clickstream.local.state import ProcessRecord
from clickstream.settings import Settings

ENV_AIRFLOW_PORT = c.ENV_AIRFLOW_PORT
ENV_BATCH_START = c.ENV_BATCH_START  # read by dags/compact_raw_events.py
AIRFLOW_HOST = "127.0.0.1"
HEALTH_PATH = "/api/v2/monitor/health"
COMPONENTS = ("api-server", "scheduler", "dag-processor")
# SIGTERM, then SIGKILL for what is left: under `clickstream local down`'s 10 s before it SIGKILLs
# the supervisor, so the task processes (in process groups of their own) never outlive it.
STOP_GRACE_SECONDS = 7.0
LOG_SERVER_OFFSET = 713  # 8080 + 713 = 8793
# a scheduler that exits is restarted this many times within RESTART_WINDOW_S, then Airflow stops
SCHEDULER_RESTARTS = 3
RESTART_WINDOW_S = 600.0
LOCAL_CATCHUP_HOURS = 3  # the local default start: this long before Airflow first started
_SECRETS_FILE = "clickstream-secrets.json"
_START_FILE = "clickstream-batch-start"
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def airflow_home(settings: Settings) -> Path:
    return settings.home.resolve() / "airflow"


def dags_folder() -> Path:
    """The repo's `dags/` (next to the package: an editable install or a checkout)."""
    folder = Path(__file__).resolve().parents[2] / "dags"
    if not folder.is_dir():
        raise ConfigError(f"no dags/ folder at {folder}: run from a checkout of the repository (pip install -e .)")
    return folder


def airflow_port(settings: Settings, env: Mapping[str, str] | None = None) -> int:
    """settings.airflow_port when Settings has it, else $CLICKSTREAM_AIRFLOW_PORT, else 8080."""
    if hasattr(settings, "airflow_port"):
        return int(settings.airflow_port)
    raw = (os.environ if env is None else env).get(ENV_AIRFLOW_PORT, "")
    try:
        return int(raw) if raw else c.DEFAULT_AIRFLOW_PORT
    except ValueError as exc:
        raise ConfigError(f"{ENV_AIRFLOW_PORT}={raw!r}: expected a port number") from exc


def airflow_url(settings: Settings, port: int | None = None) -> str:
    return f"http://{AIRFLOW_HOST}:{port or airflow_port(settings)}"


def aws_connection(settings: Settings) -> str:
    """`aws_default` as an AIRFLOW_CONN_ URI-less JSON: the local endpoint and test credentials."""
    extra: dict[str, str] = {"region_name": settings.region}
    conn: dict[str, Any] = {"conn_type": "aws", "extra": extra}
    if settings.endpoint_url:
        extra["endpoint_url"] = settings.endpoint_url
    if settings.is_local:
        conn |= {"login": "test", "password": "test"}
    return json.dumps(conn)


def airflow_env(settings: Settings, *, port: int | None = None, home: Path | None = None) -> dict[str, str]:
    """The Airflow configuration of the local stack, as environment variables (no I/O)."""
    home = home or airflow_home(settings)
    port = port or airflow_port(settings)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # LocalExecutor, with the tasks' libraries imported before its workers fork (airflow_executor)
        "AIRFLOW__CORE__EXECUTOR": "clickstream.local.airflow_executor.WarmLocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor workers: 2 cores here
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{AIRFLOW_HOST}:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://{AIRFLOW_HOST}:{port}",
        "AIRFLOW__API__PORT": str(port),
        # the scheduler's log server; Airflow's default 8793 for 8080, moved along with the port
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + LOG_SERVER_OFFSET),
        # a task's calls to the api-server: 5 s by default, too short on a busy 2-core laptop
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        # SQLite has one writer: wait up to 30 s for the lock (5 s by default) so a CLI command
        # (`backfill create`) next to a busy scheduler does not fail with "database is locked"
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=30",
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(settings),
        "GX_ANALYTICS_ENABLED": "False",
        ENV_AIRFLOW_PORT: str(port),
    }
    if settings.is_local:
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"  # no login on a laptop
    return env


def airflow_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow", *args]


# --- preparing AIRFLOW_HOME ----------------------------------------------------------------------


def component_secrets(home: Path) -> dict[str, str]:
    """JWT and session secrets shared by the three components (made once, kept in AIRFLOW_HOME)."""
    path = home / _SECRETS_FILE
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    home.mkdir(parents=True, exist_ok=True)
    values = {
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(64),
    }
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def local_batch_start(home: Path, *, now: datetime | None = None) -> str:
    """The local stack's first hour to compact: a few hours before Airflow first started here.

    Kept in AIRFLOW_HOME so it does not move. Without it the DAG would catch up from yesterday
    00:00: dozens of runs of empty hours on a laptop whose lake only exists since the stack started.
    """
    path = home / _START_FILE
    try:
        return path.read_text().strip()
    except OSError:
        pass
    first = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    value = (first - timedelta(hours=LOCAL_CATCHUP_HOURS)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")
    return value


def migrate_if_needed(env: Mapping[str, str]) -> bool:
    """`airflow db migrate` unless this Airflow version already migrated the DB; True if it ran."""
    from importlib.metadata import version

    home = Path(env["AIRFLOW_HOME"])
    marker = home / f".migrated-{version('apache-airflow-core')}"
    if marker.exists() and (home / "airflow.db").exists():
        return False
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(airflow_command("db", "migrate"), env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(
            f"`airflow db migrate` failed (AIRFLOW_HOME={home}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    marker.touch()
    return True


def prepared_env(settings: Settings, *, port: int | None = None, home: Path | None = None) -> dict[str, str]:
    """Our environment plus the settings (for the tasks), the Airflow settings and secrets; the DB migrated."""
    env = {**os.environ, **settings_env(settings), **airflow_env(settings, port=port, home=home)}
    env |= component_secrets(Path(env["AIRFLOW_HOME"]))
    if settings.is_local and not env.get(ENV_BATCH_START):
        env[ENV_BATCH_START] = local_batch_start(Path(env["AIRFLOW_HOME"]))
    env |= {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}
    migrate_if_needed(env)
    return env


def login_hint(settings: Settings, port: int | None = None) -> str:
    how = "no login: every local user is admin" if settings.is_local else "log in with your auth manager's user"
    return f"UI at {airflow_url(settings, port)} ({how})"


# --- health ----------------------------------------------------------------------------------------


def health(url: str, *, timeout: float = 6.0) -> dict[str, str]:
    """Component -> status ("healthy", "unhealthy", ...) from /api/v2/monitor/health; {} if no answer.

    The timeout is generous: in the first seconds after a start the scheduler catches up on
    the DAGs' past hours and the dag-processor parses, and on two busy cores the api-server
    then took over 2 s to answer (`local status` called that "no answer": a false alarm).
    """
    doc = processes.http_json(url.rstrip("/") + HEALTH_PATH, timeout=timeout)
    if not isinstance(doc, dict):
        return {}
    return {k: str(v.get("status")) for k, v in doc.items() if isinstance(v, dict)}


def is_healthy(status: Mapping[str, str]) -> bool:
    return all(status.get(k) == "healthy" for k in ("metadatabase", "scheduler", "dag_processor"))


# --- the supervisor ------------------------------------------------------------------------------


class _Stop(Exception):
    pass


def serve(settings: Settings, *, port: int | None = None, notify: Any = print) -> int:
    """Run api-server + scheduler + dag-processor until a signal or a component's exit; end them all."""
    port = port or airflow_port(settings)
    if not processes.port_is_free(AIRFLOW_HOST, port):
        holder = processes.port_holder(port)
        raise ConfigError(
            f"port {port} is already in use{f' by {holder}' if holder else ''}: stop it "
            f"(`clickstream local down` if it is the stack's Airflow) or export {ENV_AIRFLOW_PORT}={port + 1}"
        )
    _become_subreaper()
    got: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        got.append(signum)
        if len(got) == 1:
            raise _Stop

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    children: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
    code = 0
    try:
        env = prepared_env(settings, port=port)

        def start(name: str) -> None:
            args = ("api-server", "-H", AIRFLOW_HOST, "-p", str(port)) if name == "api-server" else (name,)
            popen = subprocess.Popen(airflow_command(*args), env=env, stdin=subprocess.DEVNULL)
            children[popen.pid] = (name, popen)

        for name in COMPONENTS:
            start(name)
        notify(f"Airflow: api-server, scheduler, dag-processor starting; {login_hint(settings, port)}")
        restarts: list[float] = []
        while True:
            pid, status = os.wait()  # a component, or an orphaned worker we adopted as subreaper
            if pid not in children:
                continue
            name = children.pop(pid)[0]
            exit_code = os.waitstatus_to_exitcode(status)
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW_S]
            if name == "scheduler" and len(restarts) < SCHEDULER_RESTARTS:
                # On SQLite a backfill created through the API while the scheduler writes can fail
                # half-way (503 "database is locked"), and the scheduler, holding the rolled-back run,
                # exits (ObjectDeletedError). It resumes where it was, as under any process manager.
                restarts.append(now)
                notify(f"airflow scheduler exited ({exit_code}); restarting it ({len(restarts)}/{SCHEDULER_RESTARTS})")
                start(name)
                continue
            notify(f"airflow {name} exited ({exit_code}); stopping the rest")
            code = 1
            break
    except _Stop:
        notify(f"stopping Airflow (signal {got[0]})")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # finish the cleanup whatever arrives now
        _stop_descendants([p for _, p in children.values()])
    return code


def _become_subreaper() -> None:
    """Orphans of our children are re-parented to us (not init), so we can end and reap them."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _stop_descendants(components: Sequence[subprocess.Popen[bytes]]) -> None:
    import psutil

    me = psutil.Process()
    for popen in components:
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(me.children(recursive=True), timeout=STOP_GRACE_SECONDS)
    for proc in [*alive, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(me.children(recursive=True), timeout=5)
    for popen in components:
        popen.poll()


# --- running the DAGs in-process (make demo) ------------------------------------------------------


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The hour starts of [start, end), start floored to the hour (UTC)."""
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while first < end:
        out.append(first)
        first += timedelta(hours=1)
    return out


def settings_env(settings: Settings) -> dict[str, str]:
    """What a child process needs to rebuild `settings` with `Settings.from_env()`."""
    env = {
        c.ENV_STAGE: settings.stage,
        c.ENV_HOME: str(settings.home.resolve()),
        c.ENV_REGION: settings.region,
        "AWS_DEFAULT_REGION": settings.region,
        c.ENV_BUCKET: settings.names.bucket,
        c.ENV_BATCH_TABLE: settings.names.batch_table,
    }
    if settings.endpoint_url:
        env[c.ENV_ENDPOINT] = settings.endpoint_url
    if settings.is_local:
        env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    return env


def run_dags(settings: Settings, start: datetime, end: datetime, *, home: Path | None = None) -> dict[str, Any]:
    """Compact every hour of [start, end), then batch_metrics and reconcile once for the days covered.

    Runs `clickstream airflow run` in a child process (Airflow reads its configuration when it is
    first imported, so it gets a process of its own) and returns its JSON report: seconds per hour
    and per DAG. Use a `home` of its own while a scheduler runs on the default one (SQLite).
    """
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    command = [sys.executable, "-m", "clickstream", "airflow", "run", "--json"]
    command += ["--start", start.astimezone(UTC).strftime(fmt), "--end", end.astimezone(UTC).strftime(fmt)]
    if home is not None:
        command += ["--airflow-home", str(home)]
    done = subprocess.run(command, env={**os.environ, **settings_env(settings)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError(f"running the DAGs failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_dags_here(start: datetime, end: datetime) -> dict[str, Any]:
    """The in-process part of `run_dags`: AIRFLOW_* must already be in this process's environment."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.state import DagRunState

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise ConfigError(f"DAG import errors: {bag.import_errors}")
    report: dict[str, Any] = {"hours": [], "dags": {}}

    def test(dag_id: str, **kwargs: Any) -> float:
        began = time.perf_counter()
        run = bag.dags[dag_id].test(**kwargs)
        ran = {ti.task_id: ti.state for ti in run.get_task_instances()}
        if run.state != DagRunState.SUCCESS or not ran:  # no task: a logical date before start_date
            raise ConfigError(f"{dag_id} {kwargs}: {run.state}, tasks {ran}; see {os.environ['AIRFLOW_HOME']}/logs")
        return time.perf_counter() - began

    hours = hours_between(start, end)
    for hour in hours:
        # the hour may still be open (the demo's traffic): name the interval in the run's conf, as
        # "Trigger DAG w/ config" does, instead of a logical date in the future
        interval = {"interval_start": hour.isoformat(), "interval_end": (hour + timedelta(hours=1)).isoformat()}
        took = test(
            "compact_raw_events", logical_date=None, run_conf=interval, mark_success_pattern="wait_for_.*"
        )  # fullmatch: the sensor
        report["hours"].append({"hour": hour.isoformat(), "seconds": round(took, 2)})
    if hours:
        days = {"start_date": hours[0].date().isoformat(), "end_date": hours[-1].date().isoformat()}
        for dag_id in ("batch_metrics", "reconcile_speed_batch"):
            report["dags"][dag_id] = round(test(dag_id, logical_date=None, run_conf=days), 2)
    seconds: list[float] = [h["seconds"] for h in report["hours"]]
    # the first hour also pays the one-off imports (GX, pyarrow, DuckDB): report it apart
    report["first_hour_seconds"] = seconds[0] if seconds else None
    report["next_hours_mean_seconds"] = round(sum(seconds[1:]) / len(seconds[1:]), 2) if seconds[1:] else None
    return report


# --- the `airflow` service of `clickstream local up` -----------------------------------------------


def airflow_services() -> tuple[ServiceSpec, ...]:
    """The ServiceSpec appended to `clickstream.local.services.SERVICES`."""

    def check(settings: Settings, record: ProcessRecord | None, now: float) -> Health:
        got = health(airflow_url(settings))
        return Health(is_healthy(got), ", ".join(f"{k} {v}" for k, v in got.items()) or "no answer yet")

    return (
        ServiceSpec(
            name="airflow",
            description="batch layer: Airflow api-server + scheduler + dag-processor over dags/ (UI)",
            command=lambda s, py: [py, "-m", "clickstream", "airflow", "serve", "--port", str(airflow_port(s))],
            health=check,
            depends_on=("aws",),
            bind=lambda s: (AIRFLOW_HOST, airflow_port(s)),
            port_env=ENV_AIRFLOW_PORT,
            url=lambda s: airflow_url(s),
            after_healthy=lambda s: f"airflow: {login_hint(s)}",
            extra_env=lambda s: {ENV_AIRFLOW_PORT: str(airflow_port(s))},
            start_timeout=120.0,  # the first start migrates the SQLite DB
        ),
    )

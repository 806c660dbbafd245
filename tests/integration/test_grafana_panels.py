"""Every Grafana panel's query, run for real (no Grafana server exists here; grafana/emulate.py rewrites the
queries the way Grafana and its plugins do, and is itself checked against the plugins' own test cases).

GIVEN a day of simulated shop traffic pushed through the real layers on a moto server: the speed layer
(SpeedProcessor -> realtime table), the raw archive layout (NDJSON.gz by arrival hour), the real compaction
job (GX, dedupe, Parquet by event hour, Glue partitions) and the real batch-metrics job (sql/metrics/*.sql ->
metric_<name> tables + the batch view), and the real query API app.
THEN
- every Athena panel's SQL, macros expanded, runs on the local engine (Athena SQL via sqlglot on DuckDB)
  and returns rows with the columns the panel draws (a `time` column for time series, numbers for stats);
- every Infinity panel's URL, with the datasource's base URL and read-key header from provisioning,
  answers 200 with a document the panel's root selector and columns parse, and real values in it;
- every PromQL expression (panels and alert rules) reads only metrics that GET /metrics exposes.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from clickstream.adapters.query.local import LocalEngine
from clickstream.adapters.s3 import lake_bucket
from clickstream.api.app import create_app
from clickstream.api.deps import ApiDeps
from clickstream.events.codec import encode_event
from clickstream.events.validate import validate_event
from clickstream.settings import Settings
from clickstream.simulate.generator import SimConfig, generate
from clickstream.speed.batch import InRecord
from clickstream.speed.processor import build_processor

pytestmark = pytest.mark.slow  # every dashboard panel's query on the embedded servers

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
emulate = importlib.import_module("grafana.emulate")

NOW = datetime(2026, 11, 22, 14, 30, 5, tzinfo=UTC)
TRAFFIC_START = NOW - timedelta(hours=3)
RANGE = (NOW - timedelta(hours=4), NOW)  # the dashboards' time range in these tests
SPEED_MINUTES = 30
GRAFANA = ROOT / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def _targets(kind: str) -> Iterator[tuple[str, dict[str, str], dict[str, Any], dict[str, Any]]]:
    """(dashboard file, its variables' defaults, panel, target) for every target of datasource type `kind`."""
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        variables = {v["name"]: v["current"]["value"] for v in board["templating"]["list"]}
        for p in board["panels"]:
            for t in p.get("targets", []):
                if t["datasource"]["type"] == kind:
                    yield path.name, variables, p, t


def _ids(kind: str) -> list[str]:
    return [f"{name}:{p['title']}:{t['refId']}" for name, _, p, t in _targets(kind)]


@pytest.fixture(scope="module")
def lake(aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One provisioned server with a day of traffic in every layer (built once: the jobs take seconds)."""
    from clickstream.jobs.batch_metrics import compute_batch_metrics
    from clickstream.jobs.compact import compact_interval

    settings = _fresh_settings(aws_endpoint, tmp_path_factory.mktemp("grafana"))
    events = _traffic()
    # speed layer, as the stream consumers apply it (arrival = one second after the event); only the last
    # SPEED_MINUTES: the live panels look at the last hour, and moto makes each counter update costly
    processor = build_processor(settings)
    recent = [e for e in events if _parse(e["timestamp"]) >= NOW - timedelta(minutes=SPEED_MINUTES)]
    for i in range(0, len(recent), 500):
        chunk = recent[i : i + 500]
        arrival = max(_parse(e["received_at"]) for e in chunk)
        records = [InRecord(i + n, int(arrival.timestamp() * 1000), encode_event(e)) for n, e in enumerate(chunk)]
        processor.process("shardId-000000000000", records)
    # raw archive by arrival hour, where the archiver writes it
    by_hour: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_hour.setdefault(e["received_at"][:13], []).append(e)
    bucket = lake_bucket(settings)
    for hour, rows in by_hour.items():
        key = (
            f"raw/events/dt={hour[:10]}/hour={hour[11:13]}/kinesis-shardId-000000000000-{rows[0]['event_id']}.ndjson.gz"
        )
        bucket.put_ndjson_gz(key, [encode_event(e) for e in rows])
    # the batch layer's real jobs
    hour0 = TRAFFIC_START.replace(minute=0, second=0, microsecond=0)
    compact_interval(settings, hour0, NOW.replace(minute=0, second=0) + timedelta(hours=1), run_id="grafana-test")
    compute_batch_metrics(settings, NOW.date(), NOW.date())
    _reconciliation_run(settings)
    yield settings


def _fresh_settings(aws_endpoint: str, home: Path) -> Settings:
    import os
    import urllib.request

    from clickstream import constants as c
    from clickstream.adapters import _clients
    from clickstream.local.provision import provision

    urllib.request.urlopen(urllib.request.Request(f"{aws_endpoint}/moto-api/reset", method="POST")).read()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKSTREAM_")}
    env |= {c.ENV_ENDPOINT: aws_endpoint, c.ENV_HOME: str(home), "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test"}  # fmt: skip
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    _clients.reset_cache()
    settings = Settings.from_env(env)
    provision(settings)
    return settings


def _traffic() -> list[dict[str, Any]]:
    """Three hours of simulated shop traffic, validated as the collector does (received 1 s after the event)."""
    config = SimConfig(start=TRAFFIC_START, users=150, events=3000, seed=7, span=NOW - TRAFFIC_START, diurnal=False)
    out = []
    for raw in generate(config):
        result = validate_event(dict(raw), received_at=_parse(str(raw["timestamp"])) + timedelta(seconds=1))
        if result.event is not None:
            out.append(result.event)
    assert len(out) > 2500
    return out


def _reconciliation_run(settings: Settings) -> None:
    """The reconciliation job's run record: from the real job when it exists, else recorded the way it does."""
    try:
        from clickstream.jobs.reconcile import reconcile
    except ImportError:
        from clickstream.adapters.dynamodb import record_run

        record_run(settings, "reconcile_speed_batch", status="success", max_abs_drift=0)
        return
    reconcile(settings, NOW.date(), NOW.date())


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def api(lake: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(lake, deps=ApiDeps(lake, clock=lambda: NOW))) as client:
        yield client


@pytest.fixture(scope="module")
def engine(lake: Settings) -> Iterator[LocalEngine]:
    eng = LocalEngine(lake)
    yield eng
    eng.close()


# --- Athena -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "variables", "panel", "target"), list(_targets("grafana-athena-datasource")),
                         ids=_ids("grafana-athena-datasource"))  # fmt: skip
def test_athena_panel_runs_on_the_local_engine(
    engine: LocalEngine, name: str, variables: dict[str, str], panel: dict[str, Any], target: dict[str, Any]
) -> None:
    sql = emulate.expand_athena_macros(emulate.interpolate(target["rawSQL"], variables, *RANGE), *RANGE)
    result: pa.Table = engine.execute(sql)
    where = f"{name}: {panel['title']!r}"
    assert result.num_rows > 0, f"{where} returned no rows for a range full of traffic:\n{sql}"
    numeric = [f.name for f in result.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
               or pa.types.is_decimal(f.type)]  # fmt: skip
    assert numeric, f"{where}: no numeric column to draw ({result.schema})"
    for column in numeric:
        assert result.column(column).null_count < result.num_rows, f"{where}: {column} is all NULL"
    if target["format"] == 0:  # time series: Grafana needs a time column
        assert "time" in result.column_names and pa.types.is_timestamp(result.schema.field("time").type), where
    if panel["type"] in ("stat", "bargauge"):
        assert result.num_rows == 1, f"{where}: a single-value panel got {result.num_rows} rows"


# --- Infinity -----------------------------------------------------------------------------------------------


def _infinity_datasource(settings: Settings, base_url: str) -> tuple[str, dict[str, str]]:
    """The provisioned Infinity datasource's base URL and headers, with its ${VAR}s resolved."""
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text())
    ds = next(d for d in doc["datasources"] if d["type"] == "yesoreyeram-infinity-datasource")
    env = {"QUERY_API_URL": base_url, "CLICKSTREAM_READ_KEY": settings.read_key or ""}

    def resolve(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], text)

    headers = {}
    for key, header in ds["jsonData"].items():
        if m := re.fullmatch(r"httpHeaderName(\d+)", key):
            headers[header] = resolve(ds["secureJsonData"][f"httpHeaderValue{m.group(1)}"])
    return resolve(ds["url"]), headers


@pytest.mark.parametrize(("name", "variables", "panel", "target"), list(_targets("yesoreyeram-infinity-datasource")),
                         ids=_ids("yesoreyeram-infinity-datasource"))  # fmt: skip
def test_infinity_panel_url_returns_what_the_panel_parses(
    lake: Settings, api: TestClient, name: str, variables: dict[str, str], panel: dict[str, Any],
    target: dict[str, Any],
) -> None:  # fmt: skip
    base, headers = _infinity_datasource(lake, str(api.base_url))
    start, end = NOW - timedelta(hours=1), NOW
    params = {p["key"]: emulate.interpolate(p["value"], variables, start, end) for p in target["url_options"]["params"]}
    got = api.get(f"{base}{target['url']}?{urlencode(params)}", headers=headers)
    where = f"{name}: {panel['title']!r}"
    assert got.status_code == 200, f"{where}: {got.status_code} {got.text}"
    rows = emulate.parse_infinity(got.json(), target["root_selector"], target["columns"])
    assert rows, f"{where}: no rows"
    for column in target["columns"]:
        values = [r[column["text"]] for r in rows]
        assert any(v is not None for v in values), f"{where}: column {column['text']!r} is empty"
    if target["format"] == "timeseries":
        times = [r["time"] for r in rows]
        assert times == sorted(times) and all(t.tzinfo for t in times), where


def test_infinity_datasource_key_is_the_read_key_not_the_write_key(lake: Settings, api: TestClient) -> None:
    base, headers = _infinity_datasource(lake, str(api.base_url))
    assert api.get(f"{base}/v1/stats", headers=headers).status_code == 200
    wrong = {k: lake.write_key or "" for k in headers}
    assert api.get(f"{base}/v1/stats", headers=wrong).status_code == 401


# --- Prometheus ---------------------------------------------------------------------------------------------


def test_every_prometheus_expression_reads_metrics_that_metrics_exposes(lake: Settings, api: TestClient) -> None:
    # scraped the way prometheus/prometheus.yml does: bearer read key
    got = api.get("/metrics", headers={"Authorization": f"Bearer {lake.read_key}"})
    assert got.status_code == 200, got.text
    exposed = set()
    for family in text_string_to_metric_families(got.text):
        exposed.add(family.name)
        exposed.update(s.name for s in family.samples)
    exprs = [(f"{n}: {p['title']!r}", t["expr"]) for n, _, p, t in _targets("prometheus")]
    rules = yaml.safe_load((GRAFANA / "provisioning" / "alerting" / "rules.yaml").read_text())
    exprs += [(f"alert {r['title']!r}", r["data"][0]["model"]["expr"]) for g in rules["groups"] for r in g["rules"]]
    assert len(exprs) > 10
    for where, expr in exprs:
        missing = emulate.promql_metric_names(expr) - exposed
        assert not missing, f"{where}: {sorted(missing)} not on /metrics (exposed: {sorted(exposed)})"

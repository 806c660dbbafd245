"""Grafana as code, checked without a Grafana server: the committed files are what grafana/*.py generates,
every dashboard is valid (unique uids, known panel types, datasources that provisioning defines, a 5-10 s
refresh, a sane grid), and every name a panel or alert uses exists in the code.

Running the panels' queries for real (Athena SQL on the local engine, Infinity URLs on the API,
PromQL against /metrics) is tests/integration/test_grafana_panels.py.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from clickstream.api import prometheus as pm
from clickstream.api.serving import METRICS
from clickstream.settings import ResourceNames

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
build = importlib.import_module("grafana.build")
emulate = importlib.import_module("grafana.emulate")
panels = importlib.import_module("grafana.panels")

GRAFANA = ROOT / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROVISIONING = GRAFANA / "provisioning"
REFRESH_ALLOWED = {"5s", "10s"}
PLUGIN_TYPES = {"grafana-athena-datasource", "yesoreyeram-infinity-datasource", "prometheus"}


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())


def _datasources() -> dict[str, dict[str, Any]]:
    doc = _load(PROVISIONING / "datasources" / "datasources.yaml")
    return {ds["uid"]: ds for ds in doc["datasources"]}


def _targets() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for path in DASHBOARDS:
        for p in _load(path)["panels"]:
            for t in p.get("targets", []):
                yield path.name, p, t


def test_committed_files_are_what_the_generator_writes() -> None:
    stale = [
        str(p.relative_to(ROOT)) for p, text in build.rendered().items() if not p.exists() or p.read_text() != text
    ]
    assert not stale, f"regenerate with `.venv/bin/python -m grafana.build`: {stale}"
    assert {p.stem for p in DASHBOARDS} == {"realtime", "engagement", "commerce", "errors", "pipeline"}


def test_dashboards_are_valid() -> None:
    uids, titles = set(), set()
    for path in DASHBOARDS:
        board = _load(path)
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"]), f"{path.name}: uid {board['uid']!r}"
        assert board["uid"] not in uids and board["title"] not in titles, f"{path.name}: duplicate uid or title"
        uids.add(board["uid"])
        titles.add(board["title"])
        assert board["refresh"] in REFRESH_ALLOWED, f"{path.name}: refresh {board['refresh']!r}"
        assert board["schemaVersion"] >= 36 and board["panels"]
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        _assert_grid(path.name, board["panels"])
        for p in board["panels"]:
            assert p["type"] in panels.PANEL_TYPES, f"{path.name}: unknown panel type {p['type']!r}"
            assert p["type"] == "row" or p["targets"], f"{path.name}: panel {p['title']!r} has no query"


def _assert_grid(name: str, panels: list[dict[str, Any]]) -> None:
    taken: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, f"{name}: {p['title']!r} off the grid"
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & taken, f"{name}: {p['title']!r} overlaps another panel"
        taken |= cells


def test_every_datasource_a_panel_uses_is_provisioned_with_its_plugin() -> None:
    provisioned = _datasources()
    assert {ds["type"] for ds in provisioned.values()} == PLUGIN_TYPES
    for name, p, t in _targets():
        for ref in (p["datasource"], t["datasource"]):
            assert ref["uid"] in provisioned, f"{name}: {p['title']!r} uses unknown datasource {ref['uid']!r}"
            assert provisioned[ref["uid"]]["type"] == ref["type"], f"{name}: {p['title']!r} datasource type"


def test_queries_have_what_their_plugin_needs() -> None:
    kinds = {"grafana-athena-datasource": 0, "yesoreyeram-infinity-datasource": 0, "prometheus": 0}
    for name, p, t in _targets():
        kind = t["datasource"]["type"]
        kinds[kind] += 1
        where = f"{name}: {p['title']!r}"
        if kind == "grafana-athena-datasource":
            assert t["rawSQL"].lstrip().upper().startswith(("SELECT", "WITH")), where
            assert "dt BETWEEN" in t["rawSQL"], f"{where}: bound the dt partitions (Athena scans what it reads)"
            assert t["connectionArgs"]["resultReuseEnabled"], f"{where}: a 10 s refresh needs result reuse"
        elif kind == "yesoreyeram-infinity-datasource":
            assert t["parser"] == "backend" and t["type"] == "json" and t["source"] == "url", where
            assert t["url"].startswith("/v1/"), f"{where}: relative to the datasource's API URL"
            assert {c["type"] for c in t["columns"]} <= set(emulate.INFINITY_TYPES), where
        else:
            assert t["expr"].strip(), where
    assert all(kinds.values()), f"every datasource is used by some panel: {kinds}"


def test_infinity_panels_name_api_metrics_and_parameters() -> None:
    for name, p, t in _targets():
        if t["datasource"]["type"] != "yesoreyeram-infinity-datasource":
            continue
        path = urlsplit(t["url"]).path
        params = {q["key"] for q in t["url_options"]["params"]}
        if path.startswith("/v1/metrics/"):
            metric = path.rsplit("/", 1)[1]
            assert metric in METRICS, f"{name}: {p['title']!r}: the API has no metric {metric!r}"
            assert params == {"dimension", "granularity", "from", "to"}, f"{name}: {p['title']!r}"
        else:
            assert path == "/v1/stats" and params <= {"from", "to", "limit"}, f"{name}: {p['title']!r}: {path}"


def test_prometheus_expressions_name_metrics_the_api_exposes() -> None:
    exprs = [(f"{n}: {p['title']!r}", t["expr"]) for n, p, t in _targets() if t["datasource"]["type"] == "prometheus"]
    exprs += [(f"alert {r['title']!r}", r["data"][0]["model"]["expr"]) for r in _rules()]
    for where, expr in exprs:
        unknown = emulate.promql_metric_names(expr) - set(pm.METRIC_NAMES)
        assert not unknown, f"{where}: {sorted(unknown)} are not in clickstream/api/prometheus.py"


def _rules() -> list[dict[str, Any]]:
    doc = _load(PROVISIONING / "alerting" / "rules.yaml")
    return [r for g in doc["groups"] for r in g["rules"]]


def test_alert_rules_reference_real_datasources_and_cover_the_issue() -> None:
    provisioned = _datasources()
    rules = _rules()
    assert len({r["uid"] for r in rules}) == len(rules)
    for r in rules:
        refs = {d["refId"] for d in r["data"]}
        assert r["condition"] in refs, r["title"]
        for d in r["data"]:
            assert d["datasourceUid"] in (*provisioned, "__expr__"), f"{r['title']}: {d['datasourceUid']}"
            if d["datasourceUid"] == "__expr__":
                assert d["model"]["expression"] in refs, r["title"]
    exprs = " ".join(r["data"][0]["model"]["expr"] for r in rules)
    for metric in (pm.ERROR_RATE, pm.CONSUMER_LAG_SECONDS, pm.DATA_QUALITY_PASS_RATE, pm.RECONCILIATION_MAX_ABS_DRIFT):
        assert metric in exprs, f"no alert rule on {metric}"


def test_no_dollar_in_alert_text_grafana_would_expand_it() -> None:
    # Grafana expands $VAR in provisioning files: a `{{ $value }}` template would silently vanish.
    for r in _rules():
        assert "$" not in json.dumps([r["annotations"], r["labels"], r["title"]]), r["title"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.localstack.yml").read_text())


def test_provisioning_variables_are_set_by_compose_with_the_stage_names(compose: dict[str, Any]) -> None:
    text = (PROVISIONING / "datasources" / "datasources.yaml").read_text()
    wanted = set(re.findall(r"\$\{(\w+)\}", text))
    env = compose["services"]["grafana"]["environment"]
    assert wanted <= set(env), f"compose's grafana service does not set {sorted(wanted - set(env))}"
    names = ResourceNames.for_stage("local")
    resolved = {k: re.sub(r"\$\{CLICKSTREAM_STAGE:-(\w+)\}", r"\1", str(v)) for k, v in env.items()}
    assert resolved["ATHENA_DATABASE"] == names.glue_database
    assert resolved["ATHENA_WORKGROUP"] == names.athena_workgroup
    assert resolved["ATHENA_OUTPUT_LOCATION"] == f"s3://{names.bucket}/athena-results/"
    assert urlsplit(resolved["QUERY_API_URL"]).hostname in compose["services"]
    assert urlsplit(resolved["PROMETHEUS_URL"]).hostname in compose["services"]


def test_compose_mounts_the_provisioning_where_the_provider_looks(compose: dict[str, Any]) -> None:
    mounts = dict(
        v.rsplit(":", 1)[0].split(":", 1) for v in compose["services"]["grafana"]["volumes"] if v.startswith("./")
    )
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = _load(PROVISIONING / "dashboards" / "clickstream.yaml")["providers"][0]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    plugins = compose["services"]["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"].split(",")
    assert set(plugins) == PLUGIN_TYPES - {"prometheus"}  # Prometheus is built in

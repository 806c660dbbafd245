"""The sql/metrics files follow their conventions: Athena SQL that the local engine translates, a day
filter on the partitions, a `dt` result column, one sessionization shared word for word."""

from __future__ import annotations

import re

import pytest
import sqlglot
from metrics_support import END, START

from clickstream.jobs.batch_metrics import metric_names, metric_sql
from clickstream.sqlfiles import load, placeholders

BLOCK = re.compile(r"-- BEGIN sessionize.*?-- END sessionize", re.S)
DAY_FILTER = "dt BETWEEN '{{ start_dt }}' AND '{{ end_dt }}'"


@pytest.mark.parametrize("name", metric_names())
def test_each_file_is_one_documented_select_over_events_filtered_by_day(name: str) -> None:
    text = load(f"metrics/{name}.sql")
    assert text.startswith("-- "), "the header comment states what the metric is and how days are assigned"
    assert placeholders(text) == {"start_dt", "end_dt"}
    assert DAY_FILTER in text
    (statement,) = sqlglot.parse(metric_sql(name, START, END), read="athena")
    assert isinstance(statement, sqlglot.exp.Query)
    tables = {t.name for t in statement.find_all(sqlglot.exp.Table)} - {
        c.alias for c in statement.find_all(sqlglot.exp.CTE)
    }
    assert tables == {"events"}
    assert "dt" in statement.named_selects or "*" in statement.named_selects


def test_the_sessionization_is_the_same_text_in_every_file_that_has_it() -> None:
    blocks = {name: BLOCK.findall(load(f"metrics/{name}.sql")) for name in metric_names()}
    with_block = {name: b[0] for name, b in blocks.items() if b}
    assert {"sessions", "engagement", "funnel", "commerce", "hourly_traffic", "uniques"} <= set(with_block)
    assert len(set(with_block.values())) == 1, "edit the sessionization in every file at once"
    assert ">= 1800000" in next(iter(with_block.values()))  # constants.SESSION_GAP_SECONDS in ms


def test_the_gap_is_the_shared_constant() -> None:
    from clickstream.constants import SESSION_GAP_SECONDS

    assert f">= {SESSION_GAP_SECONDS * 1000}" in load("metrics/sessions.sql")

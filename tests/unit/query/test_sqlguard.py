"""The read-only guard: hostile statements are refused with a reason; legitimate SELECTs pass and run."""

from __future__ import annotations

import pyarrow as pa
import pytest

from clickstream.adapters.query.local import LocalEngine
from clickstream.sqlguard import UnsafeQueryError, check_read_only

ALLOWED = {"events", "raw_events", "metric_daily"}
DB = "clickstream_local"

HOSTILE = [
    # DDL / DML
    ("DROP TABLE events", "not DROP"),
    ("INSTALL httpfs", "not INSTALL"),
    ("DELETE FROM events", "only SELECT"),
    ("UPDATE events SET url = 'x'", "only SELECT"),
    ("INSERT INTO events SELECT * FROM events", "only SELECT"),
    ("INSERT INTO events VALUES (1)", "only SELECT"),
    ("MERGE INTO events USING raw_events ON true WHEN MATCHED THEN DELETE", ""),
    ("CREATE TABLE x AS SELECT * FROM events", "only SELECT"),
    ("CREATE EXTERNAL TABLE x (a int) LOCATION 's3://b/x/'", "only SELECT"),
    ("CREATE VIEW v AS SELECT * FROM events", "only SELECT"),
    ("ALTER TABLE events ADD COLUMNS (x int)", ""),
    ("TRUNCATE TABLE events", ""),
    ("SELECT * INTO stolen FROM events", "INTO"),
    ("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", "not allowed"),
    ("WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x", ""),
    # engine commands
    ("COPY events TO '/tmp/out.csv'", ""),
    ("COPY (SELECT * FROM events) TO 's3://bucket/x.parquet'", ""),
    ("ATTACH '/tmp/x.duckdb' AS other", ""),
    ("DETACH other", ""),
    ("INSTALL httpfs", ""),
    ("LOAD httpfs", ""),
    ("PRAGMA enable_external_access", ""),
    ("SET enable_external_access = true", ""),
    ("SET SESSION query_max_run_time = '1h'", ""),
    ("RESET enable_external_access", ""),
    ("CALL pragma_version()", ""),
    ("EXPORT DATABASE '/tmp/dump'", ""),
    ("IMPORT DATABASE '/tmp/dump'", ""),
    ("CHECKPOINT", ""),
    ("VACUUM", ""),
    ("USE other_db", ""),
    ("DESCRIBE events", ""),
    ("SHOW TABLES", ""),
    ("EXPLAIN SELECT * FROM events", ""),
    ("EXPLAIN ANALYZE SELECT * FROM events", ""),
    ("MSCK REPAIR TABLE events", ""),
    ("UNLOAD (SELECT * FROM events) TO 's3://b/x/' WITH (format = 'PARQUET')", ""),
    ("PREPARE s FROM SELECT * FROM events", ""),
    ("EXECUTE s", ""),
    ("DEALLOCATE PREPARE s", ""),
    ("BEGIN TRANSACTION", ""),
    ("COMMIT", ""),
    ("GRANT SELECT ON events TO public", ""),
    ("VALUES (1)", "only SELECT"),
    # several statements, comments
    ("SELECT 1; DROP TABLE events", "2 statements"),
    ("SELECT * FROM events; SELECT * FROM raw_events", "2 statements"),
    ("SELECT 1 -- harmless\n; DROP TABLE events", "2 statements"),
    ("SELECT 1 /* */; COPY events TO 'x.csv'", "statements"),
    ("/* hi */ DROP TABLE events -- bye", ""),
    ("", "empty"),
    ("   ;  ", ""),
    ("-- only a comment", ""),
    # file and URL readers, table functions
    ("SELECT * FROM read_csv('/etc/passwd')", ""),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", ""),
    ("SELECT * FROM read_parquet('s3://other-bucket/x.parquet')", ""),
    ("SELECT * FROM parquet_scan('/tmp/x.parquet')", ""),
    ("SELECT * FROM read_json('/tmp/x.json')", ""),
    ("SELECT * FROM read_json_auto('/tmp/x.json')", ""),
    ("SELECT * FROM read_ndjson_objects('/tmp/x.json')", ""),
    ("SELECT * FROM read_text('/etc/passwd')", ""),
    ("SELECT * FROM read_blob('/etc/passwd')", ""),
    ("SELECT * FROM glob('/etc/*')", ""),
    ("SELECT * FROM sniff_csv('/etc/passwd')", ""),
    ("SELECT * FROM parquet_metadata('/tmp/x.parquet')", ""),
    ("SELECT * FROM sqlite_scan('/tmp/x.db', 't')", ""),
    ("SELECT * FROM postgres_scan('host=x', 'public', 't')", ""),
    ("SELECT * FROM duckdb_settings()", ""),
    ("SELECT * FROM duckdb_tables()", ""),
    ("SELECT * FROM pragma_table_info('events')", ""),
    ("SELECT * FROM query('SELECT 1')", ""),
    ("SELECT * FROM TABLE(read_parquet('x.parquet'))", ""),
    ("SELECT * FROM 'data.parquet'", ""),
    ("SELECT * FROM '/etc/passwd'", ""),
    ('SELECT * FROM "file.parquet"', "unknown table"),
    ('SELECT * FROM "s3://bucket/raw/x.parquet"', "unknown table"),
    ('SELECT * FROM "https://example.com/x.csv"', "unknown table"),
    ("SELECT * FROM events, read_csv('/etc/passwd') AS f", ""),
    ("SELECT * FROM events e JOIN read_parquet('x') p ON true", ""),
    ("SELECT (SELECT count(*) FROM read_text('/etc/passwd')) FROM events", ""),
    ("WITH f AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM f", ""),
    ("SELECT * FROM events WHERE url IN (SELECT content FROM read_text('/etc/passwd'))", ""),
    ("SELECT * FROM events UNION ALL SELECT * FROM read_csv('/etc/passwd')", ""),
    ("SELECT getenv('HOME') FROM events", ""),
    ("SELECT current_setting('home_directory') FROM events", ""),
    ("SELECT * FROM events, LATERAL read_csv('/etc/passwd')", ""),
    # the engines run UNLOAD for the batch jobs (it writes to S3): never through the read-only path
    ("UNLOAD (SELECT * FROM events) TO 's3://lake/x/' WITH (format = 'PARQUET', compression = 'ZSTD')", "UNLOAD"),
    # tables outside the allowed set
    ("SELECT * FROM secrets", "unknown table"),
    ("SELECT * FROM information_schema.tables", "Glue database"),
    ("SELECT * FROM information_schema.columns WHERE table_name = 'events'", "Glue database"),
    ("SELECT * FROM other_db.events", "Glue database"),
    ("SELECT * FROM pg_catalog.pg_tables", "Glue database"),
    ("SELECT * FROM system.runtime.queries", "Glue catalog"),
    ('SELECT * FROM "lambda:exfil".db.events', "Glue catalog"),
    ("SELECT * FROM other_catalog.clickstream_local.events", "Glue catalog"),
    ("SELECT * FROM events JOIN sneaky ON true", "unknown table"),
    ("WITH e AS (SELECT * FROM events) SELECT * FROM e JOIN sneaky ON true", "unknown table"),
    # bind parameters, not valid SQL
    ("SELECT * FROM events WHERE dt = ?", ""),
    ("SELECT * FROM events WHERE", "not valid SQL"),
    ("SELEC * FROM events", ""),
    ("SELECT * FROM events\x00; DROP TABLE events", "NUL"),
    ("SELECT '" + "x" * 100_001 + "'", "longer"),
]


@pytest.mark.parametrize(("sql", "reason"), HOSTILE, ids=[f"{i:03d}" for i in range(len(HOSTILE))])
def test_hostile_statements_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQueryError) as err:
        check_read_only(sql, ALLOWED, database=DB)
    assert reason in err.value.reason


def test_comments_never_reach_the_engine() -> None:
    out = check_read_only("SELECT 1 AS x /* ; DROP TABLE events */ -- COPY events TO 'x'\n", ALLOWED)
    assert "DROP" not in out and "COPY" not in out and "--" not in out and "/*" not in out


def test_semicolons_inside_strings_are_data() -> None:
    out = check_read_only("SELECT count(*) FROM events WHERE url = '/a;DROP TABLE events'", ALLOWED)
    assert out.startswith("SELECT COUNT(*) FROM events WHERE url = '/a;DROP TABLE events'")


@pytest.mark.parametrize(
    ("sql", "expected_limit"),
    [
        ("SELECT * FROM events", "LIMIT 100"),
        ("SELECT * FROM events LIMIT 5", "LIMIT 5"),
        ("SELECT * FROM events LIMIT 5000", "LIMIT 100"),
        ("SELECT * FROM events UNION ALL SELECT * FROM events", "LIMIT 100"),
        ("SELECT * FROM events ORDER BY event_time DESC OFFSET 10", "LIMIT 100"),
        ("(SELECT * FROM events)", "LIMIT 100"),
    ],
)
def test_a_row_cap_is_always_applied(sql: str, expected_limit: str) -> None:
    out = check_read_only(sql, ALLOWED, max_rows=100)
    assert out.rstrip().endswith(expected_limit), out


LEGITIMATE = [
    "SELECT count(*) AS n FROM events",
    "select event_type, count(*) as n from events where dt between '2026-11-21' and '2026-11-22' group by 1 order by 2 desc",
    "WITH s AS (SELECT session_id, count(*) AS n FROM events GROUP BY 1) SELECT avg(n) AS avg_events FROM s",
    "SELECT e.url, m.events FROM events e LEFT JOIN metric_daily m ON e.dt = m.dt",
    "SELECT url FROM events UNION SELECT url FROM raw_events",
    "SELECT url FROM events INTERSECT SELECT url FROM raw_events",
    "SELECT url FROM events EXCEPT SELECT url FROM raw_events",
    "SELECT * FROM clickstream_local.events",
    "SELECT * FROM awsdatacatalog.clickstream_local.events",
    'SELECT * FROM "events"',
    "SELECT * FROM EVENTS",
    "SELECT approx_distinct(user_id) AS users, date_trunc('hour', event_time) AS h FROM events GROUP BY 2",
    "SELECT x FROM events CROSS JOIN UNNEST(sequence(1, 3)) AS t(x)",
    "SELECT url, row_number() OVER (PARTITION BY dt ORDER BY event_time) AS rn FROM events",
    "SELECT * FROM (SELECT url FROM events) AS sub",
    "SELECT * FROM events WHERE url IN (SELECT url FROM raw_events)",
    "SELECT substr(split_part(split_part(url, '?', 1), '#', 1), 1, 256) AS path FROM events;",
    "SELECT 'read_csv(x)' AS not_a_call FROM events",
]


@pytest.fixture(scope="module")
def engine() -> LocalEngine:
    events = pa.table(
        {
            "event_id": ["a", "b", "c"],
            "user_id": ["u1", "u1", "u2"],
            "session_id": ["s1", "s1", "s2"],
            "url": ["/", "/cart?x=1", "/"],
            "event_type": ["page_view", "click", "page_view"],
            "event_time": pa.array([1, 2, 3], pa.timestamp("s", tz="UTC")),
            "dt": ["2026-11-21", "2026-11-22", "2026-11-22"],
        }
    )
    raw = pa.table({"url": ["/", "/x"], "dt": ["2026-11-22", "2026-11-22"]})
    daily = pa.table({"dt": ["2026-11-22"], "events": [2]})
    return LocalEngine.over({"events": events, "raw_events": raw, "metric_daily": daily}, database=DB)


@pytest.mark.parametrize("sql", LEGITIMATE)
def test_legitimate_selects_pass_and_run_on_the_local_engine(sql: str, engine: LocalEngine) -> None:
    safe = check_read_only(sql, ALLOWED, database=DB, max_rows=50)
    out = engine.execute(safe)
    assert out.num_rows <= 50
    assert out.num_columns >= 1

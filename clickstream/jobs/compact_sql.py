"""The compaction's statements: Athena SQL that the engine runs (Athena in AWS, DuckDB locally).

Pure: text in, text out. `compact.py` runs them in this order (docs/adr/0011-compaction-as-sql.md):

1. `stage_select` (an UNLOAD into `compaction_batch`, one partition per run): the run's raw lines
   from `raw_lines`, parsed by `sql/include/parse_event.sql`, each row with the expectations of
   the versioned suite it fails (`_failed`, from `quality.compiled`) and, when it fails, the
   line as received (`_raw`). One scan of the raw objects.
2. `stats_select`: one row of counts for the gate, the results JSON and the Data Docs;
   `examples_select`: up to 20 failing values of one expectation, as GX lists them.
3. `quarantine_select` (an UNLOAD, JSON + gzip): every failing row with its reasons.
4. `firsts_select` / `fresh_select`: the valid rows, first seen per event_id (by raw object, then
   received_at), and of those the ones not yet published in their event-time partition (an
   anti-join with `events` over the partitions the run touches); `counts_select` counts them per
   partition, `publish_select` (an UNLOAD partitioned by dt and hour, at most
   `ATHENA_MAX_PARTITIONS_PER_WRITE` partitions a statement) writes them sorted.

Every statement reads tables by name; the local engine translates them with sqlglot like every
other statement in `sql/`. A test transpiles each one for Athena.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from clickstream import constants as c
from clickstream.adapters.query.unload import Unload
from clickstream.catalog import (
    COMPACTION_BATCH,
    EVENT_TIME,
    EVENTS,
    FAILED_COLUMN,
    INVALID_TYPES_COLUMN,
    MALFORMED_COLUMN,
    RAW_COLUMN,
    RAW_LINES,
    SOURCE_COLUMN,
    curated_name,
)
from clickstream.events.schema import EVENT_FIELDS
from clickstream.jobs.compact_parse import MALFORMED_JSON  # the reason of a line that is not a JSON object
from clickstream.jobs.compact_write import COMPRESSION_LEVEL, SORT_KEYS
from clickstream.quality.compiled import Rule
from clickstream.sqlfiles import expand_includes, literal, quote

PATH: Final = '"$path"'  # Athena's pseudo-column: the S3 object a row came from
EXAMPLES: Final = 20  # failing values listed per expectation in the results, as GX lists them
PARTITION_KEYS: Final[tuple[str, ...]] = EVENTS.partition_keys  # ("dt", "hour") of the event time
MAX_PARTITIONS: Final = c.ATHENA_MAX_PARTITIONS_PER_WRITE
EVENT_COLUMNS: Final[tuple[str, ...]] = tuple(curated_name(f) for f in EVENT_FIELDS)
CURATED_TYPES: Final[dict[str, str]] = {column.name: column.type for column in EVENTS.columns}
TIMESTAMPS: Final = frozenset(name for name, glue in CURATED_TYPES.items() if glue == "timestamp")
_SQL_TYPES: Final[dict[str, str]] = {"string": "varchar", "int": "integer"}

Partition = tuple[str, str]


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(literal(v) for v in sorted(set(values)))})"


def stage_select(objects: Sequence[tuple[Partition, str]], bucket: str, rules: Sequence[Rule]) -> str:
    """The run's raw objects ((arrival dt, hour), key) parsed and checked: `compaction_batch`'s
    columns. Blank lines are not records. A malformed line fails only `malformed_json`."""
    if not objects:
        raise ValueError("stage_select needs at least one raw object")
    days = {dt for (dt, _), _ in objects}
    hours = {hour for (_, hour), _ in objects}
    paths = [f"s3://{bucket}/{key}" for _, key in objects]
    checks = ", ".join(f"CASE WHEN {r.fails} THEN {literal(r.name)} END" for r in rules if r.fails is not None)
    failed = f"nullif(array_join(filter(ARRAY[{checks}], x -> x IS NOT NULL), ','), '')"
    columns = ",\n       ".join(
        [_timestamp(col) if col in TIMESTAMPS else quote(col) for col in EVENT_COLUMNS] + [quote(INVALID_TYPES_COLUMN)]
    )
    return f"""WITH raw AS (
    SELECT {PATH} AS {quote(SOURCE_COLUMN)}, line
    FROM {RAW_LINES.name}
    WHERE {_in("dt", days)} AND {_in("hour", hours)}
      AND {_in(PATH, paths)}
      AND trim(line) <> ''
),
{expand_includes("{{> include/parse_event.sql }}")},
checked AS (
    SELECT *, CASE WHEN is_object THEN {failed} ELSE {literal(MALFORMED_JSON)} END AS failed_rules
    FROM parsed
)
SELECT {columns},
       {quote(SOURCE_COLUMN)},
       NOT is_object AS {quote(MALFORMED_COLUMN)},
       failed_rules AS {quote(FAILED_COLUMN)},
       CASE WHEN failed_rules IS NOT NULL THEN line END AS {quote(RAW_COLUMN)}
FROM checked"""


def batch_where(run: str) -> str:
    return f"run = {literal(run)}"


def stats_select(rules: Sequence[Rule], run: str) -> str:
    """One row: `records`, `malformed`, `quarantined`; over the JSON objects, `n`, and per
    column rule `c<i>` (non-null values) and `u<i>` (rows failing it); per uniqueness rule `d<i>`
    (rows whose value occurs more than once, as GX counts)."""
    objects = f"NOT {quote(MALFORMED_COLUMN)}"
    parts = [
        "count(*) AS records",
        f"sum(CASE WHEN {quote(MALFORMED_COLUMN)} THEN 1 ELSE 0 END) AS malformed",
        f"sum(CASE WHEN {quote(FAILED_COLUMN)} IS NOT NULL THEN 1 ELSE 0 END) AS quarantined",
        f"sum(CASE WHEN {objects} THEN 1 ELSE 0 END) AS n",
    ]
    for i, rule in enumerate(rules):
        if rule.column is None:
            continue
        parts.append(f"count({quote(rule.column)}) AS c{i}")
        if rule.fails is not None:
            parts.append(f"sum(CASE WHEN {objects} AND {rule.fails} THEN 1 ELSE 0 END) AS u{i}")
        if rule.type == "expect_column_values_to_be_unique":
            col = quote(rule.column)
            parts.append(
                f"(SELECT coalesce(sum(k), 0) FROM (SELECT count(*) AS k FROM {COMPACTION_BATCH.name} "
                f"WHERE {batch_where(run)} AND {objects} AND {col} IS NOT NULL GROUP BY {col} "
                f"HAVING count(*) > 1) AS g{i}) AS d{i}"
            )
    return f"SELECT {', '.join(parts)} FROM {COMPACTION_BATCH.name} WHERE {batch_where(run)}"


def examples_select(rule: Rule, run: str) -> str:
    """Up to EXAMPLES values of the rows failing `rule` (a column rule)."""
    assert rule.fails is not None and rule.column is not None
    return (
        f"SELECT {quote(rule.column)} AS v FROM {COMPACTION_BATCH.name} "
        f"WHERE {batch_where(run)} AND NOT {quote(MALFORMED_COLUMN)} AND {rule.fails} LIMIT {EXAMPLES}"
    )


def quarantine_select(run: str, run_id: str, bucket: str) -> str:
    """One record per failing row: the run, the raw object's key, the failed expectations (the
    first is the reason), the line as received, and the columns whose JSON type was wrong."""
    return f"""SELECT {literal(run_id)} AS run_id,
       substr({quote(SOURCE_COLUMN)}, {len(f"s3://{bucket}/") + 1}) AS source_key,
       split({quote(FAILED_COLUMN)}, ',') AS failed_expectations,
       split_part({quote(FAILED_COLUMN)}, ',', 1) AS reason,
       {quote(RAW_COLUMN)} AS raw,
       CASE WHEN {quote(INVALID_TYPES_COLUMN)} IS NOT NULL THEN split({quote(INVALID_TYPES_COLUMN)}, ',') END
           AS invalid_type_columns
FROM {COMPACTION_BATCH.name}
WHERE {batch_where(run)} AND {quote(FAILED_COLUMN)} IS NOT NULL
ORDER BY source_key, raw"""


def _firsts_ctes(run: str) -> str:
    """`valid` (the rows that passed, with their event-time dt and hour) and `firsts` (the first
    seen row of each event_id). Only the event_ids seen more than once (about 1 % of rows: producer
    retries) go through the window; the other rows stream past it, so no operator holds the
    whole batch's wide rows."""
    columns = ", ".join(quote(col) for col in EVENT_COLUMNS)
    event_time = quote(EVENT_TIME)
    return f"""valid AS (
    SELECT {columns},
           date_format({event_time}, '%Y-%m-%d') AS dt,
           date_format({event_time}, '%H') AS hour,
           {quote(SOURCE_COLUMN)}
    FROM {COMPACTION_BATCH.name}
    WHERE {batch_where(run)} AND {quote(FAILED_COLUMN)} IS NULL
),
repeated AS (
    SELECT "event_id" FROM valid GROUP BY "event_id" HAVING count(*) > 1
),
firsts AS (
    SELECT {", ".join(f"valid.{quote(col)}" for col in EVENT_COLUMNS)}, valid.dt, valid.hour
    FROM valid LEFT JOIN repeated ON repeated."event_id" = valid."event_id"
    WHERE repeated."event_id" IS NULL
    UNION ALL
    SELECT {columns}, dt, hour FROM (
        SELECT valid.*, row_number() OVER (
            PARTITION BY valid."event_id" ORDER BY {quote(SOURCE_COLUMN)}, "received_at", {event_time}
        ) AS seen
        FROM valid JOIN repeated ON repeated."event_id" = valid."event_id"
    ) AS ranked
    WHERE seen = 1
)"""


def firsts_select(run: str) -> str:
    """Per event-time partition (dt, hour): `n_rows`, the valid rows first seen in the batch."""
    return f"WITH {_firsts_ctes(run)}\nSELECT dt, hour, count(*) AS n_rows FROM firsts GROUP BY dt, hour"


def _fresh_ctes(run: str, published: Sequence[Partition]) -> str:
    """+ `fresh`: the firsts not already in their partition of `events` (`published` lists the
    partitions the run touches that readers already have)."""
    if not published:
        return f"{_firsts_ctes(run)},\nfresh AS (\n    SELECT * FROM firsts\n)"
    return f"""{_firsts_ctes(run)},
published AS (
    SELECT "event_id", dt, hour FROM {EVENTS.name}
    WHERE {_in("dt", (dt for dt, _ in published))} AND {_in("hour", (hour for _, hour in published))}
),
fresh AS (
    SELECT firsts.* FROM firsts
    LEFT JOIN published
      ON published."event_id" = firsts."event_id" AND published.dt = firsts.dt AND published.hour = firsts.hour
    WHERE published."event_id" IS NULL
)"""


def counts_select(run: str, published: Sequence[Partition]) -> str:
    """Per event-time partition: `n_rows`, the new rows the publish will write."""
    return f"WITH {_fresh_ctes(run, published)}\nSELECT dt, hour, count(*) AS n_rows FROM fresh GROUP BY dt, hour"


def _timestamp(column: str) -> str:
    """A parsed timestamp (with its offset) as a plain UTC timestamp: Athena writes no Parquet
    column of type `timestamp with time zone`, and the lake's timestamps are UTC. `AT TIME ZONE
    'UTC'` first: Athena's CAST to `timestamp` keeps the wall time of the value's own offset
    (12:01+02:00 would stay 12:01), where DuckDB converts through the session's zone."""
    return f"CAST({quote(column)} AT TIME ZONE 'UTC' AS timestamp) AS {quote(column)}"


def _cast(column: str) -> str:
    glue = CURATED_TYPES[column]
    return f"CAST({quote(column)} AS {_SQL_TYPES.get(glue, glue)}) AS {quote(column)}"


def _matching(partitions: Sequence[Partition]) -> str:
    return " OR ".join(f"(dt = {literal(dt)} AND hour = {literal(hour)})" for dt, hour in sorted(partitions))


def publish_select(
    run: str, published: Sequence[Partition], partitions: Sequence[Partition], rewrite: Sequence[Partition] = ()
) -> str:
    """The new rows of `partitions` in the curated columns and types, sorted, dt and hour last (an
    UNLOAD partitioned by them). For the `rewrite` partitions, their published rows too (a
    partition rewritten whole: too many delta files)."""
    if not partitions or len(partitions) > MAX_PARTITIONS:
        raise ValueError(f"publish_select writes 1 to {MAX_PARTITIONS} partitions, not {len(partitions)}")
    columns = ", ".join(_cast(col) for col in EVENT_COLUMNS)
    order = ", ".join(["dt", "hour", *(quote(k) for k in SORT_KEYS)])
    rows = f"SELECT {columns}, dt, hour FROM fresh WHERE {_matching(partitions)}"
    if rewrite:
        plain = ", ".join(quote(col) for col in EVENT_COLUMNS)
        rows += (
            f"\n    UNION ALL\n    SELECT {plain}, dt, hour FROM {EVENTS.name}\n"
            f"    WHERE {_in('dt', (dt for dt, _ in rewrite))} AND {_in('hour', (h for _, h in rewrite))}"
            f" AND ({_matching(rewrite)})"
        )
    return f"WITH {_fresh_ctes(run, published)},\nout AS (\n    {rows}\n)\nSELECT * FROM out ORDER BY {order}"


def publish_unload(select: str, location: str) -> Unload:
    """The publish's UNLOAD: Parquet partitioned by (dt, hour), zstd at the curated table's level
    (5.96 % of the raw JSON with million-row groups: docs/BENCHMARKS.md "Parquet size")."""
    return Unload(select, location, PARTITION_KEYS, compression_level=COMPRESSION_LEVEL)


def chunks(partitions: Sequence[Partition], size: int = MAX_PARTITIONS) -> list[list[Partition]]:
    """`partitions`, sorted, in groups of at most `size` (one UNLOAD each)."""
    ordered = sorted(partitions)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


__all__ = [
    "MALFORMED_JSON",
    "batch_where",
    "chunks",
    "counts_select",
    "examples_select",
    "firsts_select",
    "publish_select",
    "publish_unload",
    "quarantine_select",
    "stage_select",
    "stats_select",
]

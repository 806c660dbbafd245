"""The lake's tables: one definition the Glue catalog, the CDK app, the local engine and the jobs read.

Three fixed tables come from the event contract (`clickstream.events.schema`):

- `raw_events` over `raw/events/dt=…/hour=…/` — NDJSON.gz as collected, partitioned by *arrival*
  time; timestamps stay RFC 3339 strings and `properties` a JSON string.
- `raw_lines` over the same objects, one row per line as text (`line`; Athena's `"$path"` names
  the object): what the compaction's parse reads in Athena (docs/adr/0011-compaction-as-sql.md),
  and a way to see a raw event exactly as it came.
- `events` over `curated/events/v=<version>/dt=…/hour=…/` — the compacted, deduplicated, typed
  Parquet, partitioned by *event* time. Each publish of a partition is a new version prefix, and
  its Glue partition is re-pointed to it (docs/adr/0008-curated-table-format.md), so the
  registered partitions, not a listing, say which files are the table. The contract's
  `timestamp` field is the column `event_time` here (`timestamp` is a reserved word in
  Athena/Trino SQL; every query would need quotes).

Metric tables (`metric_<name>` over `curated/metrics/<name>/v=<version>/dt=…/`) are written by
the batch metrics job, an UNLOAD per run, and versioned like `events`; their columns are whatever
the SQL in `sql/metrics/<name>.sql` selects, so the job registers them from the result schema
(`metric_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from clickstream import constants as c
from clickstream.events.schema import EVENT_FIELDS, FIELD_TYPES

RAW_EVENTS_TABLE: Final = "raw_events"
RAW_LINES_TABLE: Final = "raw_lines"  # the same objects as raw_events, each line as text (ADR 0011)
EVENTS_TABLE: Final = "events"
METRIC_TABLE_PREFIX: Final = "metric_"
EVENT_TIME: Final = "event_time"  # curated name of the contract's `timestamp`
# the parsed frame's column listing the fields present with a JSON type their logical type does
# not allow (sql/include/parse_event.sql, the quality suite's type rule)
INVALID_TYPES_COLUMN: Final = "_invalid_types"
# the compaction batch's bookkeeping columns: a line's number in the batch (batch order: "first
# seen" in dedupe), its raw object's index, and its record number in that object (from 1)
ROW_COLUMN: Final = "_row"
OBJ_COLUMN: Final = "_obj"
REC_COLUMN: Final = "_rec"
CURATED_RENAMES: Final[dict[str, str]] = {"timestamp": EVENT_TIME}
PARTITION_KEYS: Final[tuple[str, ...]] = ("dt", "hour")  # dt=YYYY-MM-DD, hour=HH (strings, UTC)
DAY_PARTITION_KEYS: Final[tuple[str, ...]] = ("dt",)
VERSION_KEY: Final = "v"  # curated/events/v=<version>/dt=…/hour=…/: not a partition key

# Logical type (schema.FIELD_TYPES) -> Glue/Hive type, per storage format.
CURATED_GLUE_TYPES: Final[dict[str, str]] = {
    "string": "string",
    "timestamp": "timestamp",
    "json": "string",
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "double": "double",
}
RAW_GLUE_TYPES: Final[dict[str, str]] = {**CURATED_GLUE_TYPES, "timestamp": "string"}
# The parse's types (sql/include/parse_event.sql): every integer widened to bigint, so that range
# rules see 70000 instead of an overflow.
BATCH_GLUE_TYPES: Final[dict[str, str]] = {**CURATED_GLUE_TYPES, "int8": "bigint", "int16": "bigint", "int32": "bigint"}

Format = Literal["json", "parquet", "text"]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Glue/Hive type name: string, bigint, double, timestamp, decimal(38,6), …


@dataclass(frozen=True)
class TableDef:
    name: str
    prefix: str  # key prefix in the lake bucket, no trailing slash
    columns: tuple[Column, ...]
    partition_keys: tuple[str, ...]
    format: Format
    description: str
    # Published as a new version prefix per run, with the Glue partition re-pointed to it
    # (docs/adr/0008-curated-table-format.md): readers take partitions from Glue, never a listing.
    versioned: bool = False

    def location(self, bucket: str) -> str:
        return f"s3://{bucket}/{self.prefix}/"

    def partition_prefix(self, values: dict[str, str]) -> str:
        """`curated/events/dt=2026-11-22/hour=07/` for {"dt": "2026-11-22", "hour": "07"}."""
        parts = "/".join(f"{k}={values[k]}" for k in self.partition_keys)
        return f"{self.prefix}/{parts}/"

    def version_prefix(self, values: dict[str, str], version: str) -> str:
        """`curated/events/v=20261122T080501Z-run/dt=2026-11-22/hour=07/`: one publish of a partition.

        The version comes first, so that no version lies under a partition's Hive prefix, which
        is where partitions published before versions are registered (Athena reads a location
        with everything below it)."""
        parts = "/".join(f"{k}={values[k]}" for k in self.partition_keys)
        return f"{self.prefix}/{VERSION_KEY}={version}/{parts}/"


def curated_name(field: str) -> str:
    return CURATED_RENAMES.get(field, field)


RAW_EVENTS: Final = TableDef(
    name=RAW_EVENTS_TABLE,
    prefix=c.RAW_EVENTS_PREFIX,
    columns=tuple(Column(f, RAW_GLUE_TYPES[FIELD_TYPES[f]]) for f in EVENT_FIELDS),
    partition_keys=PARTITION_KEYS,
    format="json",
    description="Raw events as collected (NDJSON.gz), partitioned by arrival dt/hour",
)

EVENTS: Final = TableDef(
    name=EVENTS_TABLE,
    prefix=c.CURATED_EVENTS_PREFIX,
    columns=tuple(Column(curated_name(f), CURATED_GLUE_TYPES[FIELD_TYPES[f]]) for f in EVENT_FIELDS),
    partition_keys=PARTITION_KEYS,
    format="parquet",
    description="Valid, deduplicated events (Parquet, zstd), partitioned by event-time dt/hour",
    versioned=True,
)

RAW_LINES: Final = TableDef(
    name=RAW_LINES_TABLE,
    prefix=c.RAW_EVENTS_PREFIX,
    columns=(Column("line", "string"),),
    partition_keys=PARTITION_KEYS,
    format="text",
    description="Raw archive lines as they came (NDJSON.gz, one line a row), by arrival dt/hour",
)

# The compaction's checked batch (ADR 0011): the engine's parse of one run's raw lines, with the
# verdict of the quality suite, written by UNLOADs and read back by the gate's counts, the
# quarantine and the publish. Partitions: the run attempt (`run`) and one `part` per UNLOAD (a
# statement lists its raw objects, and Athena caps a query's length), registered by the job and
# dropped when it ends; a crashed run's files expire with the staging prefix.
SOURCE_COLUMN: Final = "_source"  # the raw object, as Athena's "$path" (s3://bucket/key)
MALFORMED_COLUMN: Final = "_malformed"  # the line is not a JSON object
FAILED_COLUMN: Final = "_failed"  # the failed expectations, comma-separated (NULL: the row passed)
RAW_COLUMN: Final = "_raw"  # the line as received, kept for the rows that failed
COMPACTION_BATCH: Final = TableDef(
    name="compaction_batch",
    prefix=f"{c.STAGING_PREFIX}/{c.COMPACTION_JOB}",
    columns=(
        *(Column(curated_name(f), BATCH_GLUE_TYPES[FIELD_TYPES[f]]) for f in EVENT_FIELDS),
        Column(INVALID_TYPES_COLUMN, "string"),
        Column(SOURCE_COLUMN, "string"),
        Column(MALFORMED_COLUMN, "boolean"),
        Column(FAILED_COLUMN, "string"),
        Column(RAW_COLUMN, "string"),
    ),
    partition_keys=("run", "part"),
    format="parquet",
    description="The parsed, checked batch of one compaction run (staging; dropped by the run)",
    versioned=True,
)

FIXED_TABLES: Final[tuple[TableDef, ...]] = (RAW_EVENTS, RAW_LINES, EVENTS, COMPACTION_BATCH)


def metric_table(name: str, columns: tuple[Column, ...]) -> TableDef:
    """The Glue table of one batch metric (`sql/metrics/<name>.sql`), partitioned by day."""
    return TableDef(
        name=f"{METRIC_TABLE_PREFIX}{name}",
        prefix=f"{c.CURATED_METRICS_PREFIX}/{name}",
        columns=columns,
        partition_keys=DAY_PARTITION_KEYS,
        format="parquet",
        description=f"Batch metric {name} (sql/metrics/{name}.sql), by event-time day",
        versioned=True,
    )

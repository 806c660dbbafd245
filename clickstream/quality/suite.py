"""The `raw_events` expectation suite, version 1, built from the event contract's constants.

The suite is versioned in the repository (`suites/raw_events.v1.json`): reviewers see a rule
change as a diff, and a unit test fails when the contract (`clickstream.events.schema`) moves
without the file being regenerated (`python -m clickstream.quality.suite --write`). A breaking
change gets a new version file rather than an edit of v1.

It validates the *typed batch frame* the compaction job builds from raw NDJSON (see
`clickstream.jobs.compact_parse`): one row per parsed JSON object, the contract's columns with
`timestamp` renamed `event_time`, integers widened to int64 (so an out-of-range value is seen by
its range rule instead of overflowing), plus two helper columns:

- `_row`: the row's position in the batch; GX reports failing rows by it
  (`unexpected_index_column_names`), which is how each quarantined row gets its reasons.
- `_invalid_types`: NULL, or the comma-separated columns whose JSON value had the wrong type
  (a string http_status, an object user_id, an unparseable timestamp). JSON types are checked
  while parsing, where the raw value still exists; this column carries the verdict into GX so
  the type rule is reported (and attributed per row) like every other rule.

Each expectation's `meta.action` says what a failure means: `quarantine` (the row is moved to
quarantine/), `fail_batch` (a table-level rule: the whole run fails) or `deduplicate` (duplicate
event_ids are reported, with `mostly=0` so they never fail the suite, and removed by the
deduplication step - producers are at-least-once, so duplicates are expected, not bad data).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from clickstream.catalog import INVALID_TYPES_COLUMN, ROW_COLUMN, curated_name
from clickstream.events.schema import (
    EVENT_FIELDS,
    EVENT_TYPES,
    MAX_HTTP_STATUS,
    MAX_QUANTITY,
    MIN_HTTP_STATUS,
    REQUIRED_FIELDS,
    SCHEMA_VERSION,
)

SUITE_NAME: Final = "raw_events"
SUITE_VERSION: Final = 1
SUITE_PATH: Final = Path(__file__).resolve().parent / "suites" / f"{SUITE_NAME}.v{SUITE_VERSION}.json"

MIN_EVENT_TIME: Final = "min_event_time"  # suite parameters, supplied per run (interval bounds)
MAX_EVENT_TIME: Final = "max_event_time"

# The Great Expectations types the suite uses (and `compiled` knows how to evaluate).
COLUMNS: Final = "expect_table_columns_to_match_ordered_list"
NOT_NULL: Final = "expect_column_values_to_not_be_null"
IS_NULL: Final = "expect_column_values_to_be_null"
IN_SET: Final = "expect_column_values_to_be_in_set"
BETWEEN: Final = "expect_column_values_to_be_between"
UNIQUE: Final = "expect_column_values_to_be_unique"

QUARANTINE: Final = "quarantine"
FAIL_BATCH: Final = "fail_batch"
DEDUPLICATE: Final = "deduplicate"

FRAME_COLUMNS: Final[tuple[str, ...]] = (
    ROW_COLUMN,
    *(curated_name(f) for f in EVENT_FIELDS),
    INVALID_TYPES_COLUMN,
)


def _expectation(kind: str, action: str, why: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"action": action, "why": why}}


def build_suite() -> dict[str, Any]:
    """The suite as a plain dict (the content of the versioned JSON file)."""
    required = [curated_name(f) for f in EVENT_FIELDS if f in REQUIRED_FIELDS]
    expectations = [
        _expectation(
            COLUMNS,
            FAIL_BATCH,
            "the batch frame has exactly the contract's columns",
            column_list=list(FRAME_COLUMNS),
        ),
        *(_expectation(NOT_NULL, QUARANTINE, "required by the event contract", column=col) for col in required),
        _expectation(
            IS_NULL,
            QUARANTINE,
            "every present value has the contract's JSON type (strings, integers, numbers, RFC 3339 "
            "timestamps, an object for properties); the value lists the offending columns",
            column=INVALID_TYPES_COLUMN,
        ),
        _expectation(
            IN_SET,
            QUARANTINE,
            "event types of schema v1",
            column="event_type",
            value_set=list(EVENT_TYPES),
        ),
        _expectation(
            BETWEEN,
            QUARANTINE,
            "HTTP status codes",
            column="http_status",
            min_value=MIN_HTTP_STATUS,
            max_value=MAX_HTTP_STATUS,
        ),
        _expectation(BETWEEN, QUARANTINE, "no negative prices", column="price", min_value=0),
        _expectation(
            BETWEEN,
            QUARANTINE,
            "at least one item, and fits the int32 column",
            column="quantity",
            min_value=1,
            max_value=MAX_QUANTITY,
        ),
        _expectation(
            BETWEEN,
            QUARANTINE,
            "time spent is not negative",
            column="duration_ms",
            min_value=0,
        ),
        _expectation(
            IN_SET,
            QUARANTINE,
            "the schema version this suite is written for",
            column="schema_version",
            value_set=[SCHEMA_VERSION],
        ),
        _expectation(
            BETWEEN,
            QUARANTINE,
            "event time within [interval start - allowed lateness, interval end + allowed clock skew]",
            column="event_time",
            min_value={"$PARAMETER": MIN_EVENT_TIME},
            max_value={"$PARAMETER": MAX_EVENT_TIME},
        ),
        _expectation(
            UNIQUE,
            DEDUPLICATE,
            "event_id is the deduplication key; duplicates are reported here and removed, not quarantined",
            column="event_id",
            mostly=0.0,
        ),
    ]
    return {
        "name": f"{SUITE_NAME}.v{SUITE_VERSION}",
        "expectations": expectations,
        "meta": {
            "version": SUITE_VERSION,
            "contract_schema_version": SCHEMA_VERSION,
            "parameters": {
                MIN_EVENT_TIME: "interval start - settings.limits.lateness_seconds (RFC 3339, UTC)",
                MAX_EVENT_TIME: "interval end + settings.limits.clock_skew_seconds (RFC 3339, UTC)",
            },
            "generated_by": "python -m clickstream.quality.suite --write",
        },
    }


def render_suite(suite: dict[str, Any]) -> str:
    """The canonical text of the suite file (stable key order, trailing newline)."""
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def load_suite(path: Path = SUITE_PATH) -> dict[str, Any]:
    """The versioned suite the job runs (the file, not `build_suite()`: the file is the contract)."""
    suite: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return suite


def expectation_name(kind: str, column: str | None) -> str:
    """How quarantined rows and reports name a rule: `expect_column_values_to_be_between:http_status`."""
    return f"{kind}:{column}" if column else kind


def main(argv: list[str]) -> int:
    text = render_suite(build_suite())
    if "--write" in argv:
        SUITE_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SUITE_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

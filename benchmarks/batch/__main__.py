"""`python -m benchmarks.batch compaction|metrics|table-format|sql-ab|late-merge|gate-spike|parse-spike|parquet-size|history-backfill [options]` (each prints its own --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

BENCHMARKS = (
    "compaction",
    "metrics",
    "table-format",
    "sql-ab",
    "late-merge",
    "gate-spike",
    "parse-spike",
    "parquet-size",
    "history-backfill",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in BENCHMARKS:
        print(f"usage: python -m benchmarks.batch {{{'|'.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    if args[0] == "compaction":
        from benchmarks.batch.compaction_run import main as run
    elif args[0] == "metrics":
        from benchmarks.batch.metrics import main as run
    elif args[0] == "history-backfill":
        from benchmarks.batch.history_backfill import main as run
    elif args[0] == "parquet-size":
        from benchmarks.batch.parquet_size import main as run
    elif args[0] == "parse-spike":
        from benchmarks.batch.parse_spike import main as run
    elif args[0] == "gate-spike":
        from benchmarks.batch.gate_spike import main as run
    elif args[0] == "late-merge":
        from benchmarks.batch.late_merge import main as run
    elif args[0] == "table-format":
        from benchmarks.batch.table_format import main as run
    else:
        from benchmarks.batch.sql_ab import main as run
    return run(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())

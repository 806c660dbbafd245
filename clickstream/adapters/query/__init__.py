"""Run Athena-dialect SQL over the lake: on Athena in AWS, on DuckDB locally; Arrow tables out.

Every query in `sql/`, the API and the CLI is written once, in Athena's dialect. `query_engine(settings)`
picks the engine from `settings.query_engine`:

- `LocalEngine` (`local`): every Glue table of the database is a DuckDB view over a pyarrow
  dataset on the S3 endpoint (`sources`, pruned by `pruning`); sqlglot translates the SQL.
- `AthenaEngine` (`athena`): start, poll, paginate, convert types.

Both implement `engine.QueryEngine` and raise its errors.
"""

from __future__ import annotations

from clickstream.adapters.query.athena import AthenaEngine, ensure_workgroup
from clickstream.adapters.query.engine import QueryEngine, QueryError, QueryTimeoutError, UnknownTableError
from clickstream.adapters.query.sources import s3_filesystem
from clickstream.settings import Settings

__all__ = [
    "AthenaEngine",
    "QueryEngine",
    "QueryError",
    "QueryTimeoutError",
    "UnknownTableError",
    "ensure_workgroup",
    "query_engine",
    "s3_filesystem",
]


def query_engine(settings: Settings) -> QueryEngine:
    """The engine `settings.query_engine` names ("local" or "athena")."""
    if settings.query_engine == "athena":
        return AthenaEngine(settings)
    # Imported only when chosen: the API on AWS never loads the DuckDB engine (its bundle has no DuckDB).
    from clickstream.adapters.query.local import LocalEngine

    return LocalEngine(settings)

"""The local query engine: Athena SQL, translated by sqlglot, on DuckDB over the lake's Glue tables.

Each `execute` opens a fresh in-memory DuckDB connection (cheap, and safe to call from several
threads), registers the tables the statement names (`clickstream.adapters.query.sources`), runs
it with `TimeZone='UTC'` and returns Arrow. `CREATE EXTERNAL TABLE` registers the table in Glue,
which is what Athena does with it, so every file in `sql/` runs here. `UNLOAD` (`unload.Unload`)
streams the result, batch by batch, into Parquet under the location, as Athena writes it: the
caller never holds the rows.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

import pyarrow as pa
import pyarrow.dataset as ds

from clickstream import constants as c
from clickstream.adapters.query.copies import Fetch, LakeCopies, parquet_scan, parquet_select, scan_groups
from clickstream.adapters.query.engine import (
    QueryError,
    QueryState,
    QueryTimeoutError,
    UnknownTableError,
    parse_one,
    table_refs,
    unqualify,
)
from clickstream.adapters.query.pruning import partition_filters
from clickstream.adapters.query.sources import DataFile, GlueTableInfo, ParquetFiles, s3_filesystem, table_source
from clickstream.adapters.query.unload import JSON_FORMAT, MAX_PARTITIONS, Unload
from clickstream.settings import Settings
from clickstream.sqlfiles import literal

_log = logging.getLogger(__name__)
DUCKDB_DIALECT = "duckdb"
BATCH_ROWS = 10_000
# An UNLOAD's Parquet files: at most a million rows each, in row groups of up to a million rows or
# ROW_GROUP_BYTES of Arrow data, whichever comes first (larger groups compress better: docs/
# BENCHMARKS.md "Parquet size"; the bytes bound what the writer buffers, one group at most,
# whatever the number of partitions, and what a reader decodes at once).
MAX_ROWS_PER_FILE = 1_000_000
ROW_GROUP_ROWS = MAX_ROWS_PER_FILE
ROW_GROUP_BYTES = 256 * 1024 * 1024
# A started statement (`start`) gets this long, Athena's default DML timeout; one still RUNNING past
# it when asked about was left by a process that stopped, and reads as FAILED.
STARTED_TIMEOUT_S = 30 * 60
MEMORY_LIMIT = "1GB"  # DuckDB's memory per statement; beyond it, it spills to `spill_directory()`
Source: TypeAlias = "ParquetFiles | ds.Dataset | pa.Table | pa.RecordBatchReader"


class LocalEngine:
    """DuckDB over the Glue database of `settings` (or over given datasets, see `over`)."""

    def __init__(
        self, settings: Settings | None, *, sources: Mapping[str, Any] | None = None, database: str = "local"
    ) -> None:
        self._settings = settings
        self._database = settings.names.glue_database if settings else database
        self._static: dict[str, Source] | None = (
            {name.lower(): _as_source(obj) for name, obj in sources.items()} if sources is not None else None
        )
        self._fs: Any = None
        self._copies: LakeCopies | None = None
        self._lock = threading.Lock()

    @classmethod
    def over(cls, datasets: Mapping[str, Any], *, database: str = "local") -> LocalEngine:
        """An engine over in-memory tables, pyarrow datasets, record batch readers (one statement
        reads one once) or local Parquet directories (no S3, no Glue).

        `database` is the name queries may qualify tables with (`<database>.events`).
        """
        return cls(None, sources=datasets, database=database)

    @property
    def database(self) -> str:
        return self._database

    def add_source(self, name: str, table: Any) -> None:
        """Make `table` (Arrow, a dataset or a Parquet directory) readable as `name`, on an engine
        over given sources (`over`); one over Glue reads what the lake and the catalog hold."""
        if self._static is None:
            raise TypeError(f"{name}: this engine reads the Glue database {self._database}; write the table there")
        with self._lock:
            self._static[name.lower()] = _as_source(table)

    # --- QueryEngine ---------------------------------------------------------------------------

    def execute(self, sql: str, *, max_rows: int | None = None, timeout_s: float | None = None) -> pa.Table:
        """Run one Athena statement; SELECTs return Arrow, `CREATE EXTERNAL TABLE` registers the table in Glue."""
        from sqlglot import exp

        try:
            unload = Unload.parse(sql)
        except ValueError as exc:
            raise QueryError(str(exc)) from exc
        if unload is not None:
            return self._unload(unload, timeout_s)
        statement = parse_one(sql)
        if isinstance(statement, exp.Create) and statement.args.get("kind", "").upper() == "TABLE":
            return self._create_external_table(statement)
        with self._connection(statement) as (con, duck_sql):
            return _timed(con, timeout_s, lambda: _fetch(con, duck_sql, max_rows))

    def explain(self, sql: str) -> str:
        """DuckDB's physical plan of the translated statement."""
        statement = parse_one(sql)
        with self._connection(statement) as (con, duck_sql):
            try:
                rows = con.sql(f"EXPLAIN {duck_sql}").fetchall()
            except Exception as exc:
                raise _query_error(exc) from exc
        return "\n".join(str(r[1]) for r in rows)

    def tables(self) -> list[str]:
        if self._static is not None:
            return sorted(self._static)
        return sorted(e["Name"] for e in self._glue().tables(self.database))

    def translate(self, sql: str) -> str:
        """The DuckDB SQL that `execute` would run for `sql`."""
        return to_duckdb(unqualify(parse_one(sql), self.database))

    def start(self, sql: str) -> str:
        """Run `sql` on a thread of this process; its state is an object under the lake's Athena
        results prefix, as Athena keeps it on its side, so any process of the API can ask for it."""
        execution_id = str(uuid.uuid4())
        self._put_state(execution_id, QueryState("RUNNING"), deadline=time.time() + STARTED_TIMEOUT_S)
        threading.Thread(
            target=self._run_started, args=(execution_id, sql), name=f"query-{execution_id}", daemon=True
        ).start()
        return execution_id

    def state(self, execution_id: str) -> QueryState:
        found = self._objects(self._bucket()).get_if_exists(self._state_key(execution_id))
        if found is None:
            raise QueryError(f"the local engine has no query {execution_id}")
        record = json.loads(found)
        state = QueryState(record["state"], record.get("reason"))
        if not state.finished and time.time() > record["deadline"]:
            return QueryState("FAILED", "the process running it stopped before it finished; start it again")
        return state

    def close(self) -> None:
        self._fs = None
        if self._copies is not None:
            self._copies.close()
            self._copies = None

    # --- internals -----------------------------------------------------------------------------

    def _run_started(self, execution_id: str, sql: str) -> None:
        try:
            self.execute(sql, timeout_s=STARTED_TIMEOUT_S)
            final = QueryState("SUCCEEDED")
        except QueryError as exc:
            final = QueryState("FAILED", str(exc))
        except Exception as exc:  # a thread's error must reach the state, not stderr
            final = QueryState("FAILED", f"{type(exc).__name__}: {exc}")
        try:
            self._put_state(execution_id, final)
        except Exception:  # the lake went away: the state stays RUNNING and reads FAILED after its deadline
            _log.warning("query %s ended %s; its state could not be written", execution_id, final.state, exc_info=True)

    def _state_key(self, execution_id: str) -> str:
        if not execution_id.replace("-", "").isalnum():
            raise QueryError(f"the local engine has no query {execution_id!r}")
        return f"{c.ATHENA_RESULTS_PREFIX}/local/{execution_id}.json"

    def _put_state(self, execution_id: str, state: QueryState, *, deadline: float | None = None) -> None:
        record = {"state": state.state, "reason": state.reason, "deadline": deadline or time.time()}
        body = json.dumps(record).encode()
        self._objects(self._bucket()).put(self._state_key(execution_id), body, content_type="application/json")

    def _bucket(self) -> str:
        if self._settings is None:
            raise QueryError("a started query keeps its state in the lake: use LocalEngine(settings)")
        return self._settings.names.bucket

    def _objects(self, bucket: str) -> Any:
        """The bucket's objects, each read with one GetObject: one whole version, never a mix of two
        (pyarrow's input stream reads ranges after a HEAD; a CI run read a torn state so)."""
        from clickstream.adapters import _clients
        from clickstream.adapters.s3 import LakeObjects

        assert self._settings is not None
        return LakeObjects(bucket, client=_clients.client("s3", self._settings))

    def _connection(self, statement: Any) -> _Connection:
        statement = unqualify(statement, self.database)
        names = {t.name.lower() for t in table_refs(statement) if not t.db}
        foreign = sorted({f"{t.db}.{t.name}" for t in table_refs(statement) if t.db})
        if foreign:
            raise UnknownTableError(foreign, self.tables(), self.database)
        sources = self._sources(names, statement)
        return _Connection(sources, to_duckdb(statement), self._copies_if_any(), self._fetch)

    def _sources(self, names: set[str], statement: Any) -> dict[str, Source]:
        if self._static is not None:
            missing = names - set(self._static)
            if missing:
                raise UnknownTableError(missing, self._static, self.database)
            return {n: self._static[n] for n in names}
        entries = {e["Name"].lower(): e for e in self._glue().tables(self.database)}
        missing = names - set(entries)
        if missing:
            raise UnknownTableError(missing, entries, self.database)
        fs = self._lake_fs()
        infos = {n: GlueTableInfo.from_glue(entries[n]) for n in names}
        keep = partition_filters(statement, {n: info.partition_keys for n, info in infos.items()})
        glue = self._glue()
        registered = {n: glue.partition_locations(self.database, n) for n, info in infos.items() if info.versioned}
        return {n: table_source(info, fs, keep=keep.get(n), partitions=registered.get(n)) for n, info in infos.items()}

    def _copies_if_any(self) -> LakeCopies | None:
        """The engine's local copies of lake files (made on first use; an engine over local sources has none)."""
        if self._settings is None:
            return None
        with self._lock:
            if self._copies is None:
                self._copies = LakeCopies()
            return self._copies

    def _fetch(self, path: str, into: BinaryIO) -> None:
        """Copy the lake object at `path` (bucket/key) into `into`: one version (see `_objects`)."""
        bucket, key = path.split("/", 1)
        self._objects(bucket).download(key, into)

    def _lake_fs(self) -> Any:
        """The S3 filesystem on the lake's endpoint, made once per engine."""
        with self._lock:
            if self._fs is None:
                assert self._settings is not None
                self._fs = s3_filesystem(self._settings)
            return self._fs

    def _glue(self) -> Any:
        from clickstream.adapters.glue import glue_catalog

        assert self._settings is not None, "an engine made with LocalEngine.over() has no Glue catalog"
        return glue_catalog(self._settings)

    def _unload(self, unload: Unload, timeout_s: float | None) -> pa.Table:
        """Write the SELECT's rows as Parquet under `unload.location`, streamed (see `unload`).

        As on Athena: the location must be empty, and at most MAX_PARTITIONS partitions are written."""
        import pyarrow.fs as pafs

        fs, base = self._target(unload.location)
        found = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        if any(info.type == pafs.FileType.File for info in found):
            raise QueryError(f"UNLOAD: {unload.location} is not empty (Athena writes only to an empty location)")
        with self._connection(parse_one(unload.select)) as (con, duck_sql):

            def write() -> pa.Table:
                reader = con.sql(duck_sql).to_arrow_reader(BATCH_ROWS)
                missing = [p for p in unload.partitioned_by if p not in reader.schema.names]
                if missing:
                    raise QueryError(f"UNLOAD: the SELECT has no partition column {', '.join(missing)}")
                keys = pa.schema([reader.schema.field(p) for p in unload.partitioned_by])
                seen: set[str] = set()

                schema = _utc_timestamps(reader.schema)

                def batches() -> Any:
                    for batch in reader:
                        if batch.schema != schema:
                            batch = batch.cast(schema)
                        if keys:
                            seen.update(_partition_values(batch, keys.names))
                            if len(seen) > MAX_PARTITIONS:
                                raise QueryError(
                                    f"UNLOAD writes at most {MAX_PARTITIONS} partitions (Athena's limit): "
                                    "split the statement's range"
                                )
                        yield batch

                if unload.format == JSON_FORMAT:
                    if keys:
                        raise QueryError("UNLOAD: the jobs write JSON unpartitioned")
                    _write_json_lines(fs, base, schema, batches(), unload.compression)
                    return pa.table({})
                _write_parquet(fs, base, schema, batches(), keys.names, unload)
                return pa.table({})

            return _timed(con, timeout_s, write)

    def _target(self, location: str) -> tuple[Any, str]:
        """(filesystem, base path) of an UNLOAD location: s3:// on the lake's endpoint; a local
        directory for an engine over local sources (benchmarks)."""
        import pyarrow.fs as pafs

        if location.startswith("s3://"):
            if self._settings is None:
                raise QueryError("UNLOAD to s3:// needs the lake: use LocalEngine(settings)")
            return self._lake_fs(), location.removeprefix("s3://").rstrip("/")
        return pafs.LocalFileSystem(), str(Path(location.removeprefix("file://")).resolve())

    def _create_external_table(self, statement: Any) -> pa.Table:
        from clickstream.sqlfiles import table_from_ddl

        if self._settings is None:
            raise QueryError("CREATE EXTERNAL TABLE needs a Glue catalog: use LocalEngine(settings)")
        table, bucket, parameters = table_from_ddl(statement)
        self._glue().ensure_table(self.database, table, bucket, parameters=parameters)
        return pa.table({"result": pa.array([f"table {table.name} registered in {self.database}"])})


def spill_directory() -> str:
    """Where the local engine spills (one folder per user under the system's temporary directory)."""
    import os
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"clickstream-duckdb-spill-{os.getuid()}")


class _Connection:
    """A fresh DuckDB connection with the statement's tables registered; closed on exit.

    A Parquet table (`ParquetFiles`) is a view over DuckDB's own `read_parquet` of the files: on
    local disk as they are, and from the lake through the engine's local copies (`copies`), held
    until the statement ends. Other sources (Arrow tables, streams, datasets) are registered."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        duck_sql: str,
        copies: LakeCopies | None = None,
        fetch: Fetch | None = None,
    ) -> None:
        self._sources, self._sql, self._copies, self._fetch_object = sources, duck_sql, copies, fetch
        self._held: list[Sequence[DataFile]] = []

    def __enter__(self) -> tuple[Any, str]:
        import duckdb

        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone='UTC'")
        # Bounded memory: above the limit, sorts, joins and aggregates spill to disk, as a worker's
        # engine must when an hour is larger than its memory (issue 17).
        self._con.execute(f"SET memory_limit='{MEMORY_LIMIT}'")
        self._con.execute(f"SET temp_directory='{spill_directory()}'")
        self._con.execute("SET enable_progress_bar=false")  # it would print to stdout (CLI output, logs)
        readable: set[str] = set()
        try:
            for name, source in self._sources.items():
                if isinstance(source, ParquetFiles):
                    readable.update(self._parquet_view(name, source))
                else:
                    self._con.register(name, source)
            # Defence in depth behind sqlguard: no file/URL access but the statement's own files, no
            # scans of Python variables by name, and no SQL can switch either back on.
            self._con.execute("SET python_enable_replacements = false")
            if readable:
                listed = ", ".join(literal(d) for d in sorted(readable))
                self._con.execute(f"SET allowed_directories = [{listed}]")
            self._con.execute("SET enable_external_access = false")
            self._con.execute("SET lock_configuration = true")
        except BaseException:
            self.__exit__()
            raise
        return self._con, self._sql

    def _parquet_view(self, name: str, table: ParquetFiles) -> set[str]:
        """Create the view of `table`; the folders it reads."""
        if not table.in_lake:
            paths = [f.path for f in table.files]
            folders = {os.path.dirname(p) + os.sep for p in paths}
        else:
            assert self._copies is not None, "a table on S3 needs the engine's local copies"
            assert self._fetch_object is not None
            paths = self._copies.checkout(self._fetch_object, table.files)
            self._held.append(table.files)
            folders = {self._copies.root + os.sep}
        branches = []
        for group, values in scan_groups(table, paths):
            scan = parquet_scan(group, hive=values is None)
            present = {row[0] for row in self._con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
            types = {n: _duckdb_type(t) for n, t in table.columns if n not in present}
            branches.append(parquet_select(table, group, values, present, types))
        self._con.execute(f'CREATE VIEW "{name}" AS ' + " UNION ALL ".join(branches))
        return folders

    def __exit__(self, *exc: object) -> None:
        self._con.close()
        for files in self._held:
            assert self._copies is not None
            self._copies.release(files)
        self._held.clear()


def _duckdb_type(glue_type: str) -> str:
    from sqlglot import exp

    return str(exp.DataType.build(glue_type, dialect="hive").sql(dialect=DUCKDB_DIALECT))


def to_duckdb(statement: Any) -> str:
    """An Athena statement (parsed) as DuckDB SQL: sqlglot's translation, with two plan choices of
    ours (`shared_json_extracts`, `inline_column_ctes`)."""
    return str(inline_column_ctes(shared_json_extracts(statement.copy())).sql(dialect=DUCKDB_DIALECT))


def inline_column_ctes(statement: Any) -> Any:
    """Each WITH query that only picks columns of one table and filters its rows is marked
    `NOT MATERIALIZED`: every reader scans the table itself, as Athena (Trino) plans every WITH query.

    Since 1.4, DuckDB materializes a WITH query that two readers name (duckdb/duckdb#17459; its
    cost for such pass-through queries is duckdb/duckdb#20958): the metrics' `scoped`, which
    include/sessionize.sql reads as the events with a session_id and those without, was copied
    whole (10 M rows) before either read it. Scanned twice instead, each reader gets its filter
    pushed into the Parquet scan: `sessions` over 10 M events took 3.37 s instead of 5.10 s
    (docs/BENCHMARKS.md). A WITH query that computes anything (an expression, an aggregate, a
    window, a join) is left to DuckDB: recomputing it per reader could cost more than the copy.
    Same rows either way; only the plan differs. Over a table registered as a stream (raw lines),
    which can be read once, DuckDB still materializes the WITH query (its plan shows one scan; a
    test reads such a stream through two readers).
    """
    from sqlglot import exp

    for cte in statement.find_all(exp.CTE):
        query = cte.this
        source = query.args.get("from_") if isinstance(query, exp.Select) else None
        if (
            source is not None
            and isinstance(source.this, exp.Table)
            and not any(
                query.args.get(k) for k in ("joins", "group", "having", "distinct", "order", "limit", "qualify")
            )
            and all(_is_column(p) for p in query.expressions)
        ):
            cte.set("materialized", False)
    return statement


def _is_column(projection: Any) -> bool:
    """A projection that is a column as it is (`x`, `t.x`, `x AS y`, `*`)."""
    from sqlglot import exp

    inner = projection.this if isinstance(projection, exp.Alias) else projection
    return isinstance(inner, (exp.Column, exp.Star))


def shared_json_extracts(statement: Any) -> Any:
    """Several `json_extract(x, '$.key')` of the same `x` in one SELECT list → one DuckDB
    `json_extract(x, ['$.a', '$.b', …])` indexed per key (`list_extract`, 1-based).

    The same results, one parse of `x` per row instead of one per key: DuckDB evaluates the
    identical list expression once (common subexpression). Athena has no multi-path extract, so
    the SQL in `sql/` names one key per call; reading 22 keys of a 600-byte event this way took
    0.83 s instead of 2.82 s for 200,000 lines (docs/adr/0011-compaction-as-sql.md).
    """
    from sqlglot import exp

    for select in statement.find_all(exp.Select):
        groups: dict[str, list[Any]] = {}
        for projection in select.expressions:
            for node in projection.find_all(exp.JSONExtract):
                if node.find_ancestor(exp.Select) is not select or _json_key(node) is None:
                    continue
                groups.setdefault(node.this.sql(dialect=DUCKDB_DIALECT), []).append(node)
        for nodes in groups.values():
            keys = list(dict.fromkeys(_json_key(n) for n in nodes))
            if len(keys) < 2:
                continue
            paths = exp.Array(expressions=[exp.Literal.string(f"$.{k}") for k in keys])
            for node in nodes:
                both = exp.Anonymous(this="json_extract", expressions=[node.this.copy(), paths.copy()])
                index = exp.Literal.number(keys.index(_json_key(node)) + 1)
                node.replace(exp.Anonymous(this="list_extract", expressions=[both, index]))
    return statement


def _json_key(node: Any) -> str | None:
    """`key` of a `json_extract(x, '$.key')` whose key is a plain identifier; else None."""
    from sqlglot import exp

    path = node.expression
    if not isinstance(path, exp.JSONPath) or len(path.expressions) != 2:
        return None
    root, key = path.expressions
    if not isinstance(root, exp.JSONPathRoot) or not isinstance(key, exp.JSONPathKey):
        return None
    name = key.this
    return name if isinstance(name, str) and name.replace("_", "").isalnum() else None


def _timed(con: Any, timeout_s: float | None, run: Any) -> pa.Table:
    """`run()` on `con`, interrupted after `timeout_s` (QueryTimeoutError); engine errors → QueryError."""
    timer = threading.Timer(timeout_s, con.interrupt) if timeout_s else None
    if timer:
        timer.start()
    try:
        result: pa.Table = run()
        return result
    except Exception as exc:
        if timer and not timer.is_alive() and "interrupt" in str(exc).lower():
            raise QueryTimeoutError(
                f"query cancelled after {timeout_s:g} s: narrow the dt range or raise the timeout"
            ) from exc
        raise _query_error(exc) from exc
    finally:
        if timer:
            timer.cancel()


def _utc_timestamps(schema: pa.Schema) -> pa.Schema:
    """`schema` with every zone-less timestamp marked UTC. The engine runs in UTC, so a plain
    timestamp is a UTC time, and Parquet says so (isAdjustedToUTC), as the lake's other writers do."""
    fields = [
        f.with_type(pa.timestamp(f.type.unit, tz="UTC")) if pa.types.is_timestamp(f.type) and f.type.tz is None else f
        for f in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def _write_parquet(fs: Any, base: str, schema: pa.Schema, batches: Any, keys: list[str], unload: Unload) -> None:
    """The rows as Parquet under hive folders of `keys` (`k=v/…/part-N.parquet`, the key columns
    left out of the files), as Athena's UNLOAD writes them.

    One file is open at a time, and at most one row group is buffered: a partition's file is
    closed when the rows move to another partition (so rows sorted by the keys, as the jobs'
    statements sort them, give one file per partition and full row groups). A file holds at most
    MAX_ROWS_PER_FILE rows."""
    import pyarrow.compute as pc
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    data = pa.schema([f for f in schema if f.name not in keys])
    files: dict[tuple[str, ...], int] = {}
    state: dict[str, Any] = {"key": None, "writer": None, "stream": None, "rows": 0, "pending": []}
    options = {"compression": unload.compression.lower(), "compression_level": unload.compression_level}

    def flush() -> None:
        if state["pending"]:
            table = pa.Table.from_batches(state["pending"], schema=data)
            state["writer"].write_table(table, row_group_size=table.num_rows)
            state["pending"] = []

    def close() -> None:
        if state["writer"] is not None:
            flush()
            state["writer"].close()
            state["stream"].close()
        state.update(writer=None, stream=None, rows=0)

    def open_file(key: tuple[str, ...]) -> None:
        index = files[key] = files.get(key, -1) + 1
        folder = "/".join([base, *(f"{k}={v}" for k, v in zip(keys, key, strict=True))])
        if isinstance(fs, pafs.LocalFileSystem):
            fs.create_dir(folder, recursive=True)
        state["stream"] = fs.open_output_stream(f"{folder}/part-{index}.parquet", compression=None)
        state["writer"] = pq.ParquetWriter(state["stream"], data, write_statistics=True, **options)
        state["key"] = key

    def runs(batch: pa.RecordBatch) -> Any:
        """(key values, rows) for each run of equal key values in `batch`."""
        if not keys:
            yield (), batch
            return
        columns = [batch.column(k) for k in keys]
        n = batch.num_rows
        change = pa.array([False] * max(n - 1, 0), pa.bool_())
        for col in columns:
            change = pc.or_(change, pc.not_equal(col.slice(1), col.slice(0, n - 1)).fill_null(True))
        starts = [0, *(i + 1 for i in pc.indices_nonzero(change).to_pylist()), n]
        for start, stop in pairwise(starts):
            if stop > start:
                yield tuple(str(c[start].as_py()) for c in columns), batch.slice(start, stop - start)

    for batch in batches:
        for key, rows in runs(batch):
            rows = rows.select(data.names) if keys else rows
            while rows.num_rows:
                if key != state["key"] or state["rows"] >= MAX_ROWS_PER_FILE:
                    close()
                    open_file(key)
                take = min(rows.num_rows, MAX_ROWS_PER_FILE - state["rows"])
                state["pending"].append(rows.slice(0, take))
                state["rows"] += take
                pending = state["pending"]
                if (
                    sum(b.num_rows for b in pending) >= ROW_GROUP_ROWS
                    or sum(b.nbytes for b in pending) >= ROW_GROUP_BYTES
                ):
                    flush()
                rows = rows.slice(take)
    close()


def _write_json_lines(fs: Any, base: str, schema: pa.Schema, batches: Any, compression: str) -> None:
    """Rows as one JSON object a line (`part-0.json.gz`), as Athena's JSON UNLOAD writes them: a
    NULL value is left out of its object; timestamps are ISO 8601 text (Athena writes
    `2026-11-22 10:00:00.000`: no job reads a timestamp from JSON)."""
    import gzip

    import orjson

    if compression not in ("GZIP", "NONE"):
        raise QueryError(f"UNLOAD: JSON is written with compression GZIP or NONE, not {compression}")
    import pyarrow.fs as pafs

    name = "part-0.json.gz" if compression == "GZIP" else "part-0.json"
    if isinstance(fs, pafs.LocalFileSystem):  # S3 has no folders to make
        fs.create_dir(base, recursive=True)
    with fs.open_output_stream(f"{base}/{name}", compression=None) as raw:
        out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compression == "GZIP" else raw
        for batch in batches:
            for row in batch.to_pylist():
                out.write(orjson.dumps({k: v for k, v in row.items() if v is not None}, default=str) + b"\n")
        if out is not raw:
            out.close()


def _partition_values(batch: pa.RecordBatch, names: list[str]) -> set[str]:
    import pyarrow.compute as pc

    if len(names) == 1:
        return {str(v) for v in pc.unique(batch.column(names[0])).to_pylist()}
    rows = zip(*(batch.column(n).to_pylist() for n in names), strict=True)
    return {"/".join(map(str, row)) for row in set(rows)}


def _fetch(con: Any, duck_sql: str, max_rows: int | None) -> pa.Table:
    rel = con.sql(duck_sql)
    if rel is None:  # a statement without a result (SET, …)
        return pa.table({})
    reader = rel.to_arrow_reader(BATCH_ROWS)
    if max_rows is None:
        return reader.read_all()
    batches, rows = [], 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        if rows >= max_rows:
            break
    return pa.Table.from_batches(batches, schema=reader.schema).slice(0, max_rows)


def _query_error(exc: Exception) -> QueryError:
    if isinstance(exc, QueryError):
        return exc
    return QueryError(f"local engine (DuckDB): {exc}")


def _as_source(obj: Any) -> Source:
    if isinstance(obj, (pa.Table, ds.Dataset, pa.RecordBatchReader)):  # a reader is read by one scan
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if isinstance(obj, (str, Path)):
        return _local_parquet(Path(obj))
    raise TypeError(f"LocalEngine.over() takes pyarrow tables, datasets or Parquet directories, not {type(obj)}")


def _local_parquet(root: Path) -> ParquetFiles:
    """A local Parquet directory, read by DuckDB; hive partition keys (k=v/ folders) kept as strings,
    as Glue declares them."""
    keys: list[str] = []
    files = []
    for path in sorted(root.resolve().rglob("*.parquet")):
        for part in path.relative_to(root.resolve()).parts[:-1]:
            key = part.split("=", 1)[0]
            if "=" in part and key not in keys:
                keys.append(key)
        stat = path.stat()
        files.append(DataFile(str(path), {}, stat.st_size, stat.st_mtime_ns))
    if not files:
        raise QueryError(f"{root}: no Parquet files")
    return ParquetFiles(tuple(files), (), tuple(keys))

"""Athena's UNLOAD as both engines run it: the statement's text, and the local engine writing Parquet
the way Athena does (Hive folders, partition columns out of the files, an empty location, at most
100 partitions)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from clickstream.adapters.query import QueryError
from clickstream.adapters.query.local import LocalEngine
from clickstream.adapters.query.unload import MAX_PARTITIONS, Unload, partitions_select


def test_the_statement_reads_back_as_written() -> None:
    unload = Unload("SELECT a, dt FROM t WHERE x = 'y'", "s3://b/p/v=1/", ("dt",))
    text = unload.sql()
    assert text == (
        "UNLOAD (SELECT a, dt FROM t WHERE x = 'y') TO 's3://b/p/v=1/' "
        "WITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['dt'])"
    )
    assert Unload.parse(text) == unload
    assert Unload.parse("SELECT 1") is None
    quarantine = "UNLOAD (SELECT 1) TO 's3://b/p/' WITH (format = 'JSON', compression = 'GZIP')"
    assert Unload.parse(quarantine) == Unload("SELECT 1", "s3://b/p/", (), "GZIP", "JSON")
    with pytest.raises(ValueError, match="UNLOAD must read"):
        Unload.parse("UNLOAD (SELECT 1) TO 's3://b/p/' WITH (format = 'ORC', compression = 'ZLIB')")
    with pytest.raises(ValueError, match="must end with /"):
        Unload("SELECT 1", "s3://b/p", ())


def test_partition_columns_go_last_as_athena_requires() -> None:
    assert partitions_select("SELECT * FROM t;", ["dt", "a", "b"], ["dt"]) == (
        'SELECT "a", "b", "dt" FROM (SELECT * FROM t) AS unloaded'
    )


def _engine() -> LocalEngine:
    rows = pa.table(
        {
            "dt": ["2026-11-22", "2026-11-22", "2026-11-23"],
            "n": [1, 2, 3],
            "url": ["/a", "/b", "/a"],
        }
    )
    return LocalEngine.over({"t": rows})


def test_the_local_engine_writes_hive_folders_without_the_partition_column(tmp_path: Path) -> None:
    location = f"{tmp_path}/out/"
    select = partitions_select("SELECT dt, n, url FROM t WHERE n > 0", ["dt", "n", "url"], ["dt"])

    out = _engine().execute(Unload(select, location, ("dt",)).sql())

    assert out.num_rows == 0, "like Athena: the rows are in the location, not in a result set"
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.parquet"))
    assert files == ["dt=2026-11-22/part-0.parquet", "dt=2026-11-23/part-0.parquet"]
    first = pq.read_table(tmp_path / "out" / files[0])
    assert first.column_names == ["n", "url"] and sorted(first["n"].to_pylist()) == [1, 2]
    back = ds.dataset(str(tmp_path / "out"), format="parquet", partitioning="hive").to_table()
    assert sorted(back["n"].to_pylist()) == [1, 2, 3]


def test_a_location_that_holds_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out" / "dt=2026-11-22").mkdir(parents=True)
    (tmp_path / "out" / "dt=2026-11-22" / "old.parquet").write_bytes(b"x")
    select = partitions_select("SELECT dt, n FROM t", ["dt", "n"], ["dt"])
    with pytest.raises(QueryError, match="not empty"):
        _engine().execute(Unload(select, f"{tmp_path}/out/", ("dt",)).sql())


def test_more_partitions_than_athena_writes_in_one_statement_are_refused(tmp_path: Path) -> None:
    many = pa.table({"k": [f"{i:04d}" for i in range(MAX_PARTITIONS + 1)], "n": list(range(MAX_PARTITIONS + 1))})
    engine = LocalEngine.over({"t": many})
    select = partitions_select("SELECT k, n FROM t", ["k", "n"], ["k"])
    with pytest.raises(QueryError, match=f"at most {MAX_PARTITIONS} partitions"):
        engine.execute(Unload(select, f"{tmp_path}/out/", ("k",)).sql())
    # and exactly the limit is fine
    engine = LocalEngine.over({"t": many.slice(0, MAX_PARTITIONS)})
    engine.execute(Unload(select, f"{tmp_path}/ok/", ("k",)).sql())
    assert len(list((tmp_path / "ok").glob("k=*"))) == MAX_PARTITIONS


def test_a_select_without_the_partition_column_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="no partition column dt"):
        _engine().execute(Unload("SELECT n FROM t", f"{tmp_path}/out/", ("dt",)).sql())


def test_the_local_engine_writes_json_lines_gzip_leaving_nulls_out(tmp_path: Path) -> None:
    import gzip
    import json

    engine = LocalEngine.over({"t": pa.table({"a": [1, None], "b": ["x,y", None]})})
    select = "SELECT a, split(b, ',') AS parts, CAST(from_iso8601_timestamp('2026-11-22T10:00:00Z') AS timestamp) AS at FROM t ORDER BY a"
    engine.execute(Unload(select, f"{tmp_path}/q/", (), "GZIP", "JSON").sql())

    (path,) = (tmp_path / "q").iterdir()
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert rows[0] == {"a": 1, "parts": ["x", "y"], "at": "2026-11-22T10:00:00+00:00"}
    assert rows[1] == {"at": "2026-11-22T10:00:00+00:00"}  # a NULL is left out, as Athena writes JSON


def test_the_local_engine_marks_plain_timestamps_utc_in_parquet(tmp_path: Path) -> None:
    engine = LocalEngine.over({"t": pa.table({"a": [1]})})
    select = "SELECT a, CAST(from_iso8601_timestamp('2026-11-22T10:00:00Z') AS timestamp) AS at FROM t"
    engine.execute(Unload(select, f"{tmp_path}/p/").sql())

    (path,) = (tmp_path / "p").iterdir()
    table = pq.read_table(path)
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.column("at")[0].as_py().isoformat() == "2026-11-22T10:00:00+00:00"


def _files(root: Path) -> dict[str, int]:
    """{relative path: rows} of the Parquet files under `root`."""
    return {p.relative_to(root).as_posix(): pq.read_metadata(p).num_rows for p in sorted(root.rglob("*.parquet"))}


def test_rows_sorted_by_partition_give_one_file_and_one_row_group_each(tmp_path: Path) -> None:
    rows = pa.table({"dt": ["a"] * 3 + ["b"] * 2, "hour": ["01", "01", "02", "01", "01"], "n": [1, 2, 3, 4, 5]})
    engine = LocalEngine.over({"t": rows})
    select = "SELECT n, dt, hour FROM t ORDER BY dt, hour, n"
    engine.execute(Unload(select, f"{tmp_path}/o/", ("dt", "hour"), compression_level=7).sql())

    assert _files(tmp_path / "o") == {
        "dt=a/hour=01/part-0.parquet": 2,
        "dt=a/hour=02/part-0.parquet": 1,
        "dt=b/hour=01/part-0.parquet": 2,
    }
    meta = pq.read_metadata(tmp_path / "o/dt=a/hour=01/part-0.parquet")
    assert meta.num_row_groups == 1 and meta.row_group(0).column(0).compression == "ZSTD"
    assert meta.schema.names == ["n"]


def test_unsorted_rows_still_land_whole_and_a_file_holds_at_most_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clickstream.adapters.query import local

    monkeypatch.setattr(local, "MAX_ROWS_PER_FILE", 2)
    rows = pa.table({"dt": ["a", "b", "a", "a", "a"], "n": [1, 2, 3, 4, 5]})
    LocalEngine.over({"t": rows}).execute(Unload("SELECT n, dt FROM t", f"{tmp_path}/o/", ("dt",)).sql())

    files = _files(tmp_path / "o")
    assert max(files.values()) <= 2 and sum(files.values()) == 5
    back = ds.dataset(str(tmp_path / "o"), format="parquet", partitioning="hive").to_table()
    assert sorted(zip(back["dt"].to_pylist(), back["n"].to_pylist(), strict=True)) == [
        ("a", 1),
        ("a", 3),
        ("a", 4),
        ("a", 5),
        ("b", 2),
    ]

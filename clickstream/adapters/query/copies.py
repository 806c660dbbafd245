"""Parquet tables for DuckDB's own reader: local copies of the lake's files, and the view over them.

DuckDB's S3 reader (the httpfs extension) cannot be installed offline, and reading S3 through a
pyarrow dataset costs memory DuckDB does not govern: pyarrow reads ahead several files and
batches, whatever DuckDB's `memory_limit` (docs/BENCHMARKS.md "The local engine reads Parquet
itself"). So the local engine copies the files a statement reads into a folder of its own, once
per file version (the listing's size and modification time), and DuckDB's `read_parquet` scans
them within its memory limit and on every core, as Athena scans S3. The copies are the engine's:
they live as long as it, and the least recently used go when they pass `MAX_BYTES`. An engine's
folder is named after its process, and the next engine removes those of processes that are gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Final, TypeAlias

from clickstream.adapters.query.engine import QueryError
from clickstream.adapters.query.sources import DataFile, ParquetFiles
from clickstream.sqlfiles import literal, quote

# Writes the object at a path (bucket/key) into a file. It must read ONE version of the object (one
# GetObject): a read in ranges can mix two versions of a file rewritten in place, and the copy
# would be kept as the version the listing named.
Fetch: TypeAlias = Callable[[str, BinaryIO], None]
MAX_BYTES: Final = 4 * 1024**3  # the copies an engine keeps between statements (more while one needs them)
COPY_THREADS: Final = 8  # GETs are latency-bound


class LakeCopies:
    """One engine's local copies of lake files, keyed by path; a copy is fresh while its size and
    modification time are the listing's."""

    def __init__(self, *, max_bytes: int = MAX_BYTES, parent: str | None = None) -> None:
        parent = parent or os.path.join(tempfile.gettempdir(), f"clickstream-lake-copies-{os.getuid()}")
        os.makedirs(parent, exist_ok=True)
        _sweep(parent)
        self.root = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._held: OrderedDict[str, tuple[int, int]] = OrderedDict()  # path -> (size, mtime), oldest use first
        self._in_use: Counter[str] = Counter()
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)

    def local_path(self, path: str) -> str:
        """Where `path` (bucket/key) is copied; a key that would lead out of the folder (`..`) is refused."""
        target = os.path.normpath(os.path.join(self.root, path.lstrip("/")))
        if not target.startswith(self.root + os.sep):
            raise QueryError(f"{path!r}: an object key with '..' cannot be copied for the local engine")
        return target

    def checkout(self, fetch: Fetch, files: Sequence[DataFile]) -> list[str]:
        """Local paths of `files`, copied (`fetch(path, into)`) where missing or stale; held until `release`."""
        with self._lock:
            for f in files:
                self._in_use[f.path] += 1
            missing = [f for f in files if self._held.get(f.path) != (f.size, f.mtime_ns)]
        try:
            if missing:
                with ThreadPoolExecutor(max_workers=min(COPY_THREADS, len(missing))) as pool:
                    list(pool.map(lambda f: self._copy(fetch, f), missing))
        except BaseException:
            self.release(files)
            raise
        with self._lock:
            for f in files:
                self._held[f.path] = (f.size, f.mtime_ns)
                self._held.move_to_end(f.path)
            self._evict()
        return [self.local_path(f.path) for f in files]

    def release(self, files: Sequence[DataFile]) -> None:
        with self._lock:
            for f in files:
                self._in_use[f.path] -= 1
                if self._in_use[f.path] <= 0:
                    del self._in_use[f.path]
            self._evict()

    def close(self) -> None:
        self._cleanup()

    def _copy(self, fetch: Fetch, f: DataFile) -> None:
        target = self.local_path(f.path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = f"{target}.{threading.get_ident()}.partial"
        with open(partial, "wb") as out:
            fetch(f.path, out)
        os.replace(partial, target)  # a reader of the old copy keeps its open file

    def _evict(self) -> None:
        """Drop the least recently used copies no statement holds, down to `max_bytes` (the lock is held)."""
        total = sum(size for size, _ in self._held.values())
        for path in list(self._held):
            if total <= self._max_bytes:
                return
            if self._in_use[path]:
                continue
            total -= self._held.pop(path)[0]
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.local_path(path))


def _sweep(parent: str) -> None:
    """Remove the copies of engines whose process is gone (killed: its cleanup never ran)."""
    for entry in os.scandir(parent):
        pid = entry.name.split("-", 1)[0]
        if entry.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def scan_groups(table: ParquetFiles, paths: Sequence[str]) -> list[tuple[list[str], dict[str, str] | None]]:
    """The files in groups of one scan each, as (paths, partition values or None).

    DuckDB's hive partitioning needs every file of a scan to spell the same k=v/ keys in its path.
    Files that spell the table's partition keys are grouped by the keys they spell (a layout with
    versions, `v=…/dt=…/`, beside one without) and read their values from the path (None); files
    whose paths do not spell them are grouped by partition, with the values Glue registered."""
    hive: dict[tuple[str, ...], list[str]] = {}
    other: dict[tuple[str, ...], tuple[list[str], dict[str, str]]] = {}
    for f, path in zip(table.files, paths, strict=True):
        spelled = tuple(part.split("=", 1)[0] for part in os.path.dirname(path).split(os.sep) if "=" in part)
        if set(table.partition_keys) <= set(spelled):
            hive.setdefault(spelled, []).append(path)
        else:
            values = tuple(f.values.get(k, "") for k in table.partition_keys)
            other.setdefault(values, ([], dict(f.values)))[0].append(path)
    return [(group, None) for group in hive.values()] + list(other.values())


def parquet_select(
    table: ParquetFiles, paths: Sequence[str], values: dict[str, str] | None, present: set[str], types: dict[str, str]
) -> str:
    """One scan of `table`'s files as its columns: the Glue columns in order (NULL where no file
    has one), then the partition keys as strings, from the paths (`values` None) or as given."""
    names = [n for n, _ in table.columns] or sorted(present - set(table.partition_keys))
    select = [quote(n) if n in present else f"CAST(NULL AS {types.get(n, 'VARCHAR')}) AS {quote(n)}" for n in names]
    if values is None:
        select += [quote(k) for k in table.partition_keys]
    else:
        select += [f"{literal(values.get(k, ''))} AS {quote(k)}" for k in table.partition_keys]
    return f"SELECT {', '.join(select)} FROM {parquet_scan(paths, hive=values is None)}"


def parquet_scan(paths: Sequence[str], *, hive: bool = True) -> str:
    """DuckDB's scan of the files: columns by name across files; with `hive`, the k=v/ folders as
    string columns."""
    listed = ", ".join(literal(p) for p in paths)
    partitioning = "hive_partitioning = true, hive_types_autocast = false" if hive else "hive_partitioning = false"
    return f"read_parquet([{listed}], {partitioning}, union_by_name = true)"

"""The local engine's copies of lake files: one copy per file version, the least recently used
dropped past the limit but never while a statement holds it, and gone with the engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from clickstream.adapters.query.copies import LakeCopies
from clickstream.adapters.query.sources import DataFile


def _file(root: Path, key: str, body: bytes) -> DataFile:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    stat = path.stat()
    return DataFile(str(path), {}, stat.st_size, stat.st_mtime_ns)


class _Fs:
    """Fetches from the local disk standing in for the lake, recording each object it reads."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def __call__(self, path: str, into: BinaryIO) -> None:
        self.reads.append(path)
        into.write(Path(path).read_bytes())


def test_a_file_is_copied_once_per_version(tmp_path: Path) -> None:
    fs, copies = _Fs(), LakeCopies(parent=str(tmp_path))
    a = _file(tmp_path / "lake", "t/dt=1/a.parquet", b"one")
    [local] = copies.checkout(fs, [a])
    copies.release([a])
    assert Path(local).read_bytes() == b"one" and local.startswith(copies.root) and "dt=1" in local
    copies.checkout(fs, [a])  # the same size and time: the copy is fresh
    copies.release([a])
    assert len(fs.reads) == 1
    changed = _file(tmp_path / "lake", "t/dt=1/a.parquet", b"two!")  # rewritten in place
    [again] = copies.checkout(fs, [changed])
    assert Path(again).read_bytes() == b"two!" and len(fs.reads) == 2


def test_the_least_recently_used_copies_go_past_the_limit_but_not_while_held(tmp_path: Path) -> None:
    fs, copies = _Fs(), LakeCopies(parent=str(tmp_path), max_bytes=10)
    a, b, c = (_file(tmp_path / "lake", f"t/{n}.parquet", b"123456") for n in "abc")
    [pa_] = copies.checkout(fs, [a])
    [pb] = copies.checkout(fs, [b])  # 12 bytes held: a is over the limit but still held
    assert os.path.exists(pa_) and os.path.exists(pb)
    copies.release([a])  # a is no longer held: the oldest goes
    assert not os.path.exists(pa_) and os.path.exists(pb)
    copies.release([b])
    [pc] = copies.checkout(fs, [c])
    copies.release([c])
    assert not os.path.exists(pb) and os.path.exists(pc)


def test_the_copies_go_with_the_engine(tmp_path: Path) -> None:
    copies = LakeCopies(parent=str(tmp_path))
    copies.checkout(_Fs(), [_file(tmp_path / "lake", "t/a.parquet", b"x")])
    root = copies.root
    copies.close()
    assert not os.path.exists(root)


def test_the_copies_of_a_killed_process_are_removed_by_the_next_engine(tmp_path: Path) -> None:
    import subprocess
    import sys

    # GIVEN the folder a process left when it was killed (its cleanup never ran) ...
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{gone.stdout.strip()}-abc"
    (stale / "bucket").mkdir(parents=True)
    # ... and the folder of a live engine in another process (this one stands in for it)
    live = LakeCopies(parent=str(tmp_path))
    LakeCopies(parent=str(tmp_path))
    assert not stale.exists() and os.path.isdir(live.root)


def test_a_key_that_leads_out_of_the_copies_folder_is_refused(tmp_path: Path) -> None:
    import pytest

    from clickstream.adapters.query import QueryError

    copies = LakeCopies(parent=str(tmp_path))
    with pytest.raises(QueryError, match="cannot be copied"):
        copies.local_path("bucket/curated/../../../../etc/passwd")
    assert copies.local_path("bucket/curated/a..b/x.parquet").startswith(copies.root)

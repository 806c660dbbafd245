"""An export of 1,000,000 events streams in bounded memory: the API runs in a uvicorn subprocess
and its peak RSS (VmHWM from /proc/<pid>/status) is compared with the bytes it sent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support.metrics_lake import register_curated
from support.ports import free_port

from clickstream.adapters.query import s3_filesystem
from clickstream.api.lake import default_schema
from clickstream.jobs import compact_write as w
from clickstream.settings import Settings

pytestmark = pytest.mark.slow  # a million-row export

ROWS = 1_000_000
FILES = 1  # one file of 1 M rows in one row group, as compaction writes a full hour: the worst case
KEY = {"X-API-Key": "local-read-key"}
MAX_GROWTH_MB = 150  # peak RSS above the warmed-up server (measured: +45 MB for 412 MB of NDJSON)


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _write_million(settings: Settings) -> None:
    """1,000,000 curated events in one Parquet file, encoded as the compaction encodes (built
    column-wise: no Python rows)."""
    fs = s3_filesystem(settings)
    schema = default_schema()
    per = ROWS // FILES
    types = np.array(["page_view", "click", "scroll", "purchase"])
    for f in range(FILES):
        idx = np.arange(f * per, (f + 1) * per)
        start = np.datetime64(f"2026-11-20T{f:02d}:00:00", "ms")
        columns = {
            "event_id": pa.array(np.char.add("e-", idx.astype(str))),
            "event_type": pa.array(types[idx % 4]),
            "user_id": pa.array(np.char.add("u", (idx % 5000).astype(str))),
            "session_id": pa.array(np.char.add("s", (idx % 20000).astype(str))),
            "event_time": pa.array(start + (idx % 3_600_000).astype("timedelta64[ms]")).cast(
                schema.field("event_time").type
            ),
            "url": pa.array(np.char.add("/page/", (idx % 50).astype(str))),
            "http_status": pa.array(np.full(per, 200, dtype=np.int16)),
        }
        arrays = [columns.get(fld.name, pa.nulls(per, fld.type)) for fld in schema]
        table = pa.Table.from_arrays(arrays, schema=schema)
        path = f"{settings.names.bucket}/curated/events/dt=2026-11-20/hour={f:02d}/part-0.parquet"
        pq.write_table(table, path, filesystem=fs, row_group_size=w.ROW_GROUP_ROWS, compression=w.COMPRESSION,
                       compression_level=w.COMPRESSION_LEVEL)  # fmt: skip
    register_curated(settings, [("2026-11-20", f"{f:02d}") for f in range(FILES)])


@pytest.fixture
def api_server(settings: Settings) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "clickstream.api.app:app_from_env",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the API server did not start")
        time.sleep(0.2)
    yield url, proc.pid
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.timeout(600)
def test_export_of_a_million_events_streams_in_bounded_memory(settings: Settings, api_server: tuple[str, int]) -> None:
    url, pid = api_server
    _write_million(settings)
    # warm up: imports, clients, the first small export
    warm = httpx.get(f"{url}/v1/export?format=ndjson&from=2026-11-20T00:00:00Z&to=2026-11-20T00:00:01Z",
                     headers=KEY, timeout=60)  # fmt: skip
    assert warm.status_code == 200
    baseline_kb = _kb(pid, "VmHWM")
    rows = 0
    sent = 0
    params = {"format": "ndjson", "from": "2026-11-20", "to": "2026-11-21"}
    with httpx.stream("GET", f"{url}/v1/export", params=params, headers=KEY, timeout=300) as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_bytes():
            rows += chunk.count(b"\n")
            sent += len(chunk)
    peak_kb = _kb(pid, "VmHWM")
    growth_mb = (peak_kb - baseline_kb) / 1024
    print(f"\nexport: {rows} rows, {sent / 1e6:.0f} MB sent; server VmHWM {baseline_kb / 1024:.0f} MB -> "
          f"{peak_kb / 1024:.0f} MB (+{growth_mb:.0f} MB)")  # fmt: skip
    assert rows == ROWS
    assert growth_mb < MAX_GROWTH_MB
    assert growth_mb * 1e6 < sent / 4  # far below what materialising the export would take

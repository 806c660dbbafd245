"""Versions of the curated table's partitions: where a publish writes, what readers read, what is deleted.

ADR 0008 (docs/adr/0008-curated-table-format.md). Each publish of a partition writes a new prefix,

    curated/events/v=20261122T080501123456Z-scheduled__…/dt=2026-11-22/hour=07/part-00000.parquet

and then re-points the partition's Glue location to it, so a reader (Athena, the local engine, the
API) resolves each partition once and reads it whole, old or new, never a mix.

The batch metric tables (`metric_<name>`) are versioned the same way, by day: the batch metrics
job UNLOADs each run's days into a new version and re-points their partitions.

A version that readers may still hold is deleted later, never at once: a **retirement** object
(`manifests/compact_raw_events/retired/…` for events, `retired_root(table)` for each table)
names the version and when it may go. Before a
partition's new version is written, the job retires both the new version (so a run that dies
before its Glue swap leaves nothing behind for long) and the current one (or the files of a
partition published before versions existed); after the swap it withdraws the new version's.

`sweep_retired` deletes each due version that Glue does not point to, and its retirement object;
a retirement of the version Glue points to (the swap failed, or it was withdrawn too late) is
just dropped. A version is due `RETIRE_AFTER` after the publish that replaced it started: the
longest Athena DML query plus a margin for the publish itself, so a query that resolved the old
location before the swap still finds its files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlparse

from clickstream import constants as c
from clickstream.adapters.s3 import LakeObjects
from clickstream.catalog import VERSION_KEY, TableDef

log = logging.getLogger(__name__)

# Athena cancels a DML query after its timeout: 30 minutes by default, at most 240 on request.
# A replaced version outlives the longest possible query.
ATHENA_MAX_DML_TIMEOUT: Final = timedelta(seconds=c.ATHENA_DML_TIMEOUT_MAX_S)
# Retirements are dated from the start of a publish, and the swap comes after every version is
# written: a margin for that (the compaction task's own time, minutes at the hour sizes of ADR 0008).
PUBLISH_MARGIN: Final = timedelta(minutes=60)
RETIRE_AFTER: Final = ATHENA_MAX_DML_TIMEOUT + PUBLISH_MARGIN
RETIRED_PREFIX: Final = f"{c.MANIFESTS_PREFIX}/{c.COMPACTION_JOB}/retired/"
_STAMP: Final = "%Y%m%dT%H%M%S%fZ"


def version_name(now: datetime, safe_run: str) -> str:
    """`20261122T080501123456Z-<run>`: sorts by time; unique per publish (a rerun of the same run
    id is another version, so it never overwrites files readers may hold)."""
    return f"{now.astimezone(UTC):{_STAMP}}-{safe_run}"


def retired_root(table: TableDef) -> str:
    """Where the retirements of `table`'s versions are kept: the compaction job's folder for the
    events, one folder per metric table under the batch metrics job's."""
    if table.prefix == c.CURATED_EVENTS_PREFIX:
        return RETIRED_PREFIX
    return f"{c.MANIFESTS_PREFIX}/{c.BATCH_METRICS_JOB}/retired/{table.name}/"


@dataclass(frozen=True)
class Retired:
    """A version (or the unversioned files of a partition) to delete once `due`, unless current."""

    partition: tuple[str, ...]
    prefix: str  # key prefix of the version; for `legacy`, the partition prefix
    due: datetime
    legacy: bool = False  # only the partition's own files, none of its v=… folders
    root: str = RETIRED_PREFIX  # retired_root(table)

    def key(self) -> str:
        name = "legacy" if self.legacy else version_of(self.prefix)
        return f"{self.root}{self.due:{_STAMP}}/{'/'.join(self.partition)}/{name}.json"

    def body(self) -> bytes:
        fields = {"partition": list(self.partition), "prefix": self.prefix, "due": self.due.isoformat()}
        return json.dumps({**fields, "legacy": self.legacy}).encode()

    @classmethod
    def parse(cls, body: bytes) -> Retired:
        data = json.loads(body)
        due = datetime.fromisoformat(data["due"])
        return cls(tuple(data["partition"]), data["prefix"], due, bool(data.get("legacy")))


def key_prefix(location: str, bucket: str) -> str | None:
    """`curated/events/…/` of `s3://<bucket>/curated/events/…/`; None for another bucket."""
    url = urlparse(location)
    if url.scheme != "s3" or url.netloc != bucket:
        return None
    path = url.path.lstrip("/")
    return path if path.endswith("/") else f"{path}/"


def partition_files(store: LakeObjects, table: TableDef, values: Mapping[str, str], location: str | None) -> list[str]:
    """The Parquet keys of one partition's current version: everything under its Glue location (as
    Athena reads it). For a partition Glue does not know, or knows at its Hive prefix (published
    before versions existed), the files directly under that prefix, none of its versions. Sorted."""
    prefix = key_prefix(location, store.bucket) if location else None
    base = table.partition_prefix(dict(values))
    if prefix is not None and prefix != base:
        return sorted(k for k in store.list_keys(prefix) if k.endswith(".parquet"))
    return sorted(k for k in store.list_keys(base) if k.endswith(".parquet") and "/" not in k[len(base) :])


def retire(store: LakeObjects, retired: Retired) -> None:
    store.put(retired.key(), retired.body(), content_type="application/json")


def sweep_retired(
    store: LakeObjects,
    table: TableDef,
    locate: Callable[[Sequence[str]], Mapping[tuple[str, ...], str]],
    *,
    now: datetime,
) -> list[str]:
    """Delete every due retired version that Glue does not point to, and its retirement object.

    `locate(days)` gives {partition values: Glue location} of those days. A version with a later
    retirement still pending (replaced again, or retired twice) waits for that one. Returns the
    deleted prefixes.
    """
    root = retired_root(table)
    entries = [(k, *_parse_key(k, root)) for k in sorted(store.list_keys(root))]
    latest: dict[tuple[tuple[str, ...], str], datetime] = {}
    for _, due, partition, name in entries:
        latest[(partition, name)] = max(due, latest.get((partition, name), due))
    due_now = [e for e in entries if e[1] <= now]
    if not due_now:
        return []
    current = locate(sorted({partition[0] for _, _, partition, _ in due_now}))
    deleted: list[str] = []
    for key, _, partition, name in due_now:
        retired = Retired.parse(store.get(key))
        location = current.get(partition)
        is_current = location is not None and key_prefix(location, store.bucket) == retired.prefix
        if not is_current and latest[(partition, name)] <= now:
            if retired.legacy:
                keys = [k for k in store.list_keys(retired.prefix) if "/" not in k[len(retired.prefix) :]]
            else:
                keys = list(store.list_keys(retired.prefix))
            store.delete(keys)
            deleted.append(retired.prefix)
        store.delete([key])
    if deleted:
        log.info("deleted %d retired versions of %s: %s", len(deleted), table.name, ", ".join(deleted[:5]))
    return deleted


def _parse_key(key: str, root: str) -> tuple[datetime, tuple[str, ...], str]:
    """(due, partition values, version name or "legacy") of a retirement object's key."""
    parts = key[len(root) :].split("/")
    due = datetime.strptime(parts[0], _STAMP).replace(tzinfo=UTC)
    return due, tuple(parts[1:-1]), parts[-1].removesuffix(".json")


def version_of(key: str) -> str:
    """The version a curated key or prefix belongs to (`curated/events/v=<version>/…`), or "legacy"."""
    marker = f"/{VERSION_KEY}="
    at = key.find(marker)
    return key[at + len(marker) :].split("/", 1)[0] if at >= 0 else "legacy"


def retirements(
    partition: Sequence[str],
    *,
    new_prefix: str,
    old_prefix: str | None,
    legacy: bool,
    now: datetime,
    root: str = RETIRED_PREFIX,
) -> tuple[Retired, Retired | None]:
    """(the new version's own retirement, due if its swap never happens; the replaced one's)."""
    mine = Retired(tuple(partition), new_prefix, now + RETIRE_AFTER, root=root)
    old = Retired(tuple(partition), old_prefix, now + RETIRE_AFTER, legacy, root=root) if old_prefix else None
    return mine, old

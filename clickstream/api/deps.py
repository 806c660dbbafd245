"""Wiring: the API's readers built from settings, once per process (never at import time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from clickstream.api.lake import LakeEvents
from clickstream.api.reader import ServingReader
from clickstream.api.recent import RecentEvents
from clickstream.api.shared_reads import SharedBatch, SharedCache, SharedSpeed
from clickstream.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ApiDeps:
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)

    @cached_property
    def realtime(self) -> Any:
        from clickstream.adapters import _clients
        from clickstream.adapters.dynamodb import CountersTable

        return CountersTable(self.settings.names.realtime_table, client=_clients.client("dynamodb", self.settings))

    @cached_property
    def batch(self) -> Any:
        from clickstream.adapters.dynamodb import BatchView

        return BatchView(self.settings)

    @cached_property
    def shared(self) -> SharedCache[Any]:
        return SharedCache(self.settings.api_cache_ms / 1000)

    @cached_property
    def reader(self) -> ServingReader:
        return ServingReader(SharedSpeed(self.realtime, self.shared), SharedBatch(self.batch, self.shared))

    @cached_property
    def fs(self) -> Any:
        from clickstream.adapters.query import s3_filesystem

        return s3_filesystem(self.settings)

    @cached_property
    def lake(self) -> LakeEvents:
        from functools import partial

        from clickstream.adapters.glue import glue_catalog
        from clickstream.catalog import EVENTS

        limits = self.settings.limits
        partitions = partial(glue_catalog(self.settings).partition_locations, self.settings.names.glue_database)
        return LakeEvents(
            self.fs,
            self.settings.names.bucket,
            lateness_s=limits.lateness_seconds,
            skew_s=limits.clock_skew_seconds,
            locate=lambda days: partitions(EVENTS.name, days=days),
        )

    @cached_property
    def recent(self) -> RecentEvents:
        from clickstream.adapters import _clients
        from clickstream.adapters.dynamodb import RecentFeed

        client = _clients.client("dynamodb", self.settings)
        feed = RecentFeed(self.settings.names.realtime_table, client=client, clock=lambda: self.clock().timestamp())
        return RecentEvents(feed)

    @cached_property
    def objects(self) -> Any:
        from clickstream.adapters.s3 import lake_objects

        return lake_objects(self.settings)

    @cached_property
    def engine(self) -> Any:
        from clickstream.adapters.query import query_engine

        return query_engine(self.settings)

    def latest_run(self, job: str) -> dict[str, Any] | None:
        from clickstream.adapters.dynamodb import latest_run

        return latest_run(self.settings, job)

    def close(self) -> None:
        if "realtime" in self.__dict__:
            self.realtime.close()
        if "engine" in self.__dict__:
            self.engine.close()
